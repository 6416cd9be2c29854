//! Scoring: the one code path from tasks and a predictor to the numbers, shared by
//! `somnium eval` (somnium's model as the predictor) and `somnium benchmark score`
//! (frames from a predictions file).
//!
//! Tasks are generated chunk by chunk ([`super::tasks`]), the predictor predicts
//! each chunk, and every episode feeds the horizon evaluator as one rollout with
//! three frame sources (the predictor, physics, perturbed physics; the evaluator
//! draws the baselines itself), the long-run accumulator (whether the prediction
//! holds together), the per-episode score (to find the worst and median episodes)
//! and the episode ends. For scenarios whose actions move something, the
//! evaluator's action-aware baseline is fitted first on calibration episodes far
//! from the benchmark's seeds ([`fit_action_model`]).

use somnium_scenarios::Scenario;
use somnium_world_model::metrics::{
    default_horizons, ActionModel, EvalConfig, EvalReport, FrameSpec, HorizonEvaluator, Rollout,
    Source,
};

use super::episode_end::EpisodeEnds;
use super::episodes::{arena_size_m, metres_per_px, EpisodeFrames};
use super::follow::controlled_object;
use super::meter::{manifest_colors, FrameMeter};
use super::permanence::{episode_events, PermanenceSummary};
use super::predict::{Prediction, Predictor};
use super::report::{EpisodeHorizon, EpisodeScore, LongRun, LongRunAcc};
use super::tasks::{encode_actions, generate_tasks, Task};
use super::{PERTURBED, PHYSICS};
use crate::lockstep::ActionPlan;
use crate::EnvError;

/// Seeds of the action model's calibration episodes start this far from the benchmark's.
pub const CALIBRATION_SEED_OFFSET: u64 = 1_000_000;
/// Calibration episodes and their length in frames (context included).
pub const CALIBRATION_EPISODES: usize = 20;
pub const CALIBRATION_FRAMES: usize = 64;

/// Most bytes of episode frames kept in memory for the worst and median GIFs.
const KEEP_FRAMES_BYTES: usize = 256 << 20;

/// What to score: the tasks (seeds, actions, sizes) and how.
#[derive(Clone, Debug)]
pub struct ScoreSetup {
    pub seeds: Vec<u64>,
    pub plan: ActionPlan,
    pub context_frames: usize,
    /// Steps predicted after the context (the longest horizon).
    pub horizon: usize,
    /// `(height, width)` of the frames.
    pub size: (usize, usize),
    /// The ceiling's perturbation, as a fraction of the arena size.
    pub perturbation: f32,
    /// Tasks generated and predicted at once.
    pub batch: usize,
    /// Whether to fit and score the action-aware baseline (where the scenario has one).
    pub action_aware: bool,
}

/// What scoring measured, plus the worst and median episodes' frames.
pub struct Scored {
    pub horizons: EvalReport,
    pub long_run: LongRun,
    pub episode_scores: Vec<EpisodeScore>,
    pub episode_ends: Option<EpisodeEnds>,
    /// The perturbation in metres.
    pub nudge_m: f32,
    pub worst: Option<EpisodeFrames>,
    pub median: Option<EpisodeFrames>,
    /// Hide-and-return events of the predictor (where the truth has any).
    pub permanence: Option<PermanenceSummary>,
}

/// The evaluator's view of a scenario's frames.
pub fn frame_spec(scenario: &dyn Scenario, (h, w): (usize, usize)) -> FrameSpec {
    let colors = scenario.colors();
    FrameSpec {
        height: h,
        width: w,
        colors: manifest_colors(&colors),
        background: colors.background,
        arena_px: scenario.arena_px(w, h),
        metres_per_px: metres_per_px(scenario, w, h),
    }
}

/// The colour-table index of the object the scenario's actions drive, `None`
/// where its action space is empty or nothing is driven.
pub fn controlled_table_index(scenario: &dyn Scenario, (h, w): (usize, usize)) -> Option<usize> {
    if scenario.action_space().flat_dim() == 0 {
        return None;
    }
    let colors = scenario.colors();
    let meter = FrameMeter::new(&colors, h, w, scenario.arena_px(w, h));
    let name = &meter.names()[controlled_object(&meter)?];
    colors.objects.iter().position(|o| &o.name == name)
}

