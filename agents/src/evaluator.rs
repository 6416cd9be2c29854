//! [`Evaluator`]: seeded evaluation episodes of a policy in waves of parallel
//! envs, physics (stepped on rayon) or dream (one batched model forward per
//! step), optionally recording every frame (for side-by-side GIFs).
//!
//! Two options serve comparisons with a dream: `warmup` takes the dream's
//! `W - 1` warm-up steps in physics after each reset (not counted in the
//! episode), so both start from the same frame; `planner_model` makes planners
//! acting in physics imagine with a world model: a shadow [`DreamEnv`] per env
//! is fed the last `W` physics frames and actions before every decision.

use std::collections::VecDeque;

use rayon::prelude::*;
use somnium_env::dream::warmup_action;
use somnium_env::{
    Action, DoneReason, DreamEnv, DreamModel, DreamVecEnv, Env, EnvError, Frame, Imagine,
    ImaginedRollout, Observation, PhysicsEnv, Scenario, Space, Step,
};
use somnium_scenarios::SuccessRule;

use crate::eval::{success_of, summarise, EpisodeResult, EvalSummary};
use crate::policy::{EnvView, Policy};
use crate::{AgentError, EnvTarget};

/// How an [`Evaluator`] runs its episodes.
#[derive(Clone, Default)]
pub struct EvalOptions {
    /// Physics frames `(height, width)`; `None`: 1x1 (state policies, nobody looks).
    /// Dreams always give the model's frames.
    pub frame_size: Option<(usize, usize)>,
    /// Episodes run at once (at least 1).
    pub parallel: usize,
    /// Physics only: warm-up steps after each reset, not counted in the episode
    /// (the time limit is extended by as many).
    pub warmup: usize,
    /// Physics only: planners imagine with this model instead of the physics
    /// oracle (physics then renders the model's frame size).
    pub planner_model: Option<DreamModel>,
}

/// One evaluated episode, with its frames when recorded (first observation included).
#[derive(Clone, Debug)]
pub struct EpisodeRun {
    pub result: EpisodeResult,
    pub frames: Vec<Frame>,
}

enum Envs {
    Physics(Vec<PhysicsEnv>),
    Dream(DreamVecEnv),
}

/// The world model's view of one physics env (see the module docs).
struct Shadow {
    dream: DreamEnv,
    frames: VecDeque<Frame>,
    actions: VecDeque<Action>,
}

impl Shadow {
    fn start(&mut self, first: &Frame) {
        let wn = self.dream.model().context_frames();
        let warm = warmup_action(&Env::action_space(&self.dream));
        self.frames = std::iter::repeat_n(first.clone(), wn).collect();
        self.actions = std::iter::repeat_n(warm, wn.saturating_sub(1)).collect();
    }

    fn push(&mut self, frame: &Frame, action: &Action) {
        self.frames.pop_front();
        self.frames.push_back(frame.clone());
        if self.actions.pop_front().is_some() {
            self.actions.push_back(action.clone());
        }
    }

    fn sync(&mut self, seed: u64, step: u32) -> Result<(), EnvError> {
        let frames: Vec<Frame> = self.frames.iter().cloned().collect();
        let actions: Vec<Action> = self.actions.iter().cloned().collect();
        self.dream
            .observe_history(&frames, &actions, seed, step as u64)
    }
}

/// Imagines nothing (zero rewards): what planners see of an env whose episode ended.
struct Idle;

impl Imagine for Idle {
    fn imagine(&self, seqs: &[Vec<Action>]) -> Result<Vec<ImaginedRollout>, EnvError> {
        Ok(seqs
            .iter()
            .map(|s| ImaginedRollout {
                rewards: vec![0.0; s.len()],
                terminated: vec![true; s.len()],
                frames: None,
            })
            .collect())
    }
}

/// What a policy sees of one evaluation slot.
struct SlotView<'a> {
    space: Space,
    steps: u32,
    scenario: Option<&'a dyn Scenario>,
    imaginer: &'a dyn Imagine,
}

impl EnvView for SlotView<'_> {
    fn action_space(&self) -> Space {
        self.space.clone()
    }
    fn elapsed_steps(&self) -> u32 {
        self.steps
    }
    fn scenario(&self) -> Option<&dyn Scenario> {
        self.scenario
    }
    fn imaginer(&self) -> Option<&dyn Imagine> {
        Some(self.imaginer)
    }
}

