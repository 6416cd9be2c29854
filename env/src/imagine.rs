//! [`Imagine`]: look ahead from an env's current state without changing it.
//!
//! A planner asks an env "what would happen under each of these action
//! sequences?" and scores the answers. A learned [`Imagine`] (the dream) predicts
//! rewards and frames; [`PhysicsEnv`] answers exactly, by rebuilding its scenario
//! from the episode's seed and replaying the episode's actions (an oracle: the
//! upper bound a learned model can reach).

use rayon::prelude::*;
use somnium_scenarios::{make_with_config, Action, Frame, Scenario, ScenarioConfig};

use crate::{Env, EnvError, PhysicsEnv};

/// What one imagined action sequence leads to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImaginedRollout {
    /// Reward after each action; `0.0` after the episode terminated.
    pub rewards: Vec<f32>,
    /// Whether the episode had terminated after each action (stays `true` once set).
    pub terminated: Vec<bool>,
    /// Predicted frames after each action, where the imaginer renders them.
    pub frames: Option<Vec<Frame>>,
}

impl ImaginedRollout {
    /// Sum of the rewards discounted by `gamma` per step.
    pub fn discounted_return(&self, gamma: f32) -> f32 {
        self.rewards
            .iter()
            .rev()
            .fold(0.0, |acc, r| r + gamma * acc)
    }
}

/// Something that can imagine the consequences of action sequences from its
/// current state, leaving that state unchanged.
pub trait Imagine {
    /// One rollout per sequence, in order; every sequence starts from the current state.
    fn imagine(&self, action_sequences: &[Vec<Action>]) -> Result<Vec<ImaginedRollout>, EnvError>;
}

/// What rebuilds an env's scenario at its current step: config, seed, actions.
struct Replay {
    config: ScenarioConfig,
    variant: String,
    seed: u64,
    actions: Vec<Action>,
}

impl Replay {
    fn of(env: &PhysicsEnv) -> Result<Self, EnvError> {
        let scenario = env.scenario();
        let mut config = scenario.config_json();
        if let serde_json::Value::Object(map) = &mut config {
            map.insert("scenario".into(), scenario.id().into());
        }
        Ok(Replay {
            config: ScenarioConfig::from_json(config)?,
            variant: scenario.variant().to_string(),
            seed: env.episode_seed(),
            actions: env.episode_actions().to_vec(),
        })
    }

    fn build(&self) -> Result<Box<dyn Scenario>, EnvError> {
        let mut copy = make_with_config(self.config.clone(), &self.variant)?;
        copy.reset(self.seed);
        for action in &self.actions {
            copy.step(action)?;
        }
        Ok(copy)
    }
}

impl PhysicsEnv {
    /// A fresh copy of this env's scenario at the current step of the episode,
    /// rebuilt from its config and seed with the episode's actions replayed
    /// (rapier is deterministic, so the copy is bit-identical).
    pub fn replay_scenario(&self) -> Result<Box<dyn Scenario>, EnvError> {
        Replay::of(self)?.build()
    }
}

impl Imagine for PhysicsEnv {
    fn imagine(&self, action_sequences: &[Vec<Action>]) -> Result<Vec<ImaginedRollout>, EnvError> {
        let space = Env::action_space(self);
        let replay = Replay::of(self)?;
        action_sequences
            .par_iter()
            .map(|sequence| {
                let mut scenario = replay.build()?;
                let mut rollout = ImaginedRollout::default();
                let mut done = false;
                for action in sequence {
                    space.validate(action).map_err(|e| EnvError::BadAction {
                        env: scenario.id().to_string(),
                        reason: e.to_string(),
                    })?;
                    if done {
                        rollout.rewards.push(0.0);
                    } else {
                        let t = scenario.step(action)?;
                        rollout.rewards.push(t.reward);
                        done = t.terminated;
                    }
                    rollout.terminated.push(done);
                }
                Ok(rollout)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagining_predicts_the_real_future_and_changes_nothing() {
        let mut env = PhysicsEnv::make("push-v0", "id", 8, 8).unwrap();
        env.reset(Some(5)).unwrap();
        let a = Action::Continuous(vec![0.7, -0.3]);
        for _ in 0..3 {
            env.step(&a).unwrap();
        }
        let before = env.scenario().state();
        let plan = vec![Action::Continuous(vec![-0.5, 0.9]); 4];
        let imagined = env.imagine(std::slice::from_ref(&plan)).unwrap();
        assert_eq!(env.scenario().state(), before, "imagine left the env alone");
        let real: Vec<f32> = plan.iter().map(|a| env.step(a).unwrap().reward).collect();
        assert_eq!(imagined[0].rewards, real);
        assert_eq!(imagined[0].terminated, vec![false; 4]);
    }

    #[test]
    fn a_bad_action_in_a_sequence_is_an_error() {
        let mut env = PhysicsEnv::make("cartpole-v0", "id", 8, 8).unwrap();
        env.reset(Some(1)).unwrap();
        let err = env.imagine(&[vec![Action::Discrete(7)]]).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
    }
}
