//! The physics-consistency evaluation, measured from pixels alone, so any frame
//! source is scored the same way.
//!
//! For each seeded episode the model dreams from the physics context (`W` true
//! frames) while physics runs on with the same actions. Against the true frames
//! the evaluation scores, per horizon (1 to 256 steps, log-spaced), with 95%
//! intervals over episodes:
//! - the model; the baselines on the very same episodes (copy the last frame,
//!   reflected constant velocity, the arena centre); physics itself (zero error, a
//!   check of the measurement); and the ceiling: physics rerun with every object
//!   nudged by a tiny fraction of the arena (chaotic divergence no model can beat);
//! - centroid error (pixels, and metres through the arena's scale, see
//!   [`episodes::metres_per_px`]), the share of objects kept (one blob of 0.5 to 2
//!   times the true area), the median area ratio, PSNR and SSIM, velocity error
//!   (finite differences of centroids) and whether the object count is preserved
//!   ([`meter`], world_model's metrics);
//! - per whole rollout: the timing of collisions (bounces in the centroid tracks,
//!   each true one matched to a predicted one of the same object);
//! - over the whole run: objects kept, inside the arena and the background intact;
//! - action-following ([`follow`]);
//! - where terminations exist, whether the dream ends its episodes when physics
//!   does ([`episode_end`]).

pub mod episode_end;
pub mod episodes;
pub mod follow;
pub mod meter;
pub mod output;
mod report;

pub use report::{CeilingPoint, ConsistencyReport, EpisodeScore, LongRun, MethodSummary};

use somnium_scenarios::Scenario;
use somnium_world_model::metrics::{
    default_horizons, EvalConfig, FrameSpec, HorizonEvaluator, Rollout,
};

use crate::dream::DreamModel;
use crate::lockstep::ActionPlan;
use crate::EnvError;
use episodes::{arena_size_m, metres_per_px, run_batch, EpisodeFrames};
use meter::{manifest_colors, FrameMeter};

/// What to run.
#[derive(Clone, Debug)]
pub struct ConsistencyConfig {
    /// Episodes (seeds `seed, seed + 1, ...`).
    pub episodes: usize,
    /// Longest horizon, in dreamed steps (horizons are 1, 2, 4, ... up to it).
    pub max_horizon: usize,
    pub seed: u64,
    /// Where the actions come from.
    pub plan: ActionPlan,
    /// Episodes dreamed in one batched forward pass.
    pub batch: usize,
    /// The ceiling's perturbation, as a fraction of the arena size.
    pub perturbation: f32,
    /// Steps of the action-following test (0 to skip it).
    pub follow_horizon: usize,
    /// Episodes of the action-following test.
    pub follow_episodes: usize,
}

impl Default for ConsistencyConfig {
    fn default() -> Self {
        Self {
            episodes: 50,
            max_horizon: 256,
            seed: 10_000,
            plan: ActionPlan::Random { seed: 0 },
            batch: 10,
            perturbation: 1e-4,
            follow_horizon: 16,
            follow_episodes: 10,
        }
    }
}

/// The evaluation's result plus the frames of its worst and median episodes (by
/// mean centroid error over horizons 1 to 32), for GIFs.
pub struct ConsistencyOutcome {
    pub report: ConsistencyReport,
    pub worst: Option<EpisodeFrames>,
    pub median: Option<EpisodeFrames>,
}

/// Most bytes of episode frames kept in memory for the worst and median GIFs.
const KEEP_FRAMES_BYTES: usize = 256 << 20;

/// Names of the extra methods in the horizon report.
pub const PHYSICS: &str = "physics";
pub const PERTURBED: &str = "physics_perturbed";

