//! The evaluation report: serde structs (JSON), Markdown tables and plot series.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::motion::CollisionTiming;
use super::paired::Comparison;
use super::Stat;
use crate::eval_error::{write_atomic, EvalError};

/// Statistics of every method at every horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub horizons: Vec<usize>,
    pub frame_height: usize,
    pub frame_width: usize,
    /// Rollouts added.
    pub rollouts: usize,
    /// Tracked objects, in the order of [`HorizonStats::per_object`].
    pub objects: Vec<String>,
    /// The frame sources in the order given (the model first), then the baselines.
    pub methods: Vec<MethodReport>,
    /// Metres per pixel at the height of the objects' centres, where known.
    pub metres_per_px: Option<f32>,
    /// The centroid error a missed object counts, pixels
    /// ([`super::scoring::miss_penalty_px`]).
    pub miss_penalty_px: f64,
    /// The first source against every other method, paired by episode.
    pub comparisons: Vec<Comparison>,
}

/// One method (the model or a baseline).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodReport {
    pub name: String,
    /// One entry per horizon of [`EvalReport::horizons`].
    pub horizons: Vec<HorizonStats>,
    /// Means over every step 1 to 32.
    pub summary: Summary,
    /// Collision (bounce) timing over each whole rollout.
    pub collision_timing: Option<CollisionTiming>,
}

/// One method's means over every step `1..=steps` (`steps` = 32, or fewer where
/// rollouts are shorter): per episode, then over episodes; shares pool every
/// (episode, step, object).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub steps: usize,
    /// Episodes the method predicted.
    pub episodes: usize,
    /// Centroid error over the true objects, misses at the penalty, pixels.
    pub centroid_error_px: Option<Stat>,
    pub centroid_error_m: Option<Stat>,
    /// Share of true objects kept (mask IoU at least 0.5).
    pub kept_share: Option<f64>,
    pub mean_iou: Option<f64>,
    /// Share of true objects the prediction does not show.
    pub miss_rate: Option<f64>,
    pub psnr_db: Option<Stat>,
    pub ssim: Option<Stat>,
    /// Gradient energy over the truth's (below 1: soft).
    pub sharpness: Option<Stat>,
    pub velocity_error_px: Option<Stat>,
    /// Share of frames with as many tracked objects as the truth.
    pub count_preserved: Option<f64>,
}

/// One method at one horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HorizonStats {
    pub horizon: usize,
    /// Rollouts long enough to reach this horizon.
    pub samples: usize,
    /// Mean over rollouts of the per-rollout mean centroid error over the true
    /// objects (a missed object at the miss penalty), pixels.
    pub centroid_error_px: Option<Stat>,
    /// The same in 64-pixel units (`px * 64 / max(H, W)`).
    pub centroid_error_64: Option<Stat>,
    /// Share of true objects the prediction does not show.
    pub miss_rate: Option<f64>,
    /// Share of true objects kept: mask IoU with the truth at least 0.5.
    pub kept_share: Option<f64>,
    /// Mean mask IoU over the true objects.
    pub mean_iou: Option<f64>,
    /// Median of predicted over true area.
    pub median_area_ratio: Option<f64>,
    pub psnr_db: Option<Stat>,
    /// Mean SSIM of the whole frame (1 = identical).
    pub ssim: Option<Stat>,
    /// Gradient energy of the prediction over the truth's (below 1: soft).
    pub sharpness: Option<Stat>,
    pub per_object: Vec<ObjectStats>,
    /// The centroid error in metres (where the frames' scale is known).
    pub centroid_error_m: Option<Stat>,
    /// Mean over rollouts of the per-rollout mean velocity error, pixels per step:
    /// `|(pred[h] - pred[h-1]) - (true[h] - true[h-1])|` for objects present in all four.
    pub velocity_error_px: Option<Stat>,
    /// Share of rollouts whose prediction shows as many tracked objects as the truth.
    pub count_preserved: Option<f64>,
}