/// Runs seeded evaluation episodes in one env (see the module docs).
pub struct Evaluator {
    target: EnvTarget,
    envs: Envs,
    space: Space,
    success: SuccessRule,
    warmup: usize,
    shadows: Vec<Shadow>,
}

impl Evaluator {
    /// Builds `options.parallel` envs of `target`, loading a dream's model once.
    pub fn new(target: &EnvTarget, options: EvalOptions) -> Result<Self, AgentError> {
        let parallel = options.parallel.max(1);
        let model = target.load_model(&candle_core::Device::Cpu)?;
        let (envs, shadows, warmup) = match model {
            Some(model) => {
                let envs =
                    DreamVecEnv::make(target.scenario_id(), target.variant(), &model, parallel)?;
                (Envs::Dream(envs), Vec::new(), 0)
            }
            None => {
                let size = match &options.planner_model {
                    Some(m) => m.frame_size(),
                    None => options.frame_size.unwrap_or((1, 1)),
                };
                let mut envs = Vec::with_capacity(parallel);
                for _ in 0..parallel {
                    let mut env = target.make_physics_sized(size)?;
                    let limit = Env::spec(&env).max_episode_steps;
                    env.set_max_episode_steps(limit.map(|l| l + options.warmup as u32));
                    envs.push(env);
                }
                let shadows = match &options.planner_model {
                    Some(m) => (0..parallel)
                        .map(|_| {
                            Ok(Shadow {
                                dream: DreamEnv::make(
                                    target.scenario_id(),
                                    target.variant(),
                                    m.clone(),
                                )?,
                                frames: VecDeque::new(),
                                actions: VecDeque::new(),
                            })
                        })
                        .collect::<Result<Vec<_>, EnvError>>()?,
                    None => Vec::new(),
                };
                (Envs::Physics(envs), shadows, options.warmup)
            }
        };
        Ok(Evaluator {
            space: target.action_space()?,
            success: target.success_rule()?,
            target: target.clone(),
            envs,
            warmup,
            shadows,
        })
    }

    /// The env evaluated in.
    pub fn target(&self) -> &EnvTarget {
        &self.target
    }

    /// Episodes run at once.
    pub fn parallel(&self) -> usize {
        match &self.envs {
            Envs::Physics(v) => v.len(),
            Envs::Dream(v) => v.num_envs(),
        }
    }

    /// Run `episodes` episodes, episode `k` from seed `seed + k`, and summarise them.
    pub fn evaluate(
        &mut self,
        policy: &mut dyn Policy,
        episodes: usize,
        seed: u64,
    ) -> Result<EvalSummary, AgentError> {
        let mut results = Vec::with_capacity(episodes);
        for wave in (0..episodes).step_by(self.parallel()) {
            let count = self.parallel().min(episodes - wave);
            let seeds: Vec<u64> = (0..count).map(|k| seed + (wave + k) as u64).collect();
            results.extend(
                self.run_wave(policy, &seeds, false)?
                    .into_iter()
                    .map(|r| r.result),
            );
        }
        Ok(summarise(self.target.to_string(), policy.name(), results))
    }

