//! [`ConsistencyReport`]: the evaluation's numbers as JSON (the Markdown is in
//! `report_md.rs`), plus the accumulators behind its long-run figures.

use serde::{Deserialize, Serialize};
use somnium_scenarios::Scenario;
use somnium_world_model::metrics::{median, Comparison, EvalReport, Interval, Stat, Summary};

use super::counterfactual::CounterfactualFidelity;
use super::episode_end::EpisodeEnds;
use super::follow::ActionFollowing;
use super::score::{ScoreSetup, Scored};
use super::{ConsistencyOutcome, PERTURBED};
use crate::rollout::StepMetrics;

/// One method's headline numbers: the evaluator's means over every step 1 to 32.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodSummary {
    pub name: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// The predictor against one other method, over every step 1 to 32: the paired
/// bootstrap intervals behind the verdict, and the verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerdictSummary {
    pub baseline: String,
    pub beats: bool,
    pub why: String,
    /// Steps averaged per episode (32, or fewer where the horizon is shorter).
    pub steps: usize,
    pub episodes: usize,
    /// Predictor minus baseline centroid error, pixels (below zero: closer).
    pub error_diff_px: Option<Interval>,
    /// Predictor minus baseline kept share (above zero: keeps more).
    pub kept_diff: Option<Interval>,
}

impl VerdictSummary {
    fn of(c: &Comparison) -> Self {
        Self {
            baseline: c.baseline.clone(),
            beats: c.verdict.beats,
            why: c.verdict.why.clone(),
            steps: c.h1_32.horizon,
            episodes: c.h1_32.episodes,
            error_diff_px: c.h1_32.error_diff_px,
            kept_diff: c.h1_32.kept_diff,
        }
    }
}

/// The model's error next to the perturbed-physics ceiling at one horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CeilingPoint {
    pub horizon: usize,
    pub model_error_px: Option<Stat>,
    pub perturbed_error_px: Option<Stat>,
    /// Model error over the ceiling's (1 would match chaotic divergence).
    pub model_over_ceiling: Option<f64>,
}

/// One episode's score (to find the worst and median ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeScore {
    pub seed: u64,
    pub mean_error_px_h1_32: Option<f64>,
    /// Share of the true objects kept (mask IoU >= 0.5) over steps 1 to 32.
    #[serde(default)]
    pub mean_kept_h1_32: Option<f64>,
    pub dreamed_steps: usize,
    /// The predictor's error and kept share at each table horizon up to 32, so
    /// that two reports on the same seeds compare episode by episode
    /// (`somnium benchmark compare`).
    #[serde(default)]
    pub at_horizons: Vec<EpisodeHorizon>,
}

/// One episode at one horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeHorizon {
    pub horizon: usize,
    pub error_px: Option<f64>,
    pub kept: Option<f64>,
}

/// Whether long dreams hold together, over every dreamed frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LongRun {
    /// Share of (frame, object) pairs with the object kept (mask IoU at least 0.5,
    /// over the objects physics shows), horizons 1..=32.
    pub kept_share_h32: Option<f64>,
    /// The same over every horizon up to the longest.
    pub kept_share_all: Option<f64>,
    /// The same over the last 32 horizons (the end of the run).
    pub kept_share_last32: Option<f64>,
    /// Median dream-over-physics area ratio over every frame and object.
    pub median_area_ratio: Option<f64>,
    /// Share of frames with every dreamed centroid inside the arena.
    pub in_arena_share: Option<f64>,
    /// Mean share of background/static pixels in the dream over that in physics.
    pub background_ratio: Option<f64>,
    /// Dreamed frames measured.
    pub frames: usize,
}

/// Accumulates [`LongRun`].
pub(crate) struct LongRunAcc {
    max_horizon: usize,
    kept: [(usize, usize); 3],
    ratios: Vec<f64>,
    in_arena: (usize, usize),
    background: (f64, f64),
}

impl LongRunAcc {
    pub(crate) fn new(max_horizon: usize) -> Self {
        Self {
            max_horizon,
            kept: [(0, 0); 3],
            ratios: Vec::new(),
            in_arena: (0, 0),
            background: (0.0, 0.0),
        }
    }

    /// Adds the metrics of the frame at `horizon` (1 = first dreamed frame).
    pub(crate) fn add(&mut self, horizon: usize, m: &StepMetrics, dream_bg: f32, physics_bg: f32) {
        for (kept, ratio) in m.kept.iter().zip(&m.area_ratio) {
            let Some(r) = ratio else { continue };
            self.ratios.push(f64::from(*r));
            let windows = [horizon <= 32, true, horizon + 32 > self.max_horizon];
            for (w, acc) in windows.iter().zip(self.kept.iter_mut()) {
                if *w {
                    acc.0 += usize::from(*kept);
                    acc.1 += 1;
                }
            }
        }
        self.in_arena.0 += usize::from(m.in_arena);
        self.in_arena.1 += 1;
        self.background.0 += f64::from(dream_bg);
        self.background.1 += f64::from(physics_bg);
    }

