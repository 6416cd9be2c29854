//! Env strings: `physics:<id>[@variant]` and `dream:<id>@MODEL`, parsed into an
//! [`EnvTarget`] and built into physics envs.

use std::fmt;
use std::path::PathBuf;

use somnium_env::{PhysicsEnv, VecEnv};
use somnium_scenarios::SCENARIO_IDS;

use crate::AgentError;

/// Which env an agent trains or is evaluated in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvTarget {
    /// Ground-truth physics: scenario `id` in `variant` (`id` by default).
    Physics { id: String, variant: String },
    /// The learned world model at `model` dreaming scenario `id`.
    Dream { id: String, model: PathBuf },
}

impl EnvTarget {
    /// Parse `physics:<id>[@variant]` or `dream:<id>@MODEL`; the error names what
    /// is wrong (unknown prefix, unknown scenario, missing model).
    pub fn parse(input: &str) -> Result<Self, AgentError> {
        let bad = |reason: String| AgentError::BadEnvString {
            input: input.to_string(),
            reason,
        };
        let (kind, rest) = input
            .split_once(':')
            .ok_or_else(|| bad("expected 'physics:<id>[@variant]' or 'dream:<id>@MODEL'".into()))?;
        let (id, suffix) = match rest.split_once('@') {
            Some((id, s)) => (id, Some(s)),
            None => (rest, None),
        };
        if !SCENARIO_IDS.contains(&id) {
            return Err(bad(format!(
                "unknown scenario '{id}' (known: {})",
                SCENARIO_IDS.join(", ")
            )));
        }
        match kind {
            "physics" => {
                let variant = suffix.unwrap_or("id");
                if variant.is_empty() {
                    return Err(bad("empty variant after '@'".into()));
                }
                Ok(EnvTarget::Physics {
                    id: id.into(),
                    variant: variant.into(),
                })
            }
            "dream" => match suffix {
                Some(model) if !model.is_empty() => Ok(EnvTarget::Dream {
                    id: id.into(),
                    model: PathBuf::from(model),
                }),
                _ => Err(bad("a dream env needs a model: 'dream:<id>@MODEL'".into())),
            },
            other => Err(bad(format!(
                "unknown env kind '{other}' (use 'physics' or 'dream')"
            ))),
        }
    }

    /// The scenario id.
    pub fn scenario_id(&self) -> &str {
        match self {
            EnvTarget::Physics { id, .. } | EnvTarget::Dream { id, .. } => id,
        }
    }

    /// One env rendering `size x size` frames.
    pub fn make_physics(&self, size: usize) -> Result<PhysicsEnv, AgentError> {
        match self {
            EnvTarget::Physics { id, variant } => Ok(PhysicsEnv::make(id, variant, size, size)?),
            EnvTarget::Dream { .. } => Err(AgentError::DreamUnavailable(self.to_string())),
        }
    }

    /// `n` envs rendering `size x size` frames, stepped in parallel.
    pub fn make_vec(&self, n: usize, size: usize) -> Result<VecEnv<PhysicsEnv>, AgentError> {
        let envs = (0..n)
            .map(|_| self.make_physics(size))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VecEnv::new(envs)?)
    }
}

impl fmt::Display for EnvTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvTarget::Physics { id, variant } => write!(f, "physics:{id}@{variant}"),
            EnvTarget::Dream { id, model } => write!(f, "dream:{id}@{}", model.display()),
        }
    }
}

impl std::str::FromStr for EnvTarget {
    type Err = AgentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physics_strings_parse_with_a_default_variant() {
        assert_eq!(
            EnvTarget::parse("physics:cartpole-v0").unwrap(),
            EnvTarget::Physics {
                id: "cartpole-v0".into(),
                variant: "id".into()
            }
        );
        let ood = EnvTarget::parse("physics:push-v0@ood").unwrap();
        assert_eq!(ood.to_string(), "physics:push-v0@ood");
        assert_eq!(EnvTarget::parse(&ood.to_string()).unwrap(), ood);
    }

    #[test]
    fn dream_strings_parse_but_cannot_be_built_yet() {
        let dream = EnvTarget::parse("dream:push-v0@runs/push/model").unwrap();
        assert_eq!(
            dream,
            EnvTarget::Dream {
                id: "push-v0".into(),
                model: "runs/push/model".into()
            }
        );
        let err = dream.make_physics(8).err().unwrap().to_string();
        assert!(err.contains("not available yet"), "{err}");
    }

    #[test]
    fn bad_strings_name_the_problem() {
        for (input, needle) in [
            ("cartpole-v0", "expected 'physics:"),
            ("physics:nope-v9", "unknown scenario 'nope-v9'"),
            ("sim:cartpole-v0", "unknown env kind 'sim'"),
            ("dream:cartpole-v0", "needs a model"),
            ("physics:cartpole-v0@", "empty variant"),
        ] {
            let err = EnvTarget::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
        let unknown_variant = EnvTarget::parse("physics:push-v0@huge").unwrap();
        assert!(unknown_variant.make_physics(8).is_err());
    }
}
