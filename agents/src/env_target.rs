//! [`EnvTarget`]: the env an agent trains or is evaluated in, named by an env
//! string (`physics:<id>[@variant]`, `dream:<id>[:variant]@MODEL`; parsed by
//! [`somnium_env::EnvString`], the one parser the whole CLI uses), and built
//! into a vector env of either kind ([`AgentVecEnv`]).

use std::fmt;
use std::path::Path;

use candle_core::Device;
use somnium_env::{DreamModel, DreamVecEnv, EnvKind, EnvString, PhysicsEnv, Space, VecEnv};
use somnium_scenarios::SuccessRule;

use crate::{AgentError, AgentVecEnv, ObsKind};

/// Which env an agent trains or is evaluated in: a thin wrapper over [`EnvString`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvTarget {
    spec: EnvString,
}

impl EnvTarget {
    /// Parses an env string; the error (from [`EnvString`]) names what is wrong.
    pub fn parse(input: &str) -> Result<Self, AgentError> {
        Ok(EnvTarget {
            spec: EnvString::parse(input)?,
        })
    }

    /// The parsed env string.
    pub fn env_string(&self) -> &EnvString {
        &self.spec
    }

    /// The scenario id.
    pub fn scenario_id(&self) -> &str {
        &self.spec.scenario
    }

    /// The scenario variant.
    pub fn variant(&self) -> &str {
        &self.spec.variant
    }

    /// The model path of a dream (`None` for physics).
    pub fn model_path(&self) -> Option<&Path> {
        match &self.spec.kind {
            EnvKind::Dream { model } => Some(model),
            EnvKind::Physics => None,
        }
    }

    /// Whether this is a dream (a learned world model) rather than physics.
    pub fn is_dream(&self) -> bool {
        self.model_path().is_some()
    }

    /// The scenario's action space (read from a tiny physics twin; no model is loaded).
    pub fn action_space(&self) -> Result<Space, AgentError> {
        Ok(somnium_env::Env::action_space(
            &self.spec.build_physics(Some((1, 1)))?,
        ))
    }

    /// How the scenario judges an episode's success (read from a tiny physics
    /// twin, as [`Self::action_space`]; dreams share their scenario's rule).
    pub fn success_rule(&self) -> Result<SuccessRule, AgentError> {
        let twin = self.spec.build_physics(Some((1, 1)))?;
        Ok(twin.scenario().success_rule())
    }

    /// Frames per second of a video of this env: the scenario variant's control rate.
    pub fn render_fps(&self) -> Result<f32, AgentError> {
        let twin = self.spec.build_physics(Some((1, 1)))?;
        Ok(twin.scenario().render_fps())
    }

    /// Refuses a state-vector policy in a dream, whose observations are frames only.
    pub fn check_obs(&self, obs: ObsKind) -> Result<(), AgentError> {
        if obs == ObsKind::State && self.is_dream() {
            return Err(AgentError::StateInDream(self.to_string()));
        }
        Ok(())
    }

    /// One physics env rendering `size x size` frames; an error for a dream.
    pub fn make_physics(&self, size: usize) -> Result<PhysicsEnv, AgentError> {
        self.make_physics_sized((size, size))
    }

    /// One physics env rendering `(height, width)` frames; an error for a dream.
    pub fn make_physics_sized(&self, size: (usize, usize)) -> Result<PhysicsEnv, AgentError> {
        if self.is_dream() {
            return Err(AgentError::BadConfig(format!(
                "{self} is a dream, not a physics env"
            )));
        }
        Ok(self.spec.build_physics(Some(size))?)
    }

    /// Loads the dream's model onto `device` (`None` for physics). A missing or
    /// unreadable checkpoint is an error naming the path.
    pub fn load_model(&self, device: &Device) -> Result<Option<DreamModel>, AgentError> {
        self.model_path()
            .map(|p| DreamModel::load(p, device))
            .transpose()
            .map_err(AgentError::from)
    }

