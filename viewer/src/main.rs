//! `somnium-viewer ROLLOUT_DIR`: open a rollout in the Bevy viewer, or with
//! `--screenshot out.png --at-step N` render one frame of it and exit.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bevy::app::AppExit;
use clap::Parser;
use somnium_viewer::reader::read_rollout;
use somnium_viewer::{build_app, ViewerOptions};

/// Show a somnium rollout: the ground-truth scene in 3D beside the dreamed and physics frames.
#[derive(Parser, Debug)]
#[command(name = "somnium-viewer", version)]
struct Args {
    /// The rollout directory (rollout.json + rollout.safetensors).
    rollout: PathBuf,
    /// Render the full layout to this PNG without a person, then exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// The step to show first (and to screenshot).
    #[arg(long, default_value_t = 0)]
    at_step: usize,
    /// Frames to run before the first screenshot capture (pipelines compile meanwhile).
    #[arg(long, default_value_t = 150)]
    settle_frames: u32,
    /// Frames after which the screenshot mode gives up and exits with an error.
    #[arg(long, default_value_t = 1500)]
    max_frames: u32,
}

fn run(args: Args) -> anyhow::Result<AppExit> {
    let rollout = read_rollout(&args.rollout)
        .with_context(|| format!("cannot open the rollout {}", args.rollout.display()))?;
    let step_hz = rollout_step_hz(&rollout);
    let options = ViewerOptions {
        start_step: args.at_step,
        step_hz,
        screenshot: args.screenshot,
        settle_frames: args.settle_frames,
        max_frames: args.max_frames,
    };
    let mut app = build_app(rollout, &options)?;
    Ok(app.run())
}

/// The control rate to play at (15 Hz unless the rollout says otherwise).
fn rollout_step_hz(rollout: &somnium_viewer::RolloutView) -> f32 {
    rollout.control_hz.unwrap_or(15.0)
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(AppExit::Success) => ExitCode::SUCCESS,
        Ok(AppExit::Error(code)) => ExitCode::from(code.get()),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
