//! The [`Policy`] trait (batched: observations in, actions out) and the simple
//! policies: [`RandomPolicy`] and [`ScriptedPolicy`] (the scenario's expert).
//!
//! Policies that only read observations (PPO) ignore the env views; experts read
//! the scenario's true state and planners query [`Imagine`] through [`EnvView`].

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium_env::{Action, DreamEnv, Env, Imagine, Observation, PhysicsEnv, Scenario, Space};

use crate::AgentError;

/// What a policy may see of the env it acts in, besides the observation.
pub trait EnvView {
    /// The space of valid actions.
    fn action_space(&self) -> Space;
    /// Steps since the episode began (0 on its first observation).
    fn elapsed_steps(&self) -> u32;
    /// The ground-truth scenario, where the env has one (physics envs).
    fn scenario(&self) -> Option<&dyn Scenario>;
    /// Look-ahead from the current state, where the env can imagine.
    fn imaginer(&self) -> Option<&dyn Imagine>;
}

impl EnvView for PhysicsEnv {
    fn action_space(&self) -> Space {
        Env::action_space(self)
    }
    fn elapsed_steps(&self) -> u32 {
        PhysicsEnv::elapsed_steps(self)
    }
    fn scenario(&self) -> Option<&dyn Scenario> {
        Some(PhysicsEnv::scenario(self))
    }
    fn imaginer(&self) -> Option<&dyn Imagine> {
        Some(self)
    }
}

impl EnvView for DreamEnv {
    fn action_space(&self) -> Space {
        Env::action_space(self)
    }
    fn elapsed_steps(&self) -> u32 {
        DreamEnv::elapsed_steps(self)
    }
    /// None: the dream's scenario only rendered its context frames, it does not
    /// follow the dream (a scripted expert cannot read a dream's state).
    fn scenario(&self) -> Option<&dyn Scenario> {
        None
    }
    /// The model's own look-ahead: predicted frames, rewards and terminations.
    fn imaginer(&self) -> Option<&dyn Imagine> {
        Some(self)
    }
}

/// Views of a slice of envs, for [`Policy::act`].
pub fn views<E: EnvView>(envs: &[E]) -> Vec<&dyn EnvView> {
    envs.iter().map(|e| e as &dyn EnvView).collect()
}

/// A batched policy: one action per env, `obs[i]` observed in `envs[i]`.
pub trait Policy {
    /// A short name for reports (`random`, `scripted`, `ppo`, `cem`).
    fn name(&self) -> String;
    /// Choose one action per env. `envs.len() == obs.len()`.
    fn act(
        &mut self,
        envs: &[&dyn EnvView],
        obs: &[Observation],
    ) -> Result<Vec<Action>, AgentError>;
}

/// Checks that `envs` and `obs` pair up.
pub(crate) fn check_batch(envs: &[&dyn EnvView], obs: &[Observation]) -> Result<(), AgentError> {
    if envs.len() != obs.len() {
        return Err(AgentError::BadConfig(format!(
            "{} envs but {} observations",
            envs.len(),
            obs.len()
        )));
    }
    Ok(())
}

/// Uniformly random actions from each env's action space, seeded.
pub struct RandomPolicy {
    rng: ChaCha8Rng,
}

impl RandomPolicy {
    pub fn new(seed: u64) -> Self {
        RandomPolicy {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl Policy for RandomPolicy {
    fn name(&self) -> String {
        "random".into()
    }
    fn act(
        &mut self,
        envs: &[&dyn EnvView],
        obs: &[Observation],
    ) -> Result<Vec<Action>, AgentError> {
        check_batch(envs, obs)?;
        Ok(envs
            .iter()
            .map(|e| e.action_space().sample(&mut self.rng))
            .collect())
    }
}

/// The scenario's scripted expert ([`Scenario::scripted_action`]): reads the true
/// state, so it needs envs that expose their scenario (physics envs).
pub struct ScriptedPolicy {
    rng: ChaCha8Rng,
}

impl ScriptedPolicy {
    pub fn new(seed: u64) -> Self {
        ScriptedPolicy {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl Policy for ScriptedPolicy {
    fn name(&self) -> String {
        "scripted".into()
    }
    fn act(
        &mut self,
        envs: &[&dyn EnvView],
        obs: &[Observation],
    ) -> Result<Vec<Action>, AgentError> {
        check_batch(envs, obs)?;
        envs.iter()
            .map(|e| {
                let scenario = e.scenario().ok_or_else(|| AgentError::Unsupported {
                    policy: "scripted".into(),
                    reason: "the env exposes no ground-truth scenario (use a physics env)".into(),
                })?;
                Ok(scenario.scripted_action(&mut self.rng))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_is_seeded_and_scripted_balances_the_pole() {
        let mut env = PhysicsEnv::make("cartpole-v0", "id", 4, 4).unwrap();
        let run = |policy: &mut dyn Policy, env: &mut PhysicsEnv| {
            let (mut obs, _) = env.reset(Some(3)).unwrap();
            let mut steps = 0;
            loop {
                let a = policy.act(&[&*env], std::slice::from_ref(&obs)).unwrap();
                let s = env.step(&a[0]).unwrap();
                steps += 1;
                if s.done() {
                    return steps;
                }
                obs = s.obs;
            }
        };
        let r1 = run(&mut RandomPolicy::new(1), &mut env);
        assert_eq!(r1, run(&mut RandomPolicy::new(1), &mut env));
        let expert = run(&mut ScriptedPolicy::new(0), &mut env);
        assert!(expert > 4 * r1, "expert {expert} vs random {r1}");
    }
}
