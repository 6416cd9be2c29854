//! PPO end to end: it solves a tiny deterministic env within a small budget,
//! improves over random on cartpole, is seeded, and its checkpoints round-trip.

use somnium_env::{
    Action, DoneReason, Env, EnvError, EnvSpec, Frame, Info, Observation, ObservationSpace, Space,
    Step, VecEnv,
};

use super::{PpoConfig, PpoTrainer};
use crate::{evaluate, EnvTarget, PpoAgent, PpoPolicy, RandomPolicy};

/// A corridor of `LEN` cells: start at 0, action 1 moves right, 0 moves left;
/// reaching the last cell pays 1 and terminates, every other step costs 0.01;
/// episodes are cut after 20 steps. The state is the one-hot position.
struct Corridor {
    pos: usize,
    steps: u32,
}

const LEN: usize = 6;

impl Corridor {
    fn obs(&self) -> Observation {
        let mut state = vec![0.0; LEN];
        state[self.pos] = 1.0;
        Observation {
            frame: Frame {
                width: 1,
                height: 1,
                data: vec![0; 3],
            },
            state: Some(state),
        }
    }
}

impl Env for Corridor {
    fn reset(&mut self, seed: Option<u64>) -> Result<(Observation, Info), EnvError> {
        self.pos = 0;
        self.steps = 0;
        let info = Info {
            seed: seed.unwrap_or(0),
            ..Info::default()
        };
        Ok((self.obs(), info))
    }
    fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        let Action::Discrete(a) = action else {
            return Err(EnvError::BadAction {
                env: "corridor".into(),
                reason: "a discrete action is needed".into(),
            });
        };
        self.pos = if *a == 1 {
            (self.pos + 1).min(LEN - 1)
        } else {
            self.pos.saturating_sub(1)
        };
        self.steps += 1;
        let terminated = self.pos == LEN - 1;
        let truncated = !terminated && self.steps >= 20;
        let mut info = Info {
            elapsed_steps: self.steps,
            ..Info::default()
        };
        info.done_reason = if terminated {
            Some(DoneReason::Terminated)
        } else if truncated {
            Some(DoneReason::TimeLimit)
        } else {
            None
        };
        Ok(Step {
            obs: self.obs(),
            reward: if terminated { 1.0 } else { -0.01 },
            terminated,
            truncated,
            info,
        })
    }
    fn observation_space(&self) -> ObservationSpace {
        ObservationSpace {
            frame: ObservationSpace::frame_space(1, 1),
            state: Some(Space::Box {
                low: vec![0.0; LEN],
                high: vec![1.0; LEN],
                shape: vec![LEN],
            }),
        }
    }
    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }
    fn spec(&self) -> EnvSpec {
        EnvSpec {
            id: "corridor".into(),
            variant: "test".into(),
            max_episode_steps: Some(20),
            control_hz: 1.0,
        }
    }
}

fn corridor_trainer(seed: u64) -> PpoTrainer<VecEnv<Corridor>> {
    let envs = VecEnv::new((0..4).map(|_| Corridor { pos: 0, steps: 0 }).collect()).unwrap();
    let config = PpoConfig {
        total_steps: 12_288,
        num_steps: 64,
        learning_rate: 2.5e-3,
        seed,
        ..PpoConfig::default()
    };
    PpoTrainer::with_envs(config, envs, "corridor".into()).unwrap()
}

#[test]
fn ppo_solves_a_tiny_deterministic_env_within_a_small_budget() {
    let mut trainer = corridor_trainer(0);
    while !trainer.is_done() {
        trainer.train_update().unwrap();
    }
    let last: Vec<f32> = trainer
        .episodes()
        .iter()
        .rev()
        .take(20)
        .map(|e| e.episode_return)
        .collect();
    let mean = last.iter().sum::<f32>() / last.len() as f32;
    // The optimum is 1 - 4 * 0.01 = 0.96 (five steps right).
    assert!(mean > 0.9, "mean of the last 20 episodes {mean}: {last:?}");
}

