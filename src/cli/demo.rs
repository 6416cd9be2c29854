//! `somnium demo`: the shipped bounce model dreaming against physics, in about
//! 11 s on two cores: key numbers on stdout, the report and GIFs in --out.

use std::path::PathBuf;

use anyhow::bail;
use candle_core::Device;
use somnium_env::consistency::ConsistencyConfig;
use somnium_env::lockstep::ActionPlan;
use somnium_env::DreamModel;
use somnium_files::OutputKind;

/// Arguments of `somnium demo`.
#[derive(clap::Args)]
pub struct Args {
    /// The model (the shipped bounce model by default).
    #[arg(long, default_value = "models/bounce")]
    pub model: PathBuf,
    /// Output directory for the report and GIFs.
    #[arg(long, default_value = "demo")]
    pub out: PathBuf,
    /// Episodes.
    #[arg(long, default_value_t = 6)]
    pub episodes: usize,
    /// Longest horizon in dreamed steps.
    #[arg(long, default_value_t = 48)]
    pub horizon: usize,
}

/// Run `somnium demo`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.model.exists() {
        bail!(
            "no model at {}: the demo runs the shipped bounce model (models/bounce in the repository); \
             run it from the repository root, or pass --model DIR (a checkpoint from `somnium train`)",
            args.model.display()
        );
    }
    super::claim_out(&args.out, &OutputKind::REPORT)?;
    let started = std::time::Instant::now();
    let model = DreamModel::load(&args.model, &Device::Cpu)?;
    println!(
        "somnium demo: {} dreaming bounce-v0 next to rapier physics",
        args.model.display()
    );
    let config = ConsistencyConfig {
        episodes: args.episodes,
        max_horizon: args.horizon,
        plan: ActionPlan::Random { seed: 0 },
        batch: args.episodes.max(1),
        follow_episodes: args.episodes.min(4),
        // the counterfactual test alone triples the demo's time; `somnium eval` runs it
        counterfactual_pairs: 0,
        ..ConsistencyConfig::default()
    };
    super::eval::evaluate(&model, "bounce-v0", "id", &config, &args.out)?;
    println!(
        "done in {:.0} s; open {}/report.md and {}/median.gif",
        started.elapsed().as_secs_f64(),
        args.out.display(),
        args.out.display()
    );
    Ok(())
}
