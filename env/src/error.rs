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
    #[error("world model error: {0}")]
    Model(String),
    #[error("rollout file error: {0}")]
    Rollout(#[from] crate::rollout::RolloutError),
}

impl From<somnium_world_model::model_error::ModelError> for EnvError {
    fn from(e: somnium_world_model::model_error::ModelError) -> Self {
        EnvError::Model(e.to_string())
    }
}

impl From<candle_core::Error> for EnvError {
    fn from(e: candle_core::Error) -> Self {
        EnvError::Model(format!("tensor operation failed: {e}"))
    }
}

impl From<somnium_world_model::eval_error::EvalError> for EnvError {
    fn from(e: somnium_world_model::eval_error::EvalError) -> Self {
        EnvError::Model(format!("measuring frames: {e}"))
    }
}
