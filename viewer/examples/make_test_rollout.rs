//! Writes the small bounce rollout the viewer's tests use
//! (`viewer/tests/data/bounce_rollout`) with the env's lockstep runner and
//! rollout writer:
//!
//! ```text
//! cargo run --release -p somnium-viewer --example make_test_rollout -- OUT_DIR [CHECKPOINT] [STEPS] [SEED]
//! ```
//!
//! Without a checkpoint the dream is an untrained tiny model (noise after the
//! context frames), which is enough for the reader and the screenshot test.

use std::path::PathBuf;

use anyhow::Context;
use somnium_env::lockstep::{run_lockstep, ActionPlan};
use somnium_env::{DreamEnv, DreamModel};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .context("usage: make_test_rollout OUT_DIR [CHECKPOINT] [STEPS] [SEED]")?,
    );
    let checkpoint = args.next().filter(|a| a != "-");
    let steps: usize = args.next().map_or(Ok(12), |s| s.parse()).context("STEPS")?;
    let seed: u64 = args.next().map_or(Ok(3), |s| s.parse()).context("SEED")?;
    let model = match &checkpoint {
        Some(path) => DreamModel::load(path.as_ref(), &candle_core::Device::Cpu)?,
        None => DreamModel::random(&somnium_world_model::config::ModelConfig::tiny(), seed)?,
    };
    let mut dream = DreamEnv::make("bounce-v0", "id", model)?;
    let rollout = run_lockstep(
        &mut dream,
        &ActionPlan::Scripted { seed },
        seed,
        steps,
        |_| {},
    )?;
    somnium_env::rollout::write(&out, &rollout)?;
    println!(
        "wrote {} ({} steps, {} context frames, model {:?})",
        out.display(),
        rollout.meta.steps,
        rollout.meta.context_frames,
        rollout.meta.model
    );
    Ok(())
}
