//! [`ServerError`]: everything a request to the env server can get wrong, and
//! the gRPC status code each maps to. Errors travel to the client as a
//! `google.rpc.Status` inside the response stream; the stream stays open.

use somnium_scenarios::ScenarioError;
use tonic::Code;

use crate::EnvError;

/// Errors of the env server; each names what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("the request has no payload (set one of create_world, join_world, step, reset, reset_world, leave_world, destroy_world)")]
    EmptyRequest,
    #[error("{0} is not supported by the somnium server")]
    Unsupported(String),
    #[error("missing required world setting '{0}'")]
    MissingSetting(String),
    #[error("bad setting '{name}': {reason}")]
    BadSetting { name: String, reason: String },
    #[error("unknown setting '{name}' for {request} (known: {known})")]
    UnknownSetting {
        name: String,
        request: &'static str,
        known: String,
    },
    #[error("unknown scenario or variant: {0}")]
    UnknownScenario(String),
    /// Missing, outside the models directory, or not a checkpoint: one text for all.
    #[error("no model '{0}' in the server's models directory (name a model relative to it, e.g. 'bounce' or 'models/bounce')")]
    UnknownModel(String),
    #[error("model '{model}' could not be used: {reason}")]
    BadModel { model: String, reason: String },
    #[error("unknown world '{0}'")]
    UnknownWorld(String),
    #[error("too many worlds: the server holds at most {0}; destroy one first")]
    TooManyWorlds(usize),
    #[error("world '{0}' already has an agent joined (one agent per world)")]
    WorldBusy(String),
    #[error("world '{0}' has an agent joined: leave it before destroying it")]
    WorldInUse(String),
    #[error("already joined to world '{0}': leave it before joining again")]
    AlreadyJoined(String),
    #[error("{0} before JoinWorld: join a world first")]
    NotJoined(&'static str),
    #[error("unknown action uid {uid} (known: {known})")]
    UnknownAction { uid: u64, known: String },
    #[error("unknown observation uid {uid} (known: {known})")]
    UnknownObservation { uid: u64, known: String },
    #[error("bad action '{name}': {reason}")]
    BadAction { name: String, reason: String },
    #[error("action '{name}' out of range: {reason}")]
    ActionOutOfRange { name: String, reason: String },
    #[error("world '{0}' was freed after being idle for longer than the server's idle timeout")]
    WorldExpired(String),
    #[error("world '{world}' failed: {reason}")]
    WorldFailed { world: String, reason: String },
    #[error("env error: {0}")]
    Env(#[from] EnvError),
    #[error("server transport error: {0}")]
    Transport(String),
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}

impl ServerError {
    /// The gRPC status code that describes this error.
    pub fn code(&self) -> Code {
        use ServerError::*;
        match self {
            EmptyRequest
            | MissingSetting(_)
            | BadSetting { .. }
            | UnknownSetting { .. }
            | UnknownScenario(_)
            | UnknownModel(_)
            | BadModel { .. } => Code::InvalidArgument,
            UnknownAction { .. } | UnknownObservation { .. } | BadAction { .. } => {
                Code::InvalidArgument
            }
            ActionOutOfRange { .. } => Code::OutOfRange,
            Unsupported(_) => Code::Unimplemented,
            UnknownWorld(_) | WorldExpired(_) => Code::NotFound,
            TooManyWorlds(_) => Code::ResourceExhausted,
            WorldBusy(_) | WorldInUse(_) | AlreadyJoined(_) | NotJoined(_) => {
                Code::FailedPrecondition
            }
            Env(e) => env_error_code(e),
            WorldFailed { .. } | Transport(_) | Io(_) => Code::Internal,
        }
    }

    /// This error as the `google.rpc.Status` that an `EnvironmentResponse` carries.
    pub fn to_rpc_status(&self) -> tonic_types::Status {
        tonic_types::Status {
            code: self.code() as i32,
            message: self.message(),
            details: Vec::new(),
        }
    }

    /// This error as a tonic status (for errors that end a stream).
    pub fn to_tonic_status(&self) -> tonic::Status {
        tonic::Status::new(self.code(), self.message())
    }

    /// The text sent to the client: the error, cut to [`MAX_ERROR_MESSAGE`]
    /// bytes (errors echo names a client sent, which may be long).
    fn message(&self) -> String {
        let mut text = self.to_string();
        if text.len() > MAX_ERROR_MESSAGE {
            let mut end = MAX_ERROR_MESSAGE - 3;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push_str("...");
        }
        text
    }
}

/// Longest error message sent to a client, in bytes.
pub const MAX_ERROR_MESSAGE: usize = 2048;

fn env_error_code(e: &EnvError) -> Code {
    match e {
        EnvError::BadAction { .. } => Code::InvalidArgument,
        EnvError::Scenario(ScenarioError::BadAction(_)) => Code::InvalidArgument,
        EnvError::Scenario(
            ScenarioError::UnknownScenario(_) | ScenarioError::UnknownVariant { .. },
        ) => Code::InvalidArgument,
        EnvError::BadConfig(_) => Code::InvalidArgument,
        EnvError::NeedsReset(_) => Code::FailedPrecondition,
        _ => Code::Internal,
    }
}

/// Map an error from building an env: unknown scenarios and variants become
/// [`ServerError::UnknownScenario`], bad configs a bad setting.
pub(crate) fn from_make_error(e: EnvError) -> ServerError {
    match e {
        EnvError::Scenario(
            s @ (ScenarioError::UnknownScenario(_) | ScenarioError::UnknownVariant { .. }),
        ) => ServerError::UnknownScenario(s.to_string()),
        EnvError::Model(reason) => ServerError::BadSetting {
            name: "model".into(),
            reason,
        },
        EnvError::BadConfig(reason) => ServerError::BadSetting {
            name: "width/height".into(),
            reason,
        },
        other => ServerError::Env(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_grpc_meaning() {
        assert_eq!(ServerError::UnknownWorld("w".into()).code(), Code::NotFound);
        assert_eq!(
            ServerError::NotJoined("Step").code(),
            Code::FailedPrecondition
        );
        assert_eq!(
            ServerError::TooManyWorlds(2).code(),
            Code::ResourceExhausted
        );
        assert_eq!(
            ServerError::Unsupported("x".into()).code(),
            Code::Unimplemented
        );
        let status = ServerError::UnknownObservation {
            uid: 99,
            known: "1, 2".into(),
        }
        .to_rpc_status();
        assert_eq!(status.code, Code::InvalidArgument as i32);
        assert!(status.message.contains("99"));
    }

    #[test]
    fn long_error_messages_are_cut_on_a_character_boundary() {
        let name = "é".repeat(10_000);
        let status = ServerError::UnknownWorld(name).to_rpc_status();
        assert!(status.message.len() <= MAX_ERROR_MESSAGE);
        assert!(status.message.starts_with("unknown world 'é") && status.message.ends_with("..."));
    }

    #[test]
    fn unknown_scenarios_are_invalid_arguments() {
        let e = from_make_error(EnvError::Scenario(ScenarioError::UnknownScenario(
            "nope-v0".into(),
        )));
        assert!(matches!(e, ServerError::UnknownScenario(_)));
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.to_string().contains("nope-v0"));
    }
}
