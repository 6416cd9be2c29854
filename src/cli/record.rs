//! `somnium record`: records episodes of a scenario into dataset shards,
//! resuming an interrupted recording, and prints a summary.

use std::path::PathBuf;

use somnium_env::record::{record, BehaviourPolicy, RecordOptions};
use somnium_files::OutputKind;

use super::scenarios::ScenarioChoice;

/// Arguments of `somnium record`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioChoice,
    /// Episodes the dataset should hold (episodes already recorded count).
    #[arg(long, default_value_t = 1000)]
    pub episodes: usize,
    /// Behaviour policy: `random`, `scripted` (expert with 20% random actions) or
    /// `scripted:EPS` (expert with random actions at rate EPS); a `:HOLD` suffix
    /// (`random:HOLD`, `scripted:EPS:HOLD`) holds each random action HOLD steps.
    #[arg(long, default_value = "random")]
    pub policy: String,
    /// Base seed: episode i is reset with seed + i.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frame width and height in pixels.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Episodes per safetensors shard.
    #[arg(long, default_value_t = 50)]
    pub episodes_per_shard: usize,
    /// Time limit in steps (default: the scenario's).
    #[arg(long)]
    pub max_steps: Option<u32>,
    /// Output dataset directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// Run `somnium record`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let factory = args.scenario.factory()?;
    let opts = RecordOptions {
        episodes: args.episodes,
        seed: args.seed,
        policy: BehaviourPolicy::parse(&args.policy)?,
        width: args.size,
        height: args.size,
        episodes_per_shard: args.episodes_per_shard,
        max_episode_steps: args.max_steps,
        progress: true,
    };
    super::claim_out(&args.out, &OutputKind::DATASET)?;
    let s = record(&*factory, &args.out, &opts)?;
    let m = &s.manifest;
    if s.resumed_from > 0 {
        println!("resumed after {} episodes already recorded", s.resumed_from);
    }
    println!(
        "{} ({}), policy {}: recorded {} episodes, {} steps in {:.1} s ({:.0} steps/s); {} terminated, {} truncated, mean return {:.3}",
        m.spec.scenario,
        m.spec.variant,
        m.spec.policy,
        s.recorded,
        s.recorded_steps,
        s.elapsed_s,
        s.recorded_steps as f64 / s.elapsed_s.max(1e-9),
        s.terminated,
        s.truncated,
        s.mean_return
    );
    println!(
        "dataset {}: {} episodes, {} steps, {} shards, frames {}x{}",
        s.dir.display(),
        m.total_episodes,
        m.total_steps,
        m.shards.len(),
        m.spec.width,
        m.spec.height
    );
    Ok(())
}
