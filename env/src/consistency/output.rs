//! Writing a consistency evaluation's results: `report.json`, `report.md`, PNG plots of centroid
//! error, kept share (mask IoU at least 0.5), PSNR, sharpness and velocity error against the
//! horizon (predictor, physics, ceiling, baselines) and side-by-side GIFs (prediction | physics |
//! difference) of the worst and median episodes.

use std::path::{Path, PathBuf};

use somnium_world_model::metrics::HorizonStats;
use somnium_world_model::plots::{comparison_gif, line_plot};

use super::episodes::EpisodeFrames;
use super::ConsistencyOutcome;
use crate::EnvError;

fn io_err(path: &Path, e: impl std::fmt::Display) -> EnvError {
    EnvError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes `bytes` to `path` atomically (see [`somnium_files::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EnvError> {
    somnium_files::write_atomic(path, bytes).map_err(|e| {
        let (path, source) = e.into_io();
        io_err(&path, source)
    })
}

/// Animates `episode` (dreamed frames only, after the context) as a GIF,
/// upscaled `scale` times, playing at `fps` (the scenario's render fps).
pub fn episode_gif(
    path: &Path,
    episode: &EpisodeFrames,
    (h, w): (usize, usize),
    context: usize,
    fps: f32,
    scale: usize,
) -> Result<(), EnvError> {
    let fb = h * w * 3;
    let n = episode.dream_frames;
    let dream: Vec<&[u8]> = (context..n)
        .map(|t| &episode.dream[t * fb..(t + 1) * fb])
        .collect();
    let truth: Vec<&[u8]> = (context..n)
        .map(|t| &episode.physics[t * fb..(t + 1) * fb])
        .collect();
    let delay_ms = (1000.0 / fps.max(1.0)).round() as u16;
    Ok(comparison_gif(path, &dream, &truth, h, w, scale, delay_ms)?)
}

/// Writes every output into `dir` (created); returns the paths written.
pub fn write_outputs(
    dir: &Path,
    outcome: &ConsistencyOutcome,
    frame_size: (usize, usize),
    fps: f32,
) -> Result<Vec<PathBuf>, EnvError> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let r = &outcome.report;
    let mut written = Vec::new();
    let json = serde_json::to_vec_pretty(r).map_err(|e| io_err(dir, e))?;
    let path = dir.join("report.json");
    write_atomic(&path, &json)?;
    written.push(path);
    let path = dir.join("report.md");
    write_atomic(&path, r.to_markdown().as_bytes())?;
    written.push(path);
    let title = format!("{} ({}), {} episodes", r.scenario, r.variant, r.episodes);
    type Pick = fn(&HorizonStats) -> Option<f64>;
    let plots: [(&str, &str, Pick); 5] = [
        ("error_vs_horizon.png", "centroid error (px)", |s| {
            s.centroid_error_px.map(|e| e.mean)
        }),
        (
            "kept_vs_horizon.png",
            "share of objects kept (IoU >= 0.5)",
            |s| s.kept_share,
        ),
        ("psnr_vs_horizon.png", "PSNR (dB)", |s| {
            s.psnr_db.map(|p| p.mean)
        }),
        (
            "sharpness_vs_horizon.png",
            "sharpness (gradient energy / truth's)",
            |s| s.sharpness.map(|p| p.mean),
        ),
        ("velocity_vs_horizon.png", "velocity error (px/step)", |s| {
            s.velocity_error_px.map(|e| e.mean)
        }),
    ];
    for (name, y, value) in plots {
        let path = dir.join(name);
        let series = r.horizons.series(value);
        if line_plot(&path, &title, "horizon (steps)", y, &series, true).is_ok() {
            written.push(path);
        }
    }
    for (name, episode) in [
        ("worst.gif", &outcome.worst),
        ("median.gif", &outcome.median),
    ] {
        if let Some(ep) = episode
            .as_ref()
            .filter(|e| e.dream_frames > r.context_frames)
        {
            let path = dir.join(name);
            episode_gif(&path, ep, frame_size, r.context_frames, fps, 4)?;
            written.push(path);
        }
    }
    Ok(written)
}
