//! The physics-consistency evaluation, measured from pixels alone, so any frame
//! source is scored the same way.
//!
//! One code path for every predictor: benchmark tasks ([`tasks`]: physics
//! episodes from seeds, with their context frames, recorded actions, true and
//! perturbed futures) go to a predictor ([`predict`]: somnium's model dreaming
//! them in batches, or frames read from a predictions file by `somnium benchmark
//! score`), and [`score`] scores the predictions. Against the true frames the
//! evaluator (world_model's metrics) measures, per horizon (1 to 256 steps,
//! log-spaced) and over every step 1 to 32, with 95% intervals over episodes:
//! - the predictor; physics itself (zero error, a check of the measurement); the
//!   ceiling: physics rerun with every object nudged by a tiny fraction of the
//!   arena (chaotic divergence no predictor can beat); and the baselines the
//!   evaluator draws as frames (copy the last frame, reflected constant
//!   velocity, the arena centre, and where actions drive an object the
//!   action-aware baseline fitted on calibration episodes);
//! - per object: mask IoU (kept at 0.5), centroid error with missed objects at a
//!   penalty, miss rate, area ratio, velocity error; per frame PSNR, SSIM and
//!   sharpness; collision timing per rollout;
//! - paired bootstrap intervals of the predictor minus each other method, and the
//!   "beats" verdicts;
//! - over the whole run: objects kept, inside the arena and the background intact;
//! - action-following ([`follow`]) and counterfactual action fidelity
//!   ([`counterfactual`]), for somnium's model;
//! - where terminations exist, whether the prediction ends its episodes when
//!   physics does ([`episode_end`]).

pub mod compare;
#[cfg(test)]
mod compare_tests;
pub mod counterfactual;
pub mod episode_end;
pub mod episodes;
pub mod follow;
pub mod meter;
pub mod output;
pub mod permanence;
#[cfg(test)]
mod permanence_tests;
pub mod predfile;
pub mod predict;
mod report;
mod report_md;
pub mod score;
pub mod taskfile;
pub mod tasks;

pub use report::{
    CeilingPoint, ConsistencyReport, EpisodeHorizon, EpisodeScore, LongRun, MethodSummary,
    VerdictSummary,
};

use somnium_scenarios::Scenario;

use crate::dream::DreamModel;
use crate::lockstep::ActionPlan;
use crate::EnvError;
use episodes::EpisodeFrames;
use predict::{ModelPredictor, Predictor};
use score::ScoreSetup;

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
    /// Steps of the action-following and counterfactual tests (0 to skip them).
    pub follow_horizon: usize,
    /// Episodes (states) of the action-following and counterfactual tests.
    pub follow_episodes: usize,
    /// Pairs of random action sequences per state of the counterfactual test (0 to skip it).
    pub counterfactual_pairs: usize,
    /// Whether to score the action-aware baseline (where actions drive an object).
    pub action_aware: bool,
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
            counterfactual_pairs: 8,
            action_aware: true,
        }
    }
}

impl ConsistencyConfig {
    /// The tasks and scoring of this evaluation at `context_frames` and `size`.
    pub fn setup(&self, context_frames: usize, size: (usize, usize)) -> ScoreSetup {
        ScoreSetup {
            seeds: (0..self.episodes as u64).map(|i| self.seed + i).collect(),
            plan: self.plan.clone(),
            context_frames,
            horizon: self.max_horizon,
            size,
            perturbation: self.perturbation,
            batch: self.batch,
            action_aware: self.action_aware,
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

/// Names of the extra frame sources in the horizon report.
pub const PHYSICS: &str = "physics";
pub const PERTURBED: &str = "physics_perturbed";
/// The name of somnium's model in its own evaluation.
pub const MODEL: &str = "model";

/// Scores `predictor` on the tasks of `setup` and assembles the report (without
/// the model-only tests); `progress(done, total)` counts predicted chunk steps.
pub fn score_predictor(
    scenario: &dyn Scenario,
    setup: &ScoreSetup,
    predictor: &mut dyn Predictor,
    progress: impl FnMut(usize, usize),
) -> Result<ConsistencyOutcome, EnvError> {
    let scored = score::score(scenario, setup, predictor, progress)?;
    Ok(ConsistencyReport::assemble(
        scenario,
        predictor.name(),
        predictor.source(),
        setup,
        scored,
    ))
}

/// Runs the consistency evaluation of `model` on `scenario`: its tasks dreamed by
/// the model and scored, plus action following and counterfactual fidelity;
/// `progress(done, total)` counts dreamed batch steps.
pub fn run_consistency(
    model: &DreamModel,
    scenario: &dyn Scenario,
    config: &ConsistencyConfig,
    progress: impl FnMut(usize, usize),
) -> Result<ConsistencyOutcome, EnvError> {
    if config.episodes == 0 || config.max_horizon == 0 {
        return Err(EnvError::BadConfig(
            "the consistency evaluation needs at least one episode and one step".into(),
        ));
    }
    model.check_scenario(scenario)?;
    let setup = config.setup(model.context_frames(), model.frame_size());
    let mut predictor = ModelPredictor {
        model,
        scenario,
        name: MODEL.into(),
    };
    let mut outcome = score_predictor(scenario, &setup, &mut predictor, progress)?;
    let follow_seeds: Vec<u64> = setup
        .seeds
        .iter()
        .copied()
        .take(config.follow_episodes)
        .collect();
    if config.follow_horizon > 0 && !follow_seeds.is_empty() {
        outcome.report.action_following =
            follow::action_following(model, scenario, &follow_seeds, config.follow_horizon)?;
        outcome.report.counterfactual = counterfactual::counterfactual_fidelity(
            model,
            scenario,
            &follow_seeds,
            config.counterfactual_pairs,
            config.follow_horizon,
        )?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests;