/// One tracked object at one horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectStats {
    pub name: String,
    /// Over the rollouts whose truth shows it, a miss at the penalty.
    pub centroid_error_px: Option<Stat>,
    pub kept_share: Option<f64>,
    pub mean_iou: Option<f64>,
    /// Rollouts whose true frame shows the object.
    pub truth_present: usize,
    /// Of those, rollouts whose prediction does not show it.
    pub missed: usize,
    /// Velocity error, pixels per step, over rollouts where it is measurable.
    pub velocity_error_px: Option<Stat>,
}

impl EvalReport {
    /// The method called `name`.
    pub fn method(&self, name: &str) -> Option<&MethodReport> {
        self.methods.iter().find(|m| m.name == name)
    }

    /// Markdown: [`EvalReport::horizon_markdown`] then
    /// [`EvalReport::collision_markdown`].
    pub fn to_markdown(&self) -> String {
        let mut out = self.comparison_markdown();
        out.push_str(&self.horizon_markdown());
        out.push_str(&self.collision_markdown());
        out
    }

    /// The comparison of `model` against `baseline`, if made.
    pub fn comparison(&self, model: &str, baseline: &str) -> Option<&Comparison> {
        self.comparisons
            .iter()
            .find(|c| c.model == model && c.baseline == baseline)
    }

