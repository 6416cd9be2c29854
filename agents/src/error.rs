//! [`AgentError`]: what can go wrong building, training or running an agent.

use somnium_env::EnvError;

/// Errors from policies, PPO, the planner and agent checkpoints; each names what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("env error: {0}")]
    Env(#[from] EnvError),
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error(
        "{0} is a dream: its observations are frames only, with no state vector; \
         use a pixel policy (--obs pixels) there"
    )]
    StateInDream(String),
    #[error("bad configuration: {0}")]
    BadConfig(String),
    #[error("the observation has no {0}: use the other observation kind")]
    MissingObservation(&'static str),
    #[error("{policy} cannot act here: {reason}")]
    Unsupported { policy: String, reason: String },
    #[error("bad checkpoint {path}: {reason}")]
    BadCheckpoint { path: String, reason: String },
    #[error("io error on {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("training diverged: {0}")]
    Diverged(String),
}

impl AgentError {
    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        AgentError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}
