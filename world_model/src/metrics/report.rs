//! The evaluation report: serde structs (JSON), Markdown tables and plot series.

use std::path::Path;

use serde::{Deserialize, Serialize};

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
    /// The model first (when it had predictions), then the baselines.
    pub methods: Vec<MethodReport>,
}

/// One method (the model or a baseline).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodReport {
    pub name: String,
    /// One entry per horizon of [`EvalReport::horizons`].
    pub horizons: Vec<HorizonStats>,
}

/// One method at one horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HorizonStats {
    pub horizon: usize,
    /// Rollouts long enough to reach this horizon.
    pub samples: usize,
    /// Mean over rollouts of the per-rollout mean centroid error, pixels.
    pub centroid_error_px: Option<Stat>,
    /// The same in 64-pixel units (`px * 64 / max(H, W)`).
    pub centroid_error_64: Option<Stat>,
    /// Share of truly present objects that the prediction kept.
    pub kept_share: Option<f64>,
    /// Median of predicted over true area.
    pub median_area_ratio: Option<f64>,
    pub psnr_db: Option<Stat>,
    /// Mean SSIM of the whole frame (1 = identical).
    pub ssim: Option<Stat>,
    pub per_object: Vec<ObjectStats>,
}

/// One tracked object at one horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectStats {
    pub name: String,
    pub centroid_error_px: Option<Stat>,
    pub kept_share: Option<f64>,
    /// Rollouts whose true frame shows the object.
    pub truth_present: usize,
    /// Rollouts whose true and predicted frames both show it.
    pub both_present: usize,
}

impl EvalReport {
    /// The method called `name`.
    pub fn method(&self, name: &str) -> Option<&MethodReport> {
        self.methods.iter().find(|m| m.name == name)
    }

    /// Markdown: one table of centroid error (mean ± 95% interval, pixels), then
    /// kept share, median area ratio, PSNR and SSIM, horizons as columns and methods as rows.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "Rollouts: {}; frames {}x{}; objects: {}\n\n",
            self.rollouts,
            self.frame_height,
            self.frame_width,
            self.objects.join(", ")
        );
        self.table(&mut out, "Centroid error (pixels, mean ± 95% CI)", |s| {
            s.centroid_error_px
                .map(|e| format!("{:.2} ± {:.2}", e.mean, e.ci95))
        });
        self.table(&mut out, "Kept share", |s| {
            s.kept_share.map(|k| format!("{:.0}%", 100.0 * k))
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
