//! The error type of the model side of the crate: configuration, codecs, the DiT,
//! its sampler and its trainer. Every variant names what was wrong.

use thiserror::Error;

/// What went wrong in the model, the codec, the sampler or the trainer.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A tensor operation failed (shapes that do not fit, a device error).
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A model or training configuration that cannot be built.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// An input of the wrong shape.
    #[error("{what}: expected shape {expected}, got {got}")]
    Shape {
        what: &'static str,
        expected: String,
        got: String,
    },
    /// An action that is not finite or outside the action space.
    #[error("invalid action: {0}")]
    InvalidAction(String),
    /// Data that cannot be trained on (too short, empty, inconsistent).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A configuration that is not valid JSON for this crate.
    #[error("config JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A checkpoint that cannot be written or restored.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

/// Shorthand for results of this part of the crate.
pub type ModelResult<T> = std::result::Result<T, ModelError>;

/// Builds a [`ModelError::Shape`] from the expected and actual dims.
pub(crate) fn shape_error(
    what: &'static str,
    expected: impl std::fmt::Debug,
    got: &[usize],
) -> ModelError {
    ModelError::Shape {
        what,
        expected: format!("{expected:?}"),
        got: format!("{got:?}"),
    }
}