    /// One episode from each of `seeds` (at most [`parallel`](Self::parallel)),
    /// run together; with `record`, every frame of each is kept.
    pub fn run_wave(
        &mut self,
        policy: &mut dyn Policy,
        seeds: &[u64],
        record: bool,
    ) -> Result<Vec<EpisodeRun>, AgentError> {
        let count = seeds.len();
        if count == 0 || count > self.parallel() {
            return Err(AgentError::BadConfig(format!(
                "a wave of {count} episodes for {} envs",
                self.parallel()
            )));
        }
        let mut obs: Vec<Observation> = Vec::with_capacity(count);
        let mut ended: Vec<Option<Option<DoneReason>>> = vec![None; count];
        match &mut self.envs {
            Envs::Physics(envs) => {
                let warm = warmup_action(&self.space);
                for (k, env) in envs[..count].iter_mut().enumerate() {
                    let (mut o, _) = env.reset(Some(seeds[k]))?;
                    for _ in 0..self.warmup {
                        let s = env.step(&warm)?;
                        o = s.obs;
                        if s.terminated || s.truncated {
                            ended[k] = Some(s.info.done_reason);
                            break;
                        }
                    }
                    if let Some(shadow) = self.shadows.get_mut(k) {
                        shadow.start(&o.frame);
                    }
                    obs.push(o);
                }
            }
            Envs::Dream(envs) => {
                for (k, seed) in seeds.iter().enumerate() {
                    obs.push(envs.reset_one(k, *seed)?.0);
                }
            }
        }
        let mut frames: Vec<Vec<Frame>> = obs
            .iter()
            .map(|o| {
                if record {
                    vec![o.frame.clone()]
                } else {
                    Vec::new()
                }
            })
            .collect();
        let mut steps = vec![0u32; count];
        let mut returns = vec![0.0f32; count];
        while ended.iter().any(Option::is_none) {
            for (k, shadow) in self.shadows.iter_mut().take(count).enumerate() {
                if ended[k].is_none() {
                    shadow.sync(seeds[k], steps[k])?;
                }
            }
            let actions = {
                let views = self.views(&steps, &ended);
                let refs: Vec<&dyn EnvView> = views.iter().map(|v| v as &dyn EnvView).collect();
                policy.act(&refs, &obs)?
            };
            if actions.len() != count {
                return Err(AgentError::BadConfig(format!(
                    "{} gave {} actions for {count} envs",
                    policy.name(),
                    actions.len()
                )));
            }
            let results = self.step_active(&actions, &ended)?;
            for (k, step) in results.into_iter().enumerate() {
                let Some(step) = step else { continue };
                returns[k] += step.reward;
                steps[k] += 1;
                if let Some(shadow) = self.shadows.get_mut(k) {
                    shadow.push(&step.obs.frame, &actions[k]);
                }
                if record {
                    frames[k].push(step.obs.frame.clone());
                }
                if step.terminated || step.truncated {
                    ended[k] = Some(step.info.done_reason);
                }
                obs[k] = step.obs;
            }
        }
        Ok((0..count)
            .map(|k| {
                let reason = ended[k].flatten();
                EpisodeRun {
                    result: EpisodeResult {
                        seed: seeds[k],
                        episode_return: returns[k],
                        length: steps[k],
                        success: success_of(self.success, reason),
                        done_reason: reason,
                    },
                    frames: std::mem::take(&mut frames[k]),
                }
            })
            .collect())
    }

    /// Views of the first `steps.len()` slots; ended ones imagine nothing (their
    /// actions are discarded) but still show a physics env's scenario, so that a
    /// policy reading it (the scripted expert) can act on the whole batch.
    fn views(&self, steps: &[u32], ended: &[Option<Option<DoneReason>>]) -> Vec<SlotView<'_>> {
        (0..steps.len())
            .map(|k| {
                let running = ended[k].is_none();
                let (scenario, imaginer): (Option<&dyn Scenario>, &dyn Imagine) = match &self.envs {
                    Envs::Physics(envs) => (
                        Some(envs[k].scenario()),
                        match (running, self.shadows.get(k)) {
                            (false, _) => &Idle,
                            (true, Some(shadow)) => &shadow.dream,
                            (true, None) => &envs[k],
                        },
                    ),
                    Envs::Dream(envs) if running => (None, &envs.envs()[k]),
                    Envs::Dream(_) => (None, &Idle),
                };
                SlotView {
                    space: self.space.clone(),
                    steps: steps[k],
                    scenario,
                    imaginer,
                }
            })
            .collect()
    }

    /// Steps the slots still running; `None` for the others.
    fn step_active(
        &mut self,
        actions: &[Action],
        ended: &[Option<Option<DoneReason>>],
    ) -> Result<Vec<Option<Step>>, AgentError> {
        let count = actions.len();
        Ok(match &mut self.envs {
            Envs::Physics(envs) => envs[..count]
                .par_iter_mut()
                .zip(actions.par_iter())
                .zip(ended.par_iter())
                .map(|((env, a), end)| end.is_none().then(|| env.step(a)).transpose())
                .collect::<Result<Vec<_>, EnvError>>()?,
            Envs::Dream(envs) => {
                let mut some: Vec<Option<Action>> = vec![None; envs.num_envs()];
                for k in 0..count {
                    if ended[k].is_none() {
                        some[k] = Some(actions[k].clone());
                    }
                }
                let mut out = envs.step_some(&some)?;
                out.truncate(count);
                out
            }
        })
    }
}