#[test]
fn the_same_seed_gives_the_same_first_updates() {
    let run = |seed| {
        let mut t = corridor_trainer(seed);
        let a = t.train_update().unwrap();
        let b = t.train_update().unwrap();
        (a.policy_loss, a.value_loss, b.policy_loss, b.approx_kl)
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

#[test]
fn a_short_run_on_cartpole_beats_random_and_round_trips_its_checkpoint() {
    let target = EnvTarget::parse("physics:cartpole-v0").unwrap();
    let config = PpoConfig {
        total_steps: 30_000,
        num_envs: 8,
        learning_rate: 1e-3,
        ..PpoConfig::default()
    };
    let mut trainer = PpoTrainer::new(config, target.clone()).unwrap();
    while !trainer.is_done() {
        trainer.train_update().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    trainer.save(dir.path()).unwrap();
    let (agent, file) = PpoAgent::load(dir.path(), &candle_core::Device::Cpu).unwrap();
    assert_eq!(file.env, "physics:cartpole-v0@id");
    assert_eq!(file.steps_trained, trainer.global_step());
    for ((name, a), (_, b)) in trainer.agent().model.vars().iter().zip(agent.model.vars()) {
        let diff = (a.as_tensor() - b.as_tensor()).unwrap().abs().unwrap();
        let max: f32 = diff.max_all().unwrap().to_scalar().unwrap();
        assert_eq!(max, 0.0, "{name}");
    }
    let ppo = evaluate(&mut PpoPolicy::new(agent, true, 0), &target, 1, 8, 500, 8).unwrap();
    let random = evaluate(&mut RandomPolicy::new(0), &target, 1, 8, 500, 8).unwrap();
    assert!(
        ppo.mean_return > 2.0 * random.mean_return,
        "ppo {} vs random {}",
        ppo.mean_return,
        random.mean_return
    );
}

#[test]
fn a_corrupt_checkpoint_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let trainer = corridor_trainer(0);
    trainer.save(dir.path()).unwrap();
    std::fs::write(dir.path().join(crate::WEIGHTS_FILE), b"not safetensors").unwrap();
    let err = PpoAgent::load(dir.path(), &candle_core::Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("agent.safetensors"), "{err}");
    let missing = PpoAgent::load(&dir.path().join("nope"), &candle_core::Device::Cpu);
    assert!(missing.is_err());
}

#[test]
fn a_resumed_run_goes_on_from_its_checkpoint_and_reproduces_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = corridor_trainer(5);
    for _ in 0..3 {
        first.train_update().unwrap();
    }
    first.save(dir.path()).unwrap();
    let weights = |t: &PpoTrainer<VecEnv<Corridor>>| -> Vec<Vec<f32>> {
        t.agent()
            .model
            .vars()
            .iter()
            .map(|(_, v)| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap())
            .collect()
    };
    let resumed = |dir: &std::path::Path| {
        let mut t = corridor_trainer(5);
        t.resume(dir).unwrap();
        t
    };
    let mut a = resumed(dir.path());
    assert_eq!(a.global_step(), first.global_step());
    assert_eq!(a.updates_done(), 3);
    assert_eq!(weights(&a), weights(&first));
    assert_eq!(a.episodes(), first.episodes());
    // the learning rate goes on down the schedule, and a resume reproduces itself
    let next = a.train_update().unwrap();
    assert_eq!(next.update, 4);
    let fresh = corridor_trainer(5).config().learning_rate;
    assert!((next.learning_rate - fresh * (1.0 - 3.0 / 48.0)).abs() < 1e-12);
    let again = resumed(dir.path()).train_update().unwrap();
    assert_eq!(
        (next.policy_loss, next.value_loss),
        (again.policy_loss, again.value_loss)
    );
}

#[test]
fn resuming_without_a_training_state_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = corridor_trainer(1);
    t.train_update().unwrap();
    t.agent().save(dir.path(), "corridor", 256).unwrap();
    let mut other = corridor_trainer(2);
    let err = other.resume(dir.path()).unwrap_err().to_string();
    assert!(err.contains("trainer.json"), "{err}");
    assert_eq!(other.global_step(), 0);
}
