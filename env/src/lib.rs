//! Gym-style environments over somnium's scenarios.
//!
//! The [`Env`] trait follows Gymnasium: `reset(seed)` returns the first
//! observation and an [`Info`], `step(action)` returns a [`Step`] with the reward
//! and the `terminated` / `truncated` flags. [`PhysicsEnv`] runs a rapier3d
//! [`Scenario`] and renders its frames; [`VecEnv`] steps several envs in parallel;
//! [`TimeLimit`] and [`RecordGif`] wrap any env; [`check_env`] checks an env keeps
//! the API's promises; [`record`](mod@record) writes episodes as dataset shards.
//!
//! ```no_run
//! use somnium_env::{Env, PhysicsEnv, Action};
//! let mut env = PhysicsEnv::make("bounce-v0", "id", 64, 64).unwrap();
//! let (obs, _info) = env.reset(Some(7)).unwrap();
//! assert_eq!(obs.frame.data.len(), 64 * 64 * 3);
//! let step = env.step(&Action::Continuous(vec![0.0, 0.0])).unwrap();
//! # let _ = step;
//! ```

pub mod behaviour;
mod check;
pub mod consistency;
pub mod dream;
pub mod envspec;
mod error;
pub mod gif_out;
mod imagine;
pub mod lockstep;
mod physics;
pub mod record;
pub mod rollout;
mod vector;
mod wrappers;

#[cfg(feature = "server")]
pub mod server;

#[cfg(test)]
mod fake;

pub use check::{check_env, CheckError};
pub use dream::{DreamEnv, DreamModel, DreamVecEnv, ALLOW_MISMATCH_ENV};
pub use envspec::{EnvKind, EnvString};
pub use error::EnvError;
pub use imagine::{Imagine, ImaginedRollout};
pub use physics::PhysicsEnv;
pub use somnium_scenarios::{Action, Frame, Scenario, Space};
pub use vector::{VecEnv, VecStep};
pub use wrappers::{RecordGif, TimeLimit};

/// What an env shows the agent after a reset or step.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The rendered RGB frame, `[height, width, 3]` u8.
    pub frame: Frame,
    /// The true state vector, where the env has one (physics envs do).
    pub state: Option<Vec<f32>>,
}

/// Why an episode ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoneReason {
    /// The scenario reached a terminal state (`terminated = true`).
    Terminated,
    /// The time limit cut the episode (`truncated = true`).
    TimeLimit,
}

/// Gymnasium's `info`: facts about a reset or step that are not observations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Info {
    /// Seed of the current episode.
    pub seed: u64,
    /// Steps taken since the last reset (0 right after a reset).
    pub elapsed_steps: u32,
    /// Why the episode ended, on its last step; `None` otherwise.
    pub done_reason: Option<DoneReason>,
    /// Set by [`VecEnv`] when it reset this env in the same step: the last
    /// observation of the finished episode (the step's `obs` is the new episode's first).
    pub final_observation: Option<Box<Observation>>,
    /// Set with `final_observation`: the finished episode's last info.
    pub final_info: Option<Box<Info>>,
    /// Anything else an env wants to report.
    pub extra: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The result of one [`Env::step`].
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub obs: Observation,
    pub reward: f32,
    /// The episode reached a terminal state of the task.
    pub terminated: bool,
    /// The episode was cut short (time limit) although not terminal.
    pub truncated: bool,
    pub info: Info,
}

impl Step {
    /// Whether the episode is over (terminated or truncated): reset before stepping again.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// Spaces of an [`Observation`].
#[derive(Clone, Debug, PartialEq)]
pub struct ObservationSpace {
    /// `Box` of `0..=255` with shape `[height, width, 3]` (values are u8).
    pub frame: Space,
    /// The state vector's `Box`, where observations carry a state.
    pub state: Option<Space>,
}

impl ObservationSpace {
    /// The frame space for `height x width` RGB frames.
    pub fn frame_space(height: usize, width: usize) -> Space {
        let n = height * width * 3;
        Space::Box {
            low: vec![0.0; n],
            high: vec![255.0; n],
            shape: vec![height, width, 3],
        }
    }

    /// `[height, width]` of the frames.
    pub fn frame_size(&self) -> (usize, usize) {
        match &self.frame {
            Space::Box { shape, .. } if shape.len() == 3 => (shape[0], shape[1]),
            _ => (0, 0),
        }
    }
}

/// What an env is: id, variant, limits and rates.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvSpec {
    /// Scenario id, e.g. `push-v0`.
    pub id: String,
    /// Scenario variant (`id`, `ood`, `custom`).
    pub variant: String,
    /// Time limit (steps) after which episodes are truncated.
    pub max_episode_steps: Option<u32>,
    /// Control steps per second.
    pub control_hz: f32,
}

impl EnvSpec {
    /// Frames per second of a video of this env: one frame per control step.
    pub fn render_fps(&self) -> f32 {
        self.control_hz
    }
}

/// A Gym-style environment.
///
/// Semantics (Gymnasium's): `reset(Some(seed))` starts an episode from `seed` and
/// reseeds the env's own seed sequence; `reset(None)` starts the next episode
/// from that sequence (deterministic: the same seeds give the same episodes).
/// `step` before the first reset, or after an episode ended, is
/// [`EnvError::NeedsReset`]. A bad action is [`EnvError::BadAction`] and leaves
/// the env unchanged and usable.
pub trait Env: Send {
    /// Start an episode; returns the first observation.
    fn reset(&mut self, seed: Option<u64>) -> Result<(Observation, Info), EnvError>;
    /// Apply `action` for one control period.
    fn step(&mut self, action: &Action) -> Result<Step, EnvError>;
    /// The spaces of observations.
    fn observation_space(&self) -> ObservationSpace;
    /// The space of valid actions.
    fn action_space(&self) -> Space;
    /// What this env is.
    fn spec(&self) -> EnvSpec;
    /// Shorthand for `spec().id`.
    fn id(&self) -> String {
        self.spec().id
    }
}

impl<E: Env + ?Sized> Env for Box<E> {
    fn reset(&mut self, seed: Option<u64>) -> Result<(Observation, Info), EnvError> {
        (**self).reset(seed)
    }
    fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        (**self).step(action)
    }
    fn observation_space(&self) -> ObservationSpace {
        (**self).observation_space()
    }
    fn action_space(&self) -> Space {
        (**self).action_space()
    }
    fn spec(&self) -> EnvSpec {
        (**self).spec()
    }
}
