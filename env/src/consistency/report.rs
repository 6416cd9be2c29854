//! [`ConsistencyReport`]: the evaluation's numbers as JSON and Markdown, plus the
//! accumulators behind its long-run figures.

use serde::{Deserialize, Serialize};
use somnium_scenarios::Scenario;
use somnium_world_model::metrics::{median, EvalReport, Stat};

use super::episode_end::EpisodeEnds;
use super::follow::ActionFollowing;
use super::{ConsistencyConfig, PERTURBED};
use crate::dream::DreamModel;
use crate::rollout::StepMetrics;

/// One method's headline numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodSummary {
    pub name: String,
    /// Mean over horizons 1..=32 of the per-horizon mean centroid error, pixels.
    pub mean_error_px_h1_32: Option<f64>,
    /// Mean over horizons 1..=32 of the kept share.
    pub kept_share_h1_32: Option<f64>,
    /// Mean over horizons 1..=32 of the per-horizon mean position error, metres.
    #[serde(default)]
    pub mean_error_m_h1_32: Option<f64>,
    /// Mean over horizons 1..=32 of the per-horizon mean velocity error, pixels per step.
    #[serde(default)]
    pub velocity_error_px_h1_32: Option<f64>,
    /// Mean over horizons 1..=32 of the share of rollouts with the object count preserved.
    #[serde(default)]
    pub count_preserved_h1_32: Option<f64>,
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
    pub dreamed_steps: usize,
}

/// Whether long dreams hold together, over every dreamed frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LongRun {
    /// Share of (frame, object) pairs with the object kept, horizons 1..=32.
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
    pub model: Option<String>,
    pub episodes: usize,
    pub context_frames: usize,
    pub max_horizon: usize,
    pub seed: u64,
    pub actions: String,
    pub perturbation_fraction: f32,
    pub perturbation_m: f32,
    /// Headline numbers per method (model, baselines, physics, ceiling).
    pub summary: Vec<MethodSummary>,
    /// Whether the model's mean error over horizons 1..=32 is below every baseline's.
    pub beats_baselines_h1_32: Option<bool>,
    pub long_run: LongRun,
    pub ceiling: Vec<CeilingPoint>,
    pub action_following: Option<ActionFollowing>,
    /// Per-horizon statistics of every method.
    pub horizons: EvalReport,
    /// Metres per pixel at the objects' centres (see `episodes::metres_per_px`).
    #[serde(default)]
    pub metres_per_px: Option<f32>,
    pub episode_scores: Vec<EpisodeScore>,
    /// Where the scenario terminates episodes: the dream's ends against physics'.
    #[serde(default)]
    pub episode_ends: Option<EpisodeEnds>,
    /// The command line that produced the report, word by word (set by the CLI).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

fn mean_over<T>(
    report: &EvalReport,
    name: &str,
    max_h: usize,
    f: impl Fn(&somnium_world_model::metrics::HorizonStats) -> Option<T>,
) -> Option<f64>
where
    T: Into<f64>,
{
    let m = report.method(name)?;
    let v: Vec<f64> = m
        .horizons
        .iter()
        .filter(|s| s.horizon <= max_h && s.samples > 0)
        .filter_map(|s| f(s).map(Into::into))
        .collect();
    Stat::of(&v).map(|s| s.mean)
}

impl ConsistencyReport {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assemble(
        scenario: &dyn Scenario,
        model: &DreamModel,
        config: &ConsistencyConfig,
        horizons: EvalReport,
        long_run: LongRun,
        action_following: Option<ActionFollowing>,
        episode_scores: Vec<EpisodeScore>,
        perturbation_m: f32,
    ) -> Self {
        let summary: Vec<MethodSummary> = horizons
            .methods
            .iter()
            .map(|m| MethodSummary {
                name: m.name.clone(),
                mean_error_px_h1_32: mean_over(&horizons, &m.name, 32, |s| {
                    s.centroid_error_px.map(|e| e.mean)
                }),
                kept_share_h1_32: mean_over(&horizons, &m.name, 32, |s| s.kept_share),
                mean_error_m_h1_32: mean_over(&horizons, &m.name, 32, |s| {
                    s.centroid_error_m.map(|e| e.mean)
                }),
                velocity_error_px_h1_32: mean_over(&horizons, &m.name, 32, |s| {
                    s.velocity_error_px.map(|e| e.mean)
                }),
                count_preserved_h1_32: mean_over(&horizons, &m.name, 32, |s| s.count_preserved),
            })
            .collect();
        let model_err = summary.first().and_then(|s| s.mean_error_px_h1_32);
        let baselines = [
            somnium_world_model::metrics::baselines::COPY_LAST,
            somnium_world_model::metrics::baselines::CONSTANT_VELOCITY,
            somnium_world_model::metrics::baselines::ARENA_CENTRE,
        ];
        // a model that loses every object has no centroid error and beats nothing
        let beats = Some(model_err.is_some_and(|e| {
            baselines.iter().all(|b| {
                summary
                    .iter()
                    .find(|s| s.name == *b)
                    .and_then(|s| s.mean_error_px_h1_32)
                    .is_none_or(|be| e < be)
            })
        }));
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
                let (m, p) = (at("model"), at(PERTURBED));
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
        Self {
            scenario: scenario.id().into(),
            variant: scenario.variant().into(),
            model: model.source().map(|p| p.display().to_string()),
            episodes: config.episodes,
            context_frames: model.context_frames(),
            max_horizon: config.max_horizon,
            seed: config.seed,
            actions: format!("{:?}", config.plan),
            perturbation_fraction: config.perturbation,
            perturbation_m,
            summary,
            beats_baselines_h1_32: beats,
            long_run,
            ceiling,
            action_following,
            metres_per_px: horizons.metres_per_px,
            horizons,
            episode_scores,
            episode_ends: None,
            command: Vec::new(),
        }
    }