    /// Markdown: the verdicts with their paired intervals (error over steps 1 to
    /// 32, kept share), one row per comparison.
    pub fn comparison_markdown(&self) -> String {
        let Some(first) = self.comparisons.first() else {
            return String::new();
        };
        let steps = first.h1_32.horizon;
        let mut out = format!(
            "**Verdicts: {} against each method (paired bootstrap 95% intervals over episodes, mean over every step 1-{steps})**\n\n\
             | against | episodes | error difference (px) | kept difference | beats | why |\n|---|---:|---:|---:|:---:|---|\n",
            first.model
        );
        for c in &self.comparisons {
            let show = |i: Option<super::paired::Interval>, d: usize| {
                i.map_or("–".into(), |i| i.show(d))
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                c.baseline,
                c.h1_32.episodes,
                show(c.h1_32.error_diff_px, 2),
                show(c.h1_32.kept_diff, 3),
                if c.verdict.beats { "yes" } else { "no" },
                c.verdict.why.replace('|', "/")
            ));
        }
        out.push('\n');
        out
    }

    /// Markdown: one table of centroid error (mean ± 95% interval, pixels), the
    /// same in metres (where the scale is known), then kept share, median area
    /// ratio, PSNR, SSIM, velocity error and object count preserved, horizons as
    /// columns and methods as rows.
    pub fn horizon_markdown(&self) -> String {
        let mut out = format!(
            "Rollouts: {}; frames {}x{}; objects: {}; a missed object counts {:.1} px\n\n",
            self.rollouts,
            self.frame_height,
            self.frame_width,
            self.objects.join(", "),
            self.miss_penalty_px
        );
        self.table(&mut out, "Centroid error (pixels, mean ± 95% CI)", |s| {
            s.centroid_error_px
                .map(|e| format!("{:.2} ± {:.2}", e.mean, e.ci95))
        });
        if let Some(m) = self.metres_per_px {
            let title = format!("Position error (metres at {m:.4} m/px, mean ± 95% CI)");
            self.table(&mut out, &title, |s| {
                s.centroid_error_m
                    .map(|e| format!("{:.4} ± {:.4}", e.mean, e.ci95))
            });
        }
        self.table(&mut out, "Kept share (mask IoU >= 0.5)", |s| {
            s.kept_share.map(|k| format!("{:.0}%", 100.0 * k))
        });
        self.table(&mut out, "Mean mask IoU", |s| {
            s.mean_iou.map(|k| format!("{k:.2}"))
        });
        self.table(&mut out, "Missed objects", |s| {
            s.miss_rate.map(|k| format!("{:.0}%", 100.0 * k))
        });
        self.table(&mut out, "Median area ratio", |s| {
            s.median_area_ratio.map(|r| format!("{r:.2}"))
        });
        self.table(&mut out, "PSNR (dB)", |s| {
            s.psnr_db.map(|p| format!("{:.1}", p.mean))
        });
        self.table(&mut out, "SSIM", |s| {
            s.ssim.map(|p| format!("{:.3}", p.mean))
        });
        self.table(
            &mut out,
            "Sharpness (gradient energy over the truth's)",
            |s| s.sharpness.map(|p| format!("{:.2}", p.mean)),
        );
        self.table(&mut out, "Velocity error (px/step, mean ± 95% CI)", |s| {
            s.velocity_error_px
                .map(|e| format!("{:.2} ± {:.2}", e.mean, e.ci95))
        });
        self.table(&mut out, "Object count preserved", |s| {
            s.count_preserved.map(|k| format!("{:.0}%", 100.0 * k))
        });
        out
    }

    /// Markdown: the collision timing table, one row per method with a timing
    /// (empty when none has one).
    pub fn collision_markdown(&self) -> String {
        let rows: Vec<(&str, &CollisionTiming)> = self
            .methods
            .iter()
            .filter_map(|m| m.collision_timing.as_ref().map(|c| (m.name.as_str(), c)))
            .collect();
        if rows.is_empty() {
            return String::new();
        }
        let window = rows[0].1.window_steps;
        let mut out = format!(
            "**Collision timing (whole rollout; a true bounce matches a predicted one of the same object within ±{window} steps)**\n\n\
             | method | true events | predicted events | matched share | mean \\|timing error\\| (steps, ± 95% CI) |\n|---|---:|---:|---:|---:|\n",
        );
        for (name, c) in rows {
            out.push_str(&format!(
                "| {name} | {} | {} | {} | {} |\n",
                c.true_events,
                c.predicted_events,
                c.matched_share
                    .map_or("–".into(), |k| format!("{:.0}%", 100.0 * k)),
                c.timing_error_steps
                    .map_or("–".into(), |e| format!("{:.2} ± {:.2}", e.mean, e.ci95)),
            ));
        }
        out.push('\n');
        out
    }

    fn table(&self, out: &mut String, title: &str, cell: impl Fn(&HorizonStats) -> Option<String>) {
        out.push_str(&format!("**{title}**\n\n| method |"));
        for h in &self.horizons {
            out.push_str(&format!(" h={h} |"));
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(self.horizons.len()));
        out.push('\n');
        for m in &self.methods {
            out.push_str(&format!("| {} |", m.name));
            for s in &m.horizons {
                let text = if s.samples == 0 { None } else { cell(s) };
                out.push_str(&format!(" {} |", text.unwrap_or_else(|| "–".into())));
            }
            out.push('\n');
        }
        out.push('\n');
    }

    /// One `(method, [(horizon, value)])` series per method for
    /// [`crate::plots::line_plot`]; `value` picks the number (horizons without one
    /// are skipped).
    pub fn series(
        &self,
        value: impl Fn(&HorizonStats) -> Option<f64>,
    ) -> Vec<(String, Vec<(f64, f64)>)> {
        self.methods
            .iter()
            .map(|m| {
                let points = m
                    .horizons
                    .iter()
                    .filter(|s| s.samples > 0)
                    .filter_map(|s| value(s).map(|v| (s.horizon as f64, v)))
                    .collect();
                (m.name.clone(), points)
            })
            .collect()
    }

    /// Writes the report as pretty JSON, atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| EvalError::Invalid(format!("report JSON: {e}")))?;
        write_atomic(path, &json)
    }

    /// Writes [`EvalReport::to_markdown`], atomically.
    pub fn write_markdown(&self, path: &Path) -> Result<(), EvalError> {
        write_atomic(path, self.to_markdown().as_bytes())
    }
}