/// Fits the action-aware baseline's model on [`CALIBRATION_EPISODES`] physics
/// episodes of `plan`, seeds from `first_seed + CALIBRATION_SEED_OFFSET`; `None`
/// where the scenario drives nothing or the fit is not possible.
pub fn fit_action_model(
    scenario: &dyn Scenario,
    plan: &ActionPlan,
    first_seed: u64,
    context_frames: usize,
    size: (usize, usize),
) -> Result<Option<(usize, ActionModel)>, EnvError> {
    let Some(object) = controlled_table_index(scenario, size) else {
        return Ok(None);
    };
    let seeds: Vec<u64> = (0..CALIBRATION_EPISODES as u64)
        .map(|i| first_seed.wrapping_add(CALIBRATION_SEED_OFFSET + i))
        .collect();
    let steps = CALIBRATION_FRAMES.saturating_sub(context_frames).max(1);
    let tasks = generate_tasks(scenario, &seeds, plan, context_frames, steps, size, 0.0)?;
    let space = scenario.action_space();
    let encoded: Vec<Vec<Vec<f32>>> = tasks
        .iter()
        .map(|t| encode_actions(&space, &t.actions))
        .collect();
    let episodes: Vec<(&[u8], &[Vec<f32>])> = tasks
        .iter()
        .zip(&encoded)
        .map(|(t, a)| (&t.frames[..], &a[..]))
        .collect();
    let spec = frame_spec(scenario, size);
    Ok(ActionModel::fit(&spec, object, &episodes)?.map(|m| (object, m)))
}

/// Scores `predictor` on the tasks of `setup`; `progress(done, total)` counts predicted chunk steps.
pub fn score(
    scenario: &dyn Scenario,
    setup: &ScoreSetup,
    predictor: &mut dyn Predictor,
    mut progress: impl FnMut(usize, usize),
) -> Result<Scored, EnvError> {
    if setup.seeds.is_empty() || setup.horizon == 0 || setup.context_frames == 0 {
        return Err(EnvError::BadConfig(
            "scoring needs at least one episode, one context frame and one step".into(),
        ));
    }
    let (h, w) = setup.size;
    let spec = frame_spec(scenario, setup.size);
    let config = EvalConfig {
        horizons: default_horizons(setup.horizon),
        ..EvalConfig::default()
    };
    let mut evaluator = HorizonEvaluator::new(spec, config)?;
    let first_seed = setup.seeds[0];
    if setup.action_aware {
        if let Some((object, model)) = fit_action_model(
            scenario,
            &setup.plan,
            first_seed,
            setup.context_frames,
            setup.size,
        )? {
            evaluator = evaluator.with_action_model(object, model);
        }
    }
    let space = scenario.action_space();
    let meter = FrameMeter::new(&scenario.colors(), h, w, scenario.arena_px(w, h));
    let nudge_m = setup.perturbation * arena_size_m(scenario);
    let wn = setup.context_frames;
    let fb = h * w * 3;
    let mut long = LongRunAcc::new(setup.horizon);
    let mut scores = Vec::with_capacity(setup.seeds.len());
    let mut permanence = Vec::new();
    let mut ends = Vec::with_capacity(setup.seeds.len());
    let batch = setup.batch.max(1);
    let total = setup.seeds.len().div_ceil(batch) * setup.horizon;
    let keep = setup.seeds.len() * (wn + setup.horizon) * fb * 2 <= KEEP_FRAMES_BYTES;
    let mut kept: Vec<EpisodeFrames> = Vec::new();
    let mut done = 0;
    let chunk_tasks = |seeds: &[u64]| {
        generate_tasks(
            scenario,
            seeds,
            &setup.plan,
            wn,
            setup.horizon,
            setup.size,
            nudge_m,
        )
    };
    for chunk in setup.seeds.chunks(batch) {
        let tasks = chunk_tasks(chunk)?;
        let predictions = predict_checked(predictor, &tasks, fb, &mut || {
            done += 1;
            progress(done, total);
        })?;
        for (task, pred) in tasks.iter().zip(&predictions) {
            let actions = encode_actions(&space, task.future_actions());
            evaluator.add(&Rollout {
                truth: &task.frames,
                start: wn,
                sources: vec![
                    Source {
                        name: predictor.name(),
                        frames: &pred.frames,
                    },
                    Source {
                        name: PHYSICS,
                        frames: task.future(),
                    },
                    Source {
                        name: PERTURBED,
                        frames: &task.perturbed,
                    },
                ],
                actions: Some(&actions),
            })?;
            let p = pred.frames.len() / fb;
            for k in 0..p {
                let (d, t) = (
                    &pred.frames[k * fb..(k + 1) * fb],
                    &task.future()[k * fb..(k + 1) * fb],
                );
                let mut pair = meter.measure(wn + k, d, t)?;
                // kept as the evaluator counts it: mask IoU at least one half
                pair.metrics.kept = meter.kept_iou(d, t)?;
                long.add(
                    k + 1,
                    &pair.metrics,
                    meter.background_share(d)?,
                    meter.background_share(t)?,
                );
            }
            scores.push(EpisodeScore {
                seed: task.seed,
                // from the evaluator below
                mean_error_px_h1_32: None,
                mean_kept_h1_32: None,
                dreamed_steps: p,
                at_horizons: Vec::new(),
            });
            ends.push((task.physics_end, pred.end));
            let context = task.context();
            permanence.extend(episode_events(
                &meter,
                task.seed,
                &context[context.len() - fb..],
                task.future(),
                &pred.frames,
            )?);
        }
        if keep {
            kept.extend(tasks.iter().zip(&predictions).map(|(t, p)| frames_of(t, p)));
        }
    }
    // The episodes' errors as the evaluator counts them (misses at the penalty).
    let name = predictor.name();
    let horizons = evaluator.table_horizons();
    for (((score, error), kept), at) in scores
        .iter_mut()
        .zip(evaluator.episode_errors(name))
        .zip(evaluator.episode_kept(name))
        .zip(evaluator.episode_at_horizons(name))
    {
        score.mean_error_px_h1_32 = error;
        score.mean_kept_h1_32 = kept;
        score.at_horizons = horizons
            .iter()
            .zip(at)
            .map(|(&horizon, v)| EpisodeHorizon {
                horizon,
                error_px: v.map(|p| p.0),
                kept: v.map(|p| p.1),
            })
            .collect();
    }
    let (worst_seed, median_seed) = super::report::worst_and_median(&scores);
    let mut rerun = |seed: Option<u64>| -> Result<Option<EpisodeFrames>, EnvError> {
        let Some(s) = seed else { return Ok(None) };
        if let Some(i) = kept.iter().position(|e| e.seed == s) {
            return Ok(Some(kept.swap_remove(i)));
        }
        let tasks = chunk_tasks(&[s])?;
        let preds = predict_checked(predictor, &tasks, fb, &mut || {})?;
        Ok(tasks
            .first()
            .zip(preds.first())
            .map(|(t, p)| frames_of(t, p)))
    };
    let worst = rerun(worst_seed)?;
    let median = if median_seed == worst_seed {
        worst.clone()
    } else {
        rerun(median_seed)?
    };
    Ok(Scored {
        horizons: evaluator.report(),
        long_run: long.finish(),
        episode_scores: scores,
        episode_ends: EpisodeEnds::of(&ends, setup.horizon),
        nudge_m,
        worst,
        median,
        permanence: PermanenceSummary::of(permanence),
    })
}

