//! The evaluation's episodes: the seeded action source and the physics warm-up
//! the benchmark tasks are made with ([`super::tasks`]), the frames of a scored
//! episode kept for its GIF, and the arena's scale.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium_scenarios::{Action, Scenario};

use crate::dream::warmup_action;
use crate::lockstep::ActionPlan;
use crate::EnvError;

/// One episode's frame streams, `[T, H, W, 3]` u8 each, the first `W` the context
/// (the dream's stream: the context, then the prediction).
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
