//! The viewer's error type: every variant names what was wrong and where.

use std::path::PathBuf;

/// What can go wrong while opening a rollout or writing a screenshot.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    /// The rollout directory (or a file in it) does not exist.
    #[error("no rollout at {path}: {reason}")]
    MissingRollout { path: PathBuf, reason: String },
    /// The rollout exists but its contents cannot be used.
    #[error("malformed rollout at {path}: {reason}")]
    MalformedRollout { path: PathBuf, reason: String },
    /// The rollout's parts disagree with each other (lengths, sizes).
    #[error("inconsistent rollout: {0}")]
    Inconsistent(String),
    /// A step index outside the rollout.
    #[error("step {step} is outside the rollout (it has {steps} steps, 0..={last})", last = steps.saturating_sub(1))]
    StepOutOfRange { step: usize, steps: usize },
    /// A PNG could not be read or written.
    #[error("image error on {path}: {reason}")]
    Image { path: PathBuf, reason: String },
    /// A file could not be read or written.
    #[error("io error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}