/// The predictor's answer for `tasks`, checked: one prediction per task, whole
/// frames, no more than the horizon.
fn predict_checked(
    predictor: &mut dyn Predictor,
    tasks: &[Task],
    fb: usize,
    on_step: &mut dyn FnMut(),
) -> Result<Vec<Prediction>, EnvError> {
    let preds = predictor.predict(tasks, on_step)?;
    if preds.len() != tasks.len() {
        return Err(EnvError::BadConfig(format!(
            "the predictor gave {} predictions for {} tasks",
            preds.len(),
            tasks.len()
        )));
    }
    for (t, p) in tasks.iter().zip(&preds) {
        if p.frames.len() % fb != 0 || p.frames.len() / fb > t.horizon() {
            return Err(EnvError::BadConfig(format!(
                "the prediction of seed {} is {} bytes: not whole frames of {fb} bytes, at most {}",
                t.seed,
                p.frames.len(),
                t.horizon()
            )));
        }
    }
    Ok(preds)
}

/// One scored episode's frames for the GIFs: physics, and the context followed by the prediction.
fn frames_of(task: &Task, pred: &Prediction) -> EpisodeFrames {
    let mut dream = task.context().to_vec();
    dream.extend_from_slice(&pred.frames);
    EpisodeFrames {
        seed: task.seed,
        physics: task.frames.clone(),
        dream_frames: task.context_frames + pred.frames.len() / task.frame_bytes().max(1),
        dream,
        perturbed: Vec::new(),
        physics_end: task.physics_end,
        dream_end: pred.end,
    }
}
