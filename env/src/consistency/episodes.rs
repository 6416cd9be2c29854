//! Running the evaluation's episodes: a batch of dreams stepped in one forward pass
//! per step next to their physics twins and perturbed physics twins, all from the
//! same seeds with the same actions.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium_scenarios::{Action, Scenario};

use crate::dream::{warmup_action, DreamModel};
use crate::lockstep::{clone_scenario, ActionPlan};
use crate::{DreamEnv, DreamVecEnv, EnvError};

/// One episode's frame streams, `[T, H, W, 3]` u8 each, the first `W` the context.
#[derive(Clone, Debug)]
pub struct EpisodeFrames {
    pub seed: u64,
    pub physics: Vec<u8>,
    pub dream: Vec<u8>,
    /// Physics rerun with every dynamic body nudged at the end of the context.
    pub perturbed: Vec<u8>,
    /// Frames in each stream (the dream may stop early if it predicts termination).
    pub dream_frames: usize,
    /// The first step after the context where physics terminated (1-based).
    pub physics_end: Option<usize>,
    /// The first step after the context where the dream predicted termination.
    pub dream_end: Option<usize>,
}

/// Arena size (metres) of a scenario ([`Scenario::arena_size`]; 1 where it has
/// no arena), for scaling the perturbation.
pub fn arena_size_m(scenario: &dyn Scenario) -> f32 {
    scenario.arena_size().unwrap_or(1.0)
}

/// Metres per pixel at the height of the objects' centres in `width x height`
/// frames, `None` where the scenario has no arena.
///
/// The scenario's `arena_px` is the camera projection of the square where object
/// centres can lie: its [`Scenario::arena`] less the inset of the objects'
/// centres from the walls on each side (the ball radius in `bounce-v0`, the cube
/// half size in `push-v0`), projected at the centres' height. The camera of these
/// scenes looks straight down, so that plane has one scale:
/// [`somnium_scenarios::Arena::centre_span`] over the arena's width in pixels (the
/// mean of the horizontal and vertical extents; pixels are square). Objects at
/// another height (a ball's top) would be scaled differently under the
/// perspective camera; the centroid of a ball's silhouette sits at its centre's
/// projection.
pub fn metres_per_px(scenario: &dyn Scenario, width: usize, height: usize) -> Option<f32> {
    let [x0, y0, x1, y1] = scenario.arena_px(width, height)?;
    let span_m = scenario.arena()?.centre_span();
    let span_px = 0.5 * ((x1 - x0) + (y1 - y0));
    (span_m > 0.0 && span_px > 0.0 && span_px.is_finite()).then(|| span_m / span_px)
}

/// The action source of one episode.
pub(crate) struct Actor {
    plan: ActionPlan,
    rng: ChaCha8Rng,
    step: usize,
}

impl Actor {
    pub(crate) fn new(plan: &ActionPlan, episode_seed: u64) -> Self {
        let base = match plan {
            ActionPlan::Random { seed } | ActionPlan::Scripted { seed } => *seed,
            _ => 0,
        };
        Self {
            plan: plan.clone(),
            rng: ChaCha8Rng::seed_from_u64(base ^ episode_seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            step: 0,
        }
    }

    pub(crate) fn next(&mut self, twin: &dyn Scenario) -> Action {
        let space = twin.action_space();
        let warmup = warmup_action(&space);
        self.step += 1;
        match &self.plan {
            ActionPlan::Idle => warmup,
            ActionPlan::Random { .. } => space.sample(&mut self.rng),
            ActionPlan::Scripted { .. } => twin.scripted_action(&mut self.rng),
            ActionPlan::Recorded(list) => list.get(self.step - 1).cloned().unwrap_or(warmup),
        }
    }
}

/// A scenario reset to `seed` and stepped through the `W - 1` warm-up actions;
/// returns the context frames.
pub(crate) fn warm_twin(
    twin: &mut dyn Scenario,
    seed: u64,
    wn: usize,
    (h, w): (usize, usize),
) -> Result<Vec<u8>, EnvError> {
    Ok(crate::dream::context_frames(twin, seed, wn, w, h)?
        .into_iter()
        .flat_map(|f| f.data)
        .collect())
}

/// Runs episodes `seeds` for `steps` frames each (context included), dreaming
/// them in one batch. `nudge_m` is the perturbation of the perturbed twins.
pub fn run_batch(
    model: &DreamModel,
    prototype: &dyn Scenario,
    seeds: &[u64],
    plan: &ActionPlan,
    steps: usize,
    nudge_m: f32,
    mut on_step: impl FnMut(),
) -> Result<Vec<EpisodeFrames>, EnvError> {
    let wn = model.context_frames();
    let size = model.frame_size();
    let (h, w) = size;
    let envs = seeds
        .iter()
        .map(|_| {
            let mut env = DreamEnv::new(clone_scenario(prototype)?, model.clone())?
                .with_max_episode_steps(None);
            env.set_ignore_termination(true);
            Ok(env)
        })
        .collect::<Result<Vec<_>, EnvError>>()?;
    let mut dreams = DreamVecEnv::new(envs)?;
    let mut twins = Vec::with_capacity(seeds.len());
    let mut perturbed = Vec::with_capacity(seeds.len());
    let mut episodes = Vec::with_capacity(seeds.len());
    for (i, &seed) in seeds.iter().enumerate() {
        dreams.reset_one(i, seed)?;
        let mut twin = clone_scenario(prototype)?;
        let context = warm_twin(twin.as_mut(), seed, wn, size)?;
        let mut other = clone_scenario(prototype)?;
        warm_twin(other.as_mut(), seed, wn, size)?;
        other.nudge(nudge_m, seed ^ 0xBADC_0FFE);
        twins.push(twin);
        perturbed.push(other);
        episodes.push(EpisodeFrames {
            seed,
            physics: context.clone(),
            dream: context.clone(),
            perturbed: context,
            dream_frames: wn,
            physics_end: None,
            dream_end: None,
        });
    }
    let mut actors: Vec<Actor> = seeds.iter().map(|&s| Actor::new(plan, s)).collect();
    let mut alive = vec![true; seeds.len()];
    for t in wn..steps {
        let actions: Vec<Action> = actors
            .iter_mut()
            .zip(&twins)
            .map(|(a, t)| a.next(t.as_ref()))
            .collect();
        let step = dreams.step(&actions)?;
        for i in 0..seeds.len() {
            let ended = twins[i].step(&actions[i])?.terminated;
            perturbed[i].step(&actions[i])?;
            let ep = &mut episodes[i];
            let predicted = step.infos[i]
                .extra
                .get("terminated_prob")
                .and_then(serde_json::Value::as_f64)
                .is_some_and(|p| p > 0.5);
            if ended && ep.physics_end.is_none() {
                ep.physics_end = Some(t + 1 - wn);
            }
            if predicted && ep.dream_end.is_none() {
                ep.dream_end = Some(t + 1 - wn);
            }
            ep.physics.extend(twins[i].render(w, h).data);
            ep.perturbed.extend(perturbed[i].render(w, h).data);
            if alive[i] {
                // a dream that predicted termination was reset by the vector env: stop its stream
                match &step.infos[i].final_observation {
                    Some(last) => {
                        ep.dream.extend_from_slice(&last.frame.data);
                        alive[i] = false;
                    }
                    None => ep.dream.extend_from_slice(&step.obs[i].frame.data),
                }
                ep.dream_frames += 1;
            }
        }
        on_step();
    }
    Ok(episodes)
}
