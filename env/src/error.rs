//! [`EnvError`]: what can go wrong using an env.

use somnium_scenarios::ScenarioError;
use somnium_world_model::data::DataError;

/// Errors from envs, wrappers and the recorder; each names what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("step called {0}: call reset first")]
    NeedsReset(&'static str),
    #[error("bad action for {env}: {reason}")]
    BadAction { env: String, reason: String },
    #[error("scenario error: {0}")]
    Scenario(#[from] ScenarioError),
    #[error("dataset error: {0}")]
    Data(#[from] DataError),
    #[error("io error on {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("bad configuration: {0}")]
    BadConfig(String),
    #[error("sub-env {index} of the vector env failed: {source}")]
    SubEnv { index: usize, source: Box<EnvError> },
}
