//! What `somnium train` writes besides checkpoints: metrics lines, the loss
//! plot, and the final rollout validation (report, error plot, and a strip of
//! true against dreamed frames).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use somnium_world_model::codec::FrameCodec;
use somnium_world_model::metrics::{EvalReport, FrameSpec};
use somnium_world_model::plots;
use somnium_world_model::sampler::SampleOptions;
use somnium_world_model::train::evaluate::{rollout_report, RolloutEvalOptions, RolloutResult};
use somnium_world_model::train::{Trainer, WindowSource};

/// Appends one JSON line to `metrics.jsonl`.
pub fn log_line(out: &Path, value: serde_json::Value) -> anyhow::Result<()> {
    let path = out.join("metrics.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(f, "{value}")?;
    Ok(())
}

/// The rollout validation at the end of a run (EMA weights, held-out episodes).
pub struct FinalRollout<'a> {
    pub out: &'a Path,
    pub episodes: usize,
    pub elapsed_s: f64,
    /// `(height, width)` of the dataset's frames.
    pub frame_size: (usize, usize),
}

impl FinalRollout<'_> {
    /// Dreams the held-out episodes, logs and writes rollout.json, rollout.md,
    /// rollout_error.png and rollout_strip.png, and prints the table.
    pub fn run(
        &self,
        trainer: &mut Trainer,
        codec: &dyn FrameCodec,
        val: &WindowSource,
        frame_spec: FrameSpec,
    ) -> anyhow::Result<()> {
        let cfg = trainer.model().config().clone();
        let opts = RolloutEvalOptions {
            episodes: self.episodes,
            sample: SampleOptions::for_model(&cfg),
            ..RolloutEvalOptions::default()
        };
        let result = trainer.with_ema(|m| rollout_report(m, codec, val, frame_spec, &opts))??;
        let report = &result.report;
        log_line(
            self.out,
            serde_json::json!({"step": trainer.step(), "elapsed_s": self.elapsed_s, "rollout": report}),
        )?;
        report.write_json(&self.out.join("rollout.json"))?;
        report.write_markdown(&self.out.join("rollout.md"))?;
        println!("{}", report.to_markdown());
        let series = report.series(|h| h.centroid_error_64.as_ref().map(|s| s.mean));
        plots::line_plot(
            &self.out.join("rollout_error.png"),
            "held-out centroid error",
            "horizon (steps)",
            "error (64-px units)",
            &series,
            true,
        )?;
        write_strip(
            &self.out.join("rollout_strip.png"),
            &result,
            val,
            self.frame_size.0,
            self.frame_size.1,
            cfg.context_frames,
        )
    }
}

/// loss.png: the training loss and, where measured, the validation frame loss.
pub fn write_loss_plot(
    out: &Path,
    curve: Vec<(f64, f64)>,
    val_curve: Vec<(f64, f64)>,
) -> anyhow::Result<()> {
    if curve.is_empty() {
        println!("no training step in this run: loss.png not written");
        return Ok(());
    }
    let mut series = vec![("train loss".to_string(), curve)];
    if !val_curve.is_empty() {
        series.push(("validation frame loss".to_string(), val_curve));
    }
    plots::line_plot(
        &out.join("loss.png"),
        "training loss",
        "step",
        "loss",
        &series,
        false,
    )?;
    Ok(())
}

/// True vs dreamed frames of the first two dreamed episodes at horizons 1, 2, 4, ... 32.
fn write_strip(
    path: &Path,
    result: &RolloutResult,
    val: &WindowSource,
    h: usize,
    w: usize,
    context: usize,
) -> anyhow::Result<()> {
    let fb = h * w * 3;
    let steps: Vec<usize> = [1usize, 2, 4, 8, 16, 32]
        .into_iter()
        .filter(|&k| {
            result
                .predicted
                .first()
                .map_or(false, |p| p.len() >= k * fb)
        })
        .collect();
    let mut rows = Vec::new();
    for (n, (&e, pred)) in result
        .episodes
        .iter()
        .zip(&result.predicted)
        .take(2)
        .enumerate()
    {
        let Some(truth) = val.episodes()[e].frames.as_ref() else {
            continue;
        };
        rows.push((
            format!("true {n}"),
            steps
                .iter()
                .map(|&k| truth[(context + k - 1) * fb..(context + k) * fb].to_vec())
                .collect::<Vec<_>>(),
        ));
        rows.push((
            format!("dream {n}"),
            steps
                .iter()
                .map(|&k| pred[(k - 1) * fb..k * fb].to_vec())
                .collect::<Vec<_>>(),
        ));
    }
    let labels: Vec<String> = steps.iter().map(|k| format!("h{k}")).collect();
    plots::frame_strip(path, &rows, h, w, 3, &labels)?;
    Ok(())
}

/// One line: centroid error (64-px units) and kept share at horizons 1, 8 and 32, model vs baselines.
pub fn summary_line(step: u64, report: &EvalReport) -> String {
    let mut parts = vec![format!("step {step} rollout:")];
    for m in &report.methods {
        let cells: Vec<String> = m
            .horizons
            .iter()
            .filter(|h| [1, 8, 32].contains(&h.horizon))
            .map(|h| {
                let e = h
                    .centroid_error_64
                    .as_ref()
                    .map_or("-".into(), |s| format!("{:.2}", s.mean));
                let k = h
                    .kept_share
                    .map_or("-".into(), |k| format!("{:.0}%", k * 100.0));
                format!("h{} {e} ({k})", h.horizon)
            })
            .collect();
        parts.push(format!("{} {}", m.name, cells.join(" ")));
    }
    parts.join(" | ")
}
