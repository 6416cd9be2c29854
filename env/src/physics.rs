//! [`PhysicsEnv`]: a rapier3d [`Scenario`] behind the [`Env`] API, rendering a
//! frame per observation and truncating at the scenario's time limit.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use somnium_scenarios::{Action, Frame, Scenario, Space};

use crate::{DoneReason, Env, EnvError, EnvSpec, Info, Observation, ObservationSpace, Step};

/// Where an env is in its episode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    NeverReset,
    Running,
    Done,
}

/// A scenario as an env: observations are rendered frames plus the true state.
///
/// The scenario's `max_episode_steps` is applied with Gymnasium's TimeLimit
/// semantics: the step that reaches the limit has `truncated = true` unless it
/// also terminated. `reset(None)` draws the next episode seed from a ChaCha8
/// sequence seeded by the last explicit seed (0 if none was given).
pub struct PhysicsEnv {
    scenario: Box<dyn Scenario>,
    width: usize,
    height: usize,
    seed_sequence: ChaCha8Rng,
    episode_seed: u64,
    elapsed_steps: u32,
    phase: Phase,
    max_episode_steps: Option<u32>,
    action_space: Space,
    observation_space: ObservationSpace,
    /// The actions taken since the last reset (for replaying the episode).
    actions: Vec<Action>,
}

impl PhysicsEnv {
    /// Default frame width and height.
    pub const DEFAULT_SIZE: usize = 64;

    /// Wrap `scenario`, rendering `width x height` frames.
    pub fn new(scenario: Box<dyn Scenario>, width: usize, height: usize) -> Result<Self, EnvError> {
        if width == 0 || height == 0 || width > 4096 || height > 4096 {
            return Err(EnvError::BadConfig(format!(
                "render size {width}x{height} must be within 1..=4096"
            )));
        }
        let action_space = scenario.action_space();
        let observation_space = ObservationSpace {
            frame: ObservationSpace::frame_space(height, width),
            state: Some(scenario.state_space()),
        };
        let max_episode_steps = scenario.max_episode_steps();
        Ok(PhysicsEnv {
            scenario,
            width,
            height,
            seed_sequence: ChaCha8Rng::seed_from_u64(0),
            episode_seed: 0,
            elapsed_steps: 0,
            phase: Phase::NeverReset,
            max_episode_steps,
            action_space,
            observation_space,
            actions: Vec::new(),
        })
    }

    /// Build scenario `id` in `variant` (`id`, `ood`, or one of `somnium_scenarios::variants(id)`) and wrap it.
    pub fn make(id: &str, variant: &str, width: usize, height: usize) -> Result<Self, EnvError> {
        Self::new(somnium_scenarios::make(id, variant)?, width, height)
    }

    /// Replace the time limit (`None` for none).
    pub fn with_max_episode_steps(mut self, limit: Option<u32>) -> Self {
        self.set_max_episode_steps(limit);
        self
    }

    /// Replace the time limit in place (`None` for none).
    pub fn set_max_episode_steps(&mut self, limit: Option<u32>) {
        self.max_episode_steps = limit;
    }

    /// The wrapped scenario (e.g. for its colours or scripted actions).
    pub fn scenario(&self) -> &dyn Scenario {
        self.scenario.as_ref()
    }

    /// Frame `(width, height)`.
    pub fn render_size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// Seed of the current episode.
    pub fn episode_seed(&self) -> u64 {
        self.episode_seed
    }

    /// The actions taken since the last reset, in order: with
    /// [`Self::episode_seed`] they replay the episode exactly.
    pub fn episode_actions(&self) -> &[Action] {
        &self.actions
    }

    /// Steps since the last reset.
    pub fn elapsed_steps(&self) -> u32 {
        self.elapsed_steps
    }

    /// Render the current world.
    pub fn render(&self) -> Frame {
        self.scenario.render(self.width, self.height)
    }

    fn observe(&self) -> Observation {
        Observation {
            frame: self.render(),
            state: Some(self.scenario.state()),
        }
    }

    fn info(&self) -> Info {
        Info {
            seed: self.episode_seed,
            elapsed_steps: self.elapsed_steps,
            ..Info::default()
        }
    }
}

impl Env for PhysicsEnv {
    fn reset(&mut self, seed: Option<u64>) -> Result<(Observation, Info), EnvError> {
        let seed = match seed {
            Some(s) => {
                self.seed_sequence = ChaCha8Rng::seed_from_u64(s);
                s
            }
            None => self.seed_sequence.next_u64(),
        };
        self.episode_seed = seed;
        self.elapsed_steps = 0;
        self.actions.clear();
        self.scenario.reset(seed);
        self.phase = Phase::Running;
        Ok((self.observe(), self.info()))
    }

    fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        match self.phase {
            Phase::NeverReset => return Err(EnvError::NeedsReset("before the first reset")),
            Phase::Done => {
                return Err(EnvError::NeedsReset(
                    "after the episode ended (terminated or truncated)",
                ))
            }
            Phase::Running => {}
        }
        let id = self.scenario.id();
        let bad = |reason: String| EnvError::BadAction {
            env: id.to_string(),
            reason,
        };
        self.action_space
            .validate(action)
            .map_err(|e| bad(e.to_string()))?;
        let transition = self.scenario.step(action).map_err(|e| match e {
            somnium_scenarios::ScenarioError::BadAction(reason) => bad(reason),
            other => EnvError::Scenario(other),
        })?;
        self.elapsed_steps += 1;
        self.actions.push(action.clone());
        let terminated = transition.terminated;
        let truncated = !terminated
            && self
                .max_episode_steps
                .is_some_and(|limit| self.elapsed_steps >= limit);
        let mut info = self.info();
        if terminated {
            info.done_reason = Some(DoneReason::Terminated);
        } else if truncated {
            info.done_reason = Some(DoneReason::TimeLimit);
        }
        if terminated || truncated {
            self.phase = Phase::Done;
        }
        Ok(Step {
            obs: self.observe(),
            reward: transition.reward,
            terminated,
            truncated,
            info,
        })
    }

    fn observation_space(&self) -> ObservationSpace {
        self.observation_space.clone()
    }

    fn action_space(&self) -> Space {
        self.action_space.clone()
    }

    fn spec(&self) -> EnvSpec {
        EnvSpec {
            id: self.scenario.id().to_string(),
            variant: self.scenario.variant().to_string(),
            max_episode_steps: self.max_episode_steps,
            control_hz: self.scenario.control_hz(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeScenario;

    fn env() -> PhysicsEnv {
        PhysicsEnv::new(Box::new(FakeScenario::new()), 16, 12).unwrap()
    }

    #[test]
    fn the_render_fps_is_the_control_rate_of_the_variant() {
        for (id, variant, fps) in [
            ("push-v0", "id", 15.0),
            ("push-v0", "coarse", 5.0),
            ("cartpole-v0", "coarse", 12.5),
        ] {
            let e = PhysicsEnv::make(id, variant, 8, 8).unwrap();
            assert_eq!(Env::spec(&e).render_fps(), fps, "{id}@{variant}");
            assert_eq!(e.scenario().render_fps(), fps, "{id}@{variant}");
        }
    }

    #[test]
    fn step_before_reset_and_after_the_end_are_errors() {
        let mut e = env();
        assert!(matches!(
            e.step(&Action::Continuous(vec![0.0, 0.0])),
            Err(EnvError::NeedsReset(_))
        ));
        e.reset(Some(1)).unwrap();
        let mut last = None;
        for _ in 0..FakeScenario::LIMIT {
            last = Some(e.step(&Action::Continuous(vec![0.0, 0.0])).unwrap());
        }
        let last = last.unwrap();
        assert!(last.truncated && !last.terminated);
        assert_eq!(last.info.done_reason, Some(DoneReason::TimeLimit));
        assert_eq!(last.info.elapsed_steps, FakeScenario::LIMIT);
        let err = e.step(&Action::Continuous(vec![0.0, 0.0])).unwrap_err();
        assert!(err.to_string().contains("after the episode ended"), "{err}");
    }

    #[test]
    fn frames_have_the_render_size() {
        let mut e = env();
        let (obs, info) = e.reset(Some(3)).unwrap();
        assert_eq!(
            (obs.frame.width, obs.frame.height, obs.frame.data.len()),
            (16, 12, 16 * 12 * 3)
        );
        assert_eq!(info.seed, 3);
        assert_eq!(e.observation_space().frame_size(), (12, 16));
    }

    #[test]
    fn unseeded_resets_follow_a_deterministic_sequence() {
        let seeds = |first: u64| {
            let mut e = env();
            e.reset(Some(first)).unwrap();
            (0..3)
                .map(|_| e.reset(None).unwrap().1.seed)
                .collect::<Vec<_>>()
        };
        assert_eq!(seeds(9), seeds(9));
        assert_ne!(seeds(9), seeds(10));
    }

    #[test]
    fn a_bad_action_is_refused_and_the_env_stays_usable() {
        let mut e = env();
        e.reset(Some(0)).unwrap();
        for bad in [
            Action::Continuous(vec![0.0]),
            Action::Continuous(vec![f32::NAN, 0.0]),
            Action::Discrete(0),
        ] {
            assert!(
                matches!(e.step(&bad), Err(EnvError::BadAction { .. })),
                "{bad:?}"
            );
        }
        let step = e.step(&Action::Continuous(vec![0.5, 0.5])).unwrap();
        assert_eq!(step.info.elapsed_steps, 1);
    }
}