    /// The report as Markdown tables a person reads.
    pub fn to_markdown(&self) -> String {
        let f = |v: Option<f64>, d: usize| v.map_or("–".to_string(), |x| format!("{x:.d$}"));
        let pct = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{:.1}%", 100.0 * x));
        let mut out = format!(
            "# Physics consistency: {} ({}), {} episodes\n\nModel: `{}`. Context {} frames, horizons up to {} steps, actions {}, seeds from {}.\n\n",
            self.scenario,
            self.variant,
            self.episodes,
            self.model.as_deref().unwrap_or("(none)"),
            self.context_frames,
            self.max_horizon,
            self.actions,
            self.seed
        );
        out.push_str("## Summary (horizons 1 to 32)\n\n| method | mean centroid error (px) | kept share |\n|---|---:|---:|\n");
        for s in &self.summary {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                s.name,
                f(s.mean_error_px_h1_32, 2),
                pct(s.kept_share_h1_32)
            ));
        }
        out.push_str(&format!(
            "\nModel below every baseline (copy last, reflected constant velocity, arena centre): **{}**\n\n",
            self.beats_baselines_h1_32.map_or("n/a", |b| if b { "yes" } else { "no" })
        ));
        self.motion_markdown(&mut out);
        let l = &self.long_run;
        out.push_str(&format!(
            "## Long run ({} dreamed frames)\n\n| kept ≤ h32 | kept, all | kept, last 32 | median area ratio | in arena | background ratio |\n|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} | {} |\n\n",
            l.frames,
            pct(l.kept_share_h32),
            pct(l.kept_share_all),
            pct(l.kept_share_last32),
            f(l.median_area_ratio, 2),
            pct(l.in_arena_share),
            f(l.background_ratio, 3)
        ));
        out.push_str(&format!(
            "## Ceiling: physics rerun with each object nudged by {:.1e} of the arena ({:.2e} m)\n\n| horizon | model error (px) | perturbed physics (px) | model / ceiling |\n|---:|---:|---:|---:|\n",
            self.perturbation_fraction, self.perturbation_m
        ));
        let stat = |s: Option<Stat>| {
            s.map_or("–".to_string(), |s| {
                format!("{:.2} ± {:.2}", s.mean, s.ci95)
            })
        };
        for c in &self.ceiling {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.horizon,
                stat(c.model_error_px),
                stat(c.perturbed_error_px),
                f(c.model_over_ceiling, 1)
            ));
        }
        out.push_str("\n## Action following\n\n");
        match &self.action_following {
            Some(a) => out.push_str(&format!(
                "Two opposite constant actions for {} steps; distance between the `{}` outcomes.\n\n| physics response (px) | dream response (px) | dream / physics | relative error | within 25% |\n|---:|---:|---:|---:|:---:|\n| {} | {} | {} | {} | {} |\n\n",
                a.horizon,
                a.object,
                stat(a.physics_response_px),
                stat(a.dream_response_px),
                f(a.ratio, 2),
                pct(a.relative_error),
                if a.within_25pct { "yes" } else { "no" }
            )),
            None => out.push_str("Not measured.\n\n"),
        }
        if let Some(e) = &self.episode_ends {
            out.push_str(&e.to_markdown());
            out.push('\n');
        }
        let collisions = self.horizons.collision_markdown();
        if !collisions.is_empty() {
            out.push_str("## Collision timing\n\n");
            out.push_str(&collisions);
        }
        out.push_str("## Per horizon (mean ± 95% interval over episodes)\n\n");
        out.push_str(&self.horizons.horizon_markdown());
        out
    }

    /// The summary's motion table: position error in metres, velocity error,
    /// object count preserved (horizons 1 to 32) and bounces matched (whole rollout).
    fn motion_markdown(&self, out: &mut String) {
        let f = |v: Option<f64>, d: usize| v.map_or("–".to_string(), |x| format!("{x:.d$}"));
        let pct = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{:.1}%", 100.0 * x));
        let scale = self
            .metres_per_px
            .map_or("scale unknown".to_string(), |m| format!("{m:.4} m/px"));
        out.push_str(&format!(
            "## Motion and permanence (horizons 1 to 32; bounces over the whole rollout)\n\n\
             | method | mean position error (m, {scale}) | mean velocity error (px/step) | object count preserved | bounces matched | mean \\|timing error\\| (steps) |\n\
             |---|---:|---:|---:|---:|---:|\n"
        ));
        for s in &self.summary {
            let c = self
                .horizons
                .method(&s.name)
                .and_then(|m| m.collision_timing.as_ref());
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                s.name,
                f(s.mean_error_m_h1_32, 4),
                f(s.velocity_error_px_h1_32, 2),
                pct(s.count_preserved_h1_32),
                pct(c.and_then(|c| c.matched_share)),
                f(c.and_then(|c| c.timing_error_steps).map(|e| e.mean), 2),
            ));
        }
        out.push('\n');
    }
}
