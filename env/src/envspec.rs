//! Env strings: how the command line names an env.
//!
//! ```text
//! physics:push-v0            rapier physics, variant `id`
//! physics:push-v0@ood        rapier physics, variant `ood`
//! push-v0                    the same as physics:push-v0
//! dream:push-v0@runs/push    the model in runs/push (a run or checkpoint
//!                            directory, or a file in it) dreaming push-v0 `id`
//! dream:push-v0:ood@models/push   the same from the `ood` variant's first frames
//! ```
//!
//! [`EnvString::build`] turns a parsed string into a boxed [`Env`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use candle_core::Device;

use crate::{DreamEnv, DreamModel, Env, EnvError, PhysicsEnv};

/// Which engine runs the env.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvKind {
    /// The scenario's rapier physics.
    Physics,
    /// The learned world model loaded from `model`.
    Dream { model: PathBuf },
}

/// A parsed env string (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvString {
    pub kind: EnvKind,
    /// Scenario id, e.g. `push-v0`.
    pub scenario: String,
    /// Scenario variant, `id` unless named.
    pub variant: String,
}

fn bad(text: &str, why: &str) -> EnvError {
    EnvError::BadConfig(format!(
        "env string {text:?}: {why} (expected physics:SCENARIO[@VARIANT] or \
         dream:SCENARIO[:VARIANT]@MODEL, e.g. dream:bounce-v0@models/bounce)"
    ))
}

fn check_scenario(text: &str, id: &str) -> Result<(), EnvError> {
    if somnium_scenarios::SCENARIO_IDS.contains(&id) {
        Ok(())
    } else {
        Err(bad(
            text,
            &format!(
                "unknown scenario {id:?} (known: {})",
                somnium_scenarios::SCENARIO_IDS.join(", ")
            ),
        ))
    }
}

impl FromStr for EnvString {
    type Err = EnvError;

    fn from_str(text: &str) -> Result<Self, EnvError> {
        let trimmed = text.trim();
        let (kind, rest) = match trimmed.split_once(':') {
            Some(("physics", rest)) => ("physics", rest),
            Some(("dream", rest)) => ("dream", rest),
            Some((other, _)) if !other.contains('@') && !other.contains('/') => {
                return Err(bad(text, &format!("unknown kind {other:?}")))
            }
            _ => ("physics", trimmed),
        };
        if kind == "physics" {
            let (id, variant) = rest.split_once('@').unwrap_or((rest, "id"));
            check_scenario(text, id)?;
            if variant.is_empty() {
                return Err(bad(text, "empty variant after '@'"));
            }
            return Ok(EnvString {
                kind: EnvKind::Physics,
                scenario: id.to_string(),
                variant: variant.to_string(),
            });
        }
        let (head, model) = rest
            .split_once('@')
            .ok_or_else(|| bad(text, "a dream needs a model: dream:SCENARIO@MODEL"))?;
        if model.is_empty() {
            return Err(bad(text, "empty model path after '@'"));
        }
        let (id, variant) = head.split_once(':').unwrap_or((head, "id"));
        check_scenario(text, id)?;
        Ok(EnvString {
            kind: EnvKind::Dream {
                model: PathBuf::from(model),
            },
            scenario: id.to_string(),
            variant: if variant.is_empty() { "id" } else { variant }.to_string(),
        })
    }
}

impl fmt::Display for EnvString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            EnvKind::Physics => write!(f, "physics:{}@{}", self.scenario, self.variant),
            EnvKind::Dream { model } => write!(
                f,
                "dream:{}:{}@{}",
                self.scenario,
                self.variant,
                model.display()
            ),
        }
    }
}

impl EnvString {
    /// Parses `text` (see the module docs).
    pub fn parse(text: &str) -> Result<Self, EnvError> {
        text.parse()
    }

    /// Builds a physics env rendering `size` `(height, width)` frames (64x64 by
    /// default), or loads the model onto `device` and builds a dream.
    pub fn build(
        &self,
        size: Option<(usize, usize)>,
        device: &Device,
    ) -> Result<Box<dyn Env>, EnvError> {
        Ok(match &self.kind {
            EnvKind::Physics => Box::new(self.build_physics(size)?),
            EnvKind::Dream { .. } => Box::new(self.build_dream(device)?),
        })
    }

    /// The physics env of this string's scenario and variant (also the twin of a dream).
    pub fn build_physics(&self, size: Option<(usize, usize)>) -> Result<PhysicsEnv, EnvError> {
        let (h, w) = size.unwrap_or((PhysicsEnv::DEFAULT_SIZE, PhysicsEnv::DEFAULT_SIZE));
        PhysicsEnv::make(&self.scenario, &self.variant, w, h)
    }

    /// The dream env; an error for a physics string.
    pub fn build_dream(&self, device: &Device) -> Result<DreamEnv, EnvError> {
        match &self.kind {
            EnvKind::Dream { model } => {
                let model = DreamModel::load(model, device)?;
                DreamEnv::make(&self.scenario, &self.variant, model)
            }
            EnvKind::Physics => Err(EnvError::BadConfig(format!(
                "{self} is a physics env; a dream is written dream:SCENARIO@MODEL"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_strings_parse_and_print() {
        let p = EnvString::parse("physics:push-v0").unwrap();
        assert_eq!(
            (p.kind.clone(), p.variant.as_str()),
            (EnvKind::Physics, "id")
        );
        assert_eq!(EnvString::parse("push-v0@ood").unwrap().variant, "ood");
        let d = EnvString::parse("dream:bounce-v0@runs/bounce/ckpt").unwrap();
        assert_eq!(
            d.kind,
            EnvKind::Dream {
                model: "runs/bounce/ckpt".into()
            }
        );
        let o = EnvString::parse("dream:bounce-v0:ood@models/bounce").unwrap();
        assert_eq!(o.variant, "ood");
        assert_eq!(EnvString::parse(&o.to_string()).unwrap(), o);
        assert_eq!(EnvString::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn bad_env_strings_name_the_problem() {
        for (text, needle) in [
            ("dream:bounce-v0", "needs a model"),
            ("physics:nope-v9", "unknown scenario"),
            ("quantum:bounce-v0", "unknown kind"),
            ("dream:bounce-v0@", "empty model"),
        ] {
            let err = EnvString::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn building_envs() {
        let env = EnvString::parse("physics:reach-v0")
            .unwrap()
            .build(Some((16, 24)), &Device::Cpu)
            .unwrap();
        assert_eq!(env.observation_space().frame_size(), (16, 24));
        let missing = EnvString::parse("dream:bounce-v0@/nonexistent/model")
            .unwrap()
            .build(None, &Device::Cpu)
            .err()
            .unwrap();
        assert!(
            missing.to_string().contains("no model checkpoint"),
            "{missing}"
        );
    }
}
