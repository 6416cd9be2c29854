//! Dreaming envs: the learned world model behind the same [`Env`] API as physics.
//!
//! [`DreamEnv`]`::reset(seed)` renders the first `W` context frames from the
//! scenario's physics with that seed (the frame after reset, then `W - 1` steps of
//! the warm-up action: zeros for a `Box` space, index 0 for `Discrete`), so a
//! dream and its physics twin start from identical frames. From then on every
//! frame, reward and termination comes from the model; observations carry the
//! frame and no state (`state: None`). `imagine` (see [`crate::Imagine`]) looks
//! ahead along many action sequences in one batched pass without changing the
//! env; [`DreamVecEnv`] steps N dreams in one forward pass.

mod imagine;
mod model;
mod provenance_check;
#[cfg(test)]
mod tests;
mod vector;

pub use model::{checkpoint_dir, DreamModel};
pub use provenance_check::{mismatch_allowed, ALLOW_MISMATCH_ENV};
pub use vector::DreamVecEnv;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use somnium_scenarios::{Action, Frame, Scenario, Space};
use somnium_world_model::config::ActionKind;

use crate::{DoneReason, Env, EnvError, EnvSpec, Info, Observation, ObservationSpace, Step};
use model::DreamState;

/// Mixed into the episode seed to seed the model's noise (distinct from physics').
const NOISE_SALT: u64 = 0xD2EA_4D5E_ED5A_17ED;

/// The action that drives the warm-up between the context frames of a reset.
pub fn warmup_action(space: &Space) -> Action {
    match space {
        Space::Box { low, high, .. } => Action::Continuous(
            low.iter()
                .zip(high)
                .map(|(l, h)| 0.0f32.clamp(*l, (*h).max(*l)))
                .collect(),
        ),
        Space::Discrete(_) => Action::Discrete(0),
    }
}

/// A scenario's physics up to the end of the context: the `W` frames rendered at
/// `width x height` after `reset(seed)` and `W - 1` warm-up steps.
pub fn context_frames(
    scenario: &mut dyn Scenario,
    seed: u64,
    frames: usize,
    width: usize,
    height: usize,
) -> Result<Vec<Frame>, EnvError> {
    scenario.reset(seed);
    let warmup = warmup_action(&scenario.action_space());
    let mut out = vec![scenario.render(width, height)];
    for _ in 1..frames {
        scenario.step(&warmup)?;
        out.push(scenario.render(width, height));
    }
    Ok(out)
}

/// The learned world model as an env (see the module docs).
pub struct DreamEnv {
    model: DreamModel,
    scenario: Box<dyn Scenario>,
    action_space: Space,
    max_episode_steps: Option<u32>,
    seed_sequence: ChaCha8Rng,
    episode_seed: u64,
    elapsed_steps: u32,
    /// `None` before the first reset and after an episode ended.
    state: Option<DreamState>,
    ever_reset: bool,
    last_frame: Option<Frame>,
    /// Never end an episode on a predicted termination (lockstep runs, benchmarks).
    ignore_termination: bool,
}

impl DreamEnv {
    /// Dreams `scenario` with `model`; refuses a model whose actions or frames do
    /// not fit the scenario.
    pub fn new(scenario: Box<dyn Scenario>, model: DreamModel) -> Result<Self, EnvError> {
        model.check_scenario(scenario.as_ref())?;
        let action_space = scenario.action_space();
        let fits = match (&model.config().action, &action_space) {
            (ActionKind::Continuous { dim }, Space::Box { .. }) => *dim == action_space.flat_dim(),
            (ActionKind::Discrete { n }, Space::Discrete(m)) => n == m,
            _ => false,
        };
        if !fits {
            return Err(EnvError::BadConfig(format!(
                "the model takes {:?} actions, {} has action space {action_space:?}",
                model.config().action,
                scenario.id()
            )));
        }
        if model.context_frames() == 0 {
            return Err(EnvError::BadConfig(
                "the model has no context frames".into(),
            ));
        }
        let max_episode_steps = scenario.max_episode_steps();
        Ok(Self {
            model,
            scenario,
            action_space,
            max_episode_steps,
            seed_sequence: ChaCha8Rng::seed_from_u64(0),
            episode_seed: 0,
            elapsed_steps: 0,
            state: None,
            ever_reset: false,
            last_frame: None,
            ignore_termination: false,
        })
    }

    /// Builds scenario `id` in `variant` and dreams it with `model`.
    pub fn make(id: &str, variant: &str, model: DreamModel) -> Result<Self, EnvError> {
        Self::new(somnium_scenarios::make(id, variant)?, model)
    }

    /// Replaces the time limit (`None` for none), counted in dreamed steps.
    pub fn with_max_episode_steps(mut self, limit: Option<u32>) -> Self {
        self.max_episode_steps = limit;
        self
    }

    /// Replaces the time limit in place (`None` for none).
    pub fn set_max_episode_steps(&mut self, limit: Option<u32>) {
        self.max_episode_steps = limit;
    }

    /// With `true`, a predicted termination no longer ends the episode: steps report
    /// `terminated = false` and the predicted probability stays in
    /// `info.extra["terminated_prob"]`. For lockstep runs and benchmarks, where the
    /// dream must go on as long as physics does.
    pub fn set_ignore_termination(&mut self, ignore: bool) {
        self.ignore_termination = ignore;
    }

    /// The model.
    pub fn model(&self) -> &DreamModel {
        &self.model
    }

    /// The scenario whose physics renders the context frames (its state is that
    /// of the last reset's context, not the dream's).
    pub fn scenario(&self) -> &dyn Scenario {
        self.scenario.as_ref()
    }

    /// Seed of the current episode.
    pub fn episode_seed(&self) -> u64 {
        self.episode_seed
    }