    pub(crate) fn finish(&self) -> LongRun {
        let share = |(k, n): (usize, usize)| (n > 0).then(|| k as f64 / n as f64);
        LongRun {
            kept_share_h32: share(self.kept[0]),
            kept_share_all: share(self.kept[1]),
            kept_share_last32: share(self.kept[2]),
            median_area_ratio: median(&self.ratios),
            in_arena_share: share(self.in_arena),
            background_ratio: (self.background.1 > 0.0)
                .then(|| self.background.0 / self.background.1),
            frames: self.in_arena.1,
        }
    }
}

/// Seeds of the worst and the median episode by error over horizons 1..=32.
pub(crate) fn worst_and_median(scores: &[EpisodeScore]) -> (Option<u64>, Option<u64>) {
    let mut scored: Vec<(f64, u64)> = scores
        .iter()
        // an episode whose dream lost every object is worse than any measured one
        .map(|s| (s.mean_error_px_h1_32.unwrap_or(f64::INFINITY), s.seed))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    (
        scored.last().map(|s| s.1),
        scored.get(scored.len() / 2).map(|s| s.1),
    )
}

/// Everything the evaluation measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsistencyReport {
    pub scenario: String,
    pub variant: String,
    /// Where the predictor came from: the model's path, or the predictions file.
    pub model: Option<String>,
    /// The predictor's name in the tables (the first method).
    pub predictor: String,
    pub episodes: usize,
    pub context_frames: usize,
    pub max_horizon: usize,
    pub seed: u64,
    pub actions: String,
    pub perturbation_fraction: f32,
    pub perturbation_m: f32,
    /// Headline numbers per method (predictor, physics, ceiling, baselines), over steps 1 to 32.
    pub summary: Vec<MethodSummary>,
    /// The predictor against every other method: paired intervals and verdicts.
    pub verdicts: Vec<VerdictSummary>,
    pub long_run: LongRun,
    pub ceiling: Vec<CeilingPoint>,
    pub action_following: Option<ActionFollowing>,
    /// Counterfactual action fidelity (where the scenario's actions drive an object).
    #[serde(default)]
    pub counterfactual: Option<CounterfactualFidelity>,
    /// Object permanence: the predictor's hide-and-return events (where the
    /// truth hides an object and shows it again, as in `occlusion-v0`).
    #[serde(default)]
    pub permanence: Option<super::permanence::PermanenceSummary>,
    /// Per-horizon statistics of every method, and the comparisons.
    pub horizons: EvalReport,
    /// Metres per pixel at the objects' centres (see `episodes::metres_per_px`).
    #[serde(default)]
    pub metres_per_px: Option<f32>,
    pub episode_scores: Vec<EpisodeScore>,
    /// Where the scenario terminates episodes: the prediction's ends against physics'.
    #[serde(default)]
    pub episode_ends: Option<EpisodeEnds>,
    /// The command line that produced the report, word by word (set by the CLI).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

impl ConsistencyReport {
    /// The report of `scored`, with its worst and median episodes' frames.
    pub(crate) fn assemble(
        scenario: &dyn Scenario,
        predictor: &str,
        source: Option<String>,
        setup: &ScoreSetup,
        scored: Scored,
    ) -> ConsistencyOutcome {
        let Scored {
            horizons,
            long_run,
            episode_scores,
            episode_ends,
            nudge_m,
            worst,
            median,
            permanence,
        } = scored;
        let summary = horizons
            .methods
            .iter()
            .map(|m| MethodSummary {
                name: m.name.clone(),
                summary: m.summary.clone(),
            })
            .collect();
        let verdicts = horizons
            .comparisons
            .iter()
            .filter(|c| c.model == predictor)
            .map(VerdictSummary::of)
            .collect();
        let ceiling = horizons
            .horizons
            .iter()
            .enumerate()
            .map(|(i, &h)| {
                let at = |name: &str| {
                    horizons
                        .method(name)
                        .and_then(|m| m.horizons.get(i))
                        .and_then(|s| s.centroid_error_px)
                };
                let (m, p) = (at(predictor), at(PERTURBED));
                CeilingPoint {
                    horizon: h,
                    model_error_px: m,
                    perturbed_error_px: p,
                    model_over_ceiling: match (m, p) {
                        (Some(m), Some(p)) if p.mean > 0.0 => Some(m.mean / p.mean),
                        _ => None,
                    },
                }
            })
            .collect();
        let report = Self {
            scenario: scenario.id().into(),
            variant: scenario.variant().into(),
            model: source,
            predictor: predictor.into(),
            episodes: setup.seeds.len(),
            context_frames: setup.context_frames,
            max_horizon: setup.horizon,
            seed: setup.seeds.first().copied().unwrap_or_default(),
            actions: format!("{:?}", setup.plan),
            perturbation_fraction: setup.perturbation,
            perturbation_m: nudge_m,
            summary,
            verdicts,
            long_run,
            ceiling,
            action_following: None,
            counterfactual: None,
            permanence,
            metres_per_px: horizons.metres_per_px,
            horizons,
            episode_scores,
            episode_ends,
            command: Vec::new(),
        };
        ConsistencyOutcome {
            report,
            worst,
            median,
        }
    }

    /// The verdict against `baseline`, if compared.
    pub fn verdict(&self, baseline: &str) -> Option<&VerdictSummary> {
        self.verdicts.iter().find(|v| v.baseline == baseline)
    }

    /// The summary of method `name`.
    pub fn method_summary(&self, name: &str) -> Option<&Summary> {
        self.summary
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.summary)
    }
}