/// Runs the consistency evaluation of `model` on `scenario`; `progress(done, total)` counts
/// dreamed batch steps.
pub fn run_consistency(
    model: &DreamModel,
    scenario: &dyn Scenario,
    config: &ConsistencyConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<ConsistencyOutcome, EnvError> {
    if config.episodes == 0 || config.max_horizon == 0 {
        return Err(EnvError::BadConfig(
            "the consistency evaluation needs at least one episode and one step".into(),
        ));
    }
    model.check_scenario(scenario)?;
    let wn = model.context_frames();
    let (h, w) = model.frame_size();
    let steps = wn + config.max_horizon;
    let colors = scenario.colors();
    let spec = FrameSpec {
        height: h,
        width: w,
        colors: manifest_colors(&colors),
        background: colors.background,
        arena_px: scenario.arena_px(w, h),
        metres_per_px: metres_per_px(scenario, w, h),
    };
    let horizons = default_horizons(config.max_horizon);
    let evaluator = |name: &str| {
        HorizonEvaluator::new(
            spec.clone(),
            EvalConfig {
                horizons: horizons.clone(),
                model_name: name.into(),
                ..EvalConfig::default()
            },
        )
    };
    let (mut main, mut physics, mut perturbed) = (
        evaluator("model")?,
        evaluator(PHYSICS)?,
        evaluator(PERTURBED)?,
    );
    let meter = FrameMeter::new(&colors, h, w, spec.arena_px);
    let nudge = config.perturbation * arena_size_m(scenario);
    let mut long = report::LongRunAcc::new(config.max_horizon);
    let mut scores: Vec<EpisodeScore> = Vec::new();
    let batch = config.batch.max(1);
    let total = config.episodes.div_ceil(batch) * config.max_horizon;
    let mut done = 0;
    let seeds: Vec<u64> = (0..config.episodes as u64)
        .map(|i| config.seed + i)
        .collect();
    // Episodes' frames are kept for the GIFs while they fit the budget; past it the
    // worst and median episodes are dreamed again (deterministic: same frames).
    let fb = h * w * 3;
    let keep = config.episodes * steps * fb * 2 <= KEEP_FRAMES_BYTES;
    let mut kept: Vec<EpisodeFrames> = Vec::new();
    let mut ends = Vec::with_capacity(config.episodes);
    for chunk in seeds.chunks(batch) {
        let episodes = run_batch(model, scenario, chunk, &config.plan, steps, nudge, || {
            done += 1;
            progress(done, total);
        })?;
        for ep in &episodes {
            ends.push((ep.physics_end, ep.dream_end));
            let predicted = &ep.dream[wn * fb..];
            main.add(&Rollout {
                truth: &ep.physics,
                start: wn,
                predicted: Some(predicted),
            })?;
            physics.add(&Rollout {
                truth: &ep.physics,
                start: wn,
                predicted: Some(&ep.physics[wn * fb..]),
            })?;
            perturbed.add(&Rollout {
                truth: &ep.physics,
                start: wn,
                predicted: Some(&ep.perturbed[wn * fb..]),
            })?;
            let mut early = Vec::new();
            for t in wn..ep.dream_frames {
                let (d, p) = (
                    &ep.dream[t * fb..(t + 1) * fb],
                    &ep.physics[t * fb..(t + 1) * fb],
                );
                let pair = meter.measure(t, d, p)?;
                if t - wn < 32 {
                    early.extend(pair.metrics.centroid_error_px.map(f64::from));
                }
                long.add(
                    t - wn + 1,
                    &pair.metrics,
                    meter.background_share(d)?,
                    meter.background_share(p)?,
                );
            }
            scores.push(EpisodeScore {
                seed: ep.seed,
                mean_error_px_h1_32: somnium_world_model::metrics::Stat::of(&early).map(|s| s.mean),
                dreamed_steps: ep.dream_frames - wn,
            });
        }
        if keep {
            kept.extend(episodes.into_iter().map(|mut e| {
                e.perturbed = Vec::new();
                e
            }));
        }
    }
    let mut horizon_report = main.report();
    for extra in [physics.report(), perturbed.report()] {
        if let Some(m) = extra.methods.into_iter().next() {
            horizon_report.methods.push(m);
        }
    }
    let follow_seeds: Vec<u64> = seeds.iter().copied().take(config.follow_episodes).collect();
    let following = if config.follow_horizon > 0 && !follow_seeds.is_empty() {
        follow::action_following(model, scenario, &follow_seeds, config.follow_horizon)?
    } else {
        None
    };
    let (worst_seed, median_seed) = report::worst_and_median(&scores);
    let mut rerun = |seed: Option<u64>| -> Result<Option<EpisodeFrames>, EnvError> {
        if let Some(i) = seed.and_then(|s| kept.iter().position(|e| e.seed == s)) {
            return Ok(Some(kept.swap_remove(i)));
        }
        match seed {
            Some(s) => {
                Ok(run_batch(model, scenario, &[s], &config.plan, steps, nudge, || {})?.pop())
            }
            None => Ok(None),
        }
    };
    let mut report = ConsistencyReport::assemble(
        scenario,
        model,
        config,
        horizon_report,
        long.finish(),
        following,
        scores,
        nudge,
    );
    report.episode_ends = episode_end::EpisodeEnds::of(&ends, config.max_horizon);
    let worst = rerun(worst_seed)?;
    let median = if median_seed == worst_seed {
        worst.as_ref().map(EpisodeFrames::clone)
    } else {
        rerun(median_seed)?
    };
    Ok(ConsistencyOutcome {
        report,
        worst,
        median,
    })
}

#[cfg(test)]
mod tests;