    /// Dreamed steps since the last reset.
    pub fn elapsed_steps(&self) -> u32 {
        self.elapsed_steps
    }

    /// Continues the dream from an observed history instead of its own: `frames`
    /// are the last `W` frames (oldest first, the model's frame size) and
    /// `actions` the `W - 1` actions between them. The noise of the next dreamed
    /// step is stream `step` of `seed`'s noise. For planners that act in another
    /// env (physics) and imagine with this model from what they saw there.
    pub fn observe_history(
        &mut self,
        frames: &[Frame],
        actions: &[Action],
        seed: u64,
        step: u64,
    ) -> Result<(), EnvError> {
        let wn = self.model.context_frames();
        if frames.len() != wn || actions.len() + 1 != wn {
            return Err(EnvError::BadConfig(format!(
                "a history of {} frames and {} actions for a model with {wn} context frames \
                 (needs {wn} frames and {} actions)",
                frames.len(),
                actions.len(),
                wn - 1
            )));
        }
        let values: Vec<f32> = actions
            .iter()
            .map(|a| self.model_action(a))
            .collect::<Result<Vec<_>, _>>()?
            .concat();
        let width = self.model.config().action.width();
        self.state = Some(DreamState {
            context: self.model.encode_context(frames)?,
            past_actions: candle_core::Tensor::from_vec(
                values,
                (wn - 1, width),
                self.model.device(),
            )?,
            noise_seed: seed ^ NOISE_SALT,
            step,
            rolling: None,
        });
        self.episode_seed = seed;
        self.elapsed_steps = u32::try_from(step).unwrap_or(u32::MAX);
        self.ever_reset = true;
        self.last_frame = frames.last().cloned();
        Ok(())
    }

    /// Frame `(height, width)`.
    pub fn frame_size(&self) -> (usize, usize) {
        self.model.frame_size()
    }

    /// The current (last observed) frame, after a reset.
    pub fn frame(&self) -> Option<&Frame> {
        self.last_frame.as_ref()
    }

    fn info(&self) -> Info {
        Info {
            seed: self.episode_seed,
            elapsed_steps: self.elapsed_steps,
            ..Info::default()
        }
    }

    /// Validates `action` and returns it clipped as the model's f32 values.
    pub(crate) fn model_action(&self, action: &Action) -> Result<Vec<f32>, EnvError> {
        self.action_space
            .validate(action)
            .map_err(|e| EnvError::BadAction {
                env: format!("dream:{}", self.scenario.id()),
                reason: e.to_string(),
            })?;
        Ok(self.action_space.clip(action).to_f32())
    }

    /// Takes a dreamed step's result: the new state, frame, reward and termination probability.
    pub(crate) fn apply(
        &mut self,
        next: DreamState,
        frame: Frame,
        reward: f32,
        terminated_prob: f32,
    ) -> Step {
        self.elapsed_steps += 1;
        let terminated = terminated_prob > 0.5 && !self.ignore_termination;
        let truncated = !terminated
            && self
                .max_episode_steps
                .is_some_and(|limit| self.elapsed_steps >= limit);
        let mut info = self.info();
        info.extra
            .insert("terminated_prob".into(), serde_json::json!(terminated_prob));
        if terminated {
            info.done_reason = Some(DoneReason::Terminated);
        } else if truncated {
            info.done_reason = Some(DoneReason::TimeLimit);
        }
        self.state = (!(terminated || truncated)).then_some(next);
        self.last_frame = Some(frame.clone());
        Step {
            obs: Observation { frame, state: None },
            reward,
            terminated,
            truncated,
            info,
        }
    }

    pub(crate) fn state(&self) -> Option<&DreamState> {
        self.state.as_ref()
    }
}

impl Env for DreamEnv {
    fn reset(&mut self, seed: Option<u64>) -> Result<(Observation, Info), EnvError> {
        let seed = match seed {
            Some(s) => {
                self.seed_sequence = ChaCha8Rng::seed_from_u64(s);
                s
            }
            None => self.seed_sequence.next_u64(),
        };
        let (h, w) = self.model.frame_size();
        let wn = self.model.context_frames();
        let frames = context_frames(self.scenario.as_mut(), seed, wn, w, h)?;
        let warmup = warmup_action(&self.action_space).to_f32();
        let a = warmup.len();
        let past: Vec<f32> = warmup.repeat(wn - 1);
        self.state = Some(DreamState {
            context: self.model.encode_context(&frames)?,
            past_actions: candle_core::Tensor::from_vec(past, (wn - 1, a), self.model.device())?,
            noise_seed: seed ^ NOISE_SALT,
            step: 0,
            rolling: None,
        });
        self.episode_seed = seed;
        self.elapsed_steps = 0;
        self.ever_reset = true;
        let frame = frames.last().cloned().unwrap_or(Frame {
            width: w,
            height: h,
            data: vec![0; w * h * 3],
        });
        self.last_frame = Some(frame.clone());
        Ok((Observation { frame, state: None }, self.info()))
    }

    fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        let Some(state) = &self.state else {
            return Err(EnvError::NeedsReset(if self.ever_reset {
                "after the episode ended (terminated or truncated)"
            } else {
                "before the first reset"
            }));
        };
        let values = self.model_action(action)?;
        let (mut next, mut out) = self.model.step_batch(&[state], &[values])?;
        let state = next
            .pop()
            .ok_or_else(|| EnvError::Model("no dreamed state".into()))?;
        Ok(self.apply(
            state,
            out.frames.remove(0),
            out.rewards[0],
            out.terminated_prob[0],
        ))
    }

    fn observation_space(&self) -> ObservationSpace {
        let (h, w) = self.model.frame_size();
        ObservationSpace {
            frame: ObservationSpace::frame_space(h, w),
            state: None,
        }
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