    /// `n` envs stepped together: physics envs rendering `size x size` frames
    /// (in parallel on rayon), or `n` dreams sharing one model loaded once (one
    /// batched forward per step; frames are the model's size, `size` is unused).
    pub fn make_vec(&self, n: usize, size: usize) -> Result<AgentVecEnv, AgentError> {
        match self.load_model(&Device::Cpu)? {
            Some(model) => self.make_vec_with_model(n, &model),
            None => {
                let envs = (0..n)
                    .map(|_| self.make_physics(size))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(AgentVecEnv::Physics(VecEnv::new(envs)?))
            }
        }
    }

    /// `n` dreams of this target's scenario with an already loaded `model`.
    pub fn make_vec_with_model(
        &self,
        n: usize,
        model: &DreamModel,
    ) -> Result<AgentVecEnv, AgentError> {
        Ok(AgentVecEnv::Dream(DreamVecEnv::make(
            self.scenario_id(),
            self.variant(),
            model,
            n,
        )?))
    }
}

impl fmt::Display for EnvTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.spec.fmt(f)
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
    use crate::test_models::tiny_checkpoint;

    #[test]
    fn physics_strings_parse_with_a_default_variant() {
        let target = EnvTarget::parse("physics:cartpole-v0").unwrap();
        assert_eq!(
            (target.scenario_id(), target.variant()),
            ("cartpole-v0", "id")
        );
        assert!(!target.is_dream());
        let ood = EnvTarget::parse("physics:push-v0@ood").unwrap();
        assert_eq!(ood.to_string(), "physics:push-v0@ood");
        assert_eq!(EnvTarget::parse(&ood.to_string()).unwrap(), ood);
    }

    #[test]
    fn bad_strings_name_the_problem() {
        for (input, needle) in [
            ("physics:nope-v9", "unknown scenario"),
            ("sim:cartpole-v0", "unknown kind"),
            ("dream:cartpole-v0", "needs a model"),
            ("physics:cartpole-v0@", "empty variant"),
        ] {
            let err = EnvTarget::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
        let unknown_variant = EnvTarget::parse("physics:push-v0@huge").unwrap();
        assert!(unknown_variant.make_physics(8).is_err());
    }

    #[test]
    fn a_dream_string_builds_a_working_dream_vec_env() {
        let dir = tempfile::tempdir().unwrap();
        tiny_checkpoint(dir.path(), "bounce-v0");
        let target =
            EnvTarget::parse(&format!("dream:bounce-v0@{}", dir.path().display())).unwrap();
        assert!(target.is_dream());
        let mut envs = target.make_vec(3, 64).unwrap();
        assert!(matches!(envs, AgentVecEnv::Dream(_)));
        use crate::BatchEnv;
        let obs = envs.reset(Some(4)).unwrap();
        assert_eq!(obs.len(), 3);
        assert!(obs.iter().all(|o| o.state.is_none() && o.frame.width == 32));
        let actions = vec![somnium_env::Action::Continuous(vec![0.2, -0.1]); 3];
        let step = envs.step(&actions).unwrap();
        assert_eq!(step.obs.len(), 3);
        assert!(step.obs.iter().all(|o| o.frame.data.len() == 32 * 32 * 3));
        assert!(target.make_physics(8).is_err());
    }

    #[test]
    fn a_missing_model_and_state_observations_in_a_dream_are_clear_errors() {
        let target = EnvTarget::parse("dream:bounce-v0@/nonexistent/model").unwrap();
        let err = target.make_vec(2, 32).err().unwrap().to_string();
        assert!(err.contains("no model checkpoint"), "{err}");
        assert!(err.contains("/nonexistent/model"), "{err}");
        let err = target.check_obs(ObsKind::State).unwrap_err().to_string();
        assert!(err.contains("no state vector"), "{err}");
        assert!(target.check_obs(ObsKind::Frames).is_ok());
    }
}
