//! `somnium eval`: the physics-consistency evaluation of a model on a scenario:
//! report.json, report.md, PNG plots of error against horizon with the
//! baselines, and GIFs of the worst and median episodes.

use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};
use somnium_env::consistency::output::write_outputs;
use somnium_env::consistency::{
    run_consistency, ConsistencyConfig, ConsistencyReport, PERTURBED, PHYSICS,
};
use somnium_env::lockstep::ActionPlan;
use somnium_env::DreamModel;
use somnium_files::OutputKind;

/// Arguments of `somnium eval`.
#[derive(clap::Args)]
pub struct Args {
    /// The model: a checkpoint or run directory (e.g. models/bounce or runs/bounce).
    #[arg(long)]
    pub model: PathBuf,
    /// Scenario id.
    #[arg(long, default_value = "bounce-v0")]
    pub scenario: String,
    /// Scenario variant: `id`, `ood`, or a scenario's own (`somnium scenarios` lists them).
    #[arg(long, default_value = "id")]
    pub variant: String,
    /// Seeded episodes (seeds --seed, --seed + 1, ...).
    #[arg(long, default_value_t = 50)]
    pub episodes: usize,
    /// Longest horizon in dreamed steps (horizons 1, 2, 4, ... up to it).
    #[arg(long, default_value_t = 256)]
    pub horizon: usize,
    /// First episode seed (held out from training seeds by default).
    #[arg(long, default_value_t = 10_000)]
    pub seed: u64,
    /// Actions: `idle`, `random` or `scripted`.
    #[arg(long, default_value = "random")]
    pub policy: String,
    /// Episodes dreamed in one batched forward pass.
    #[arg(long, default_value_t = 10)]
    pub batch: usize,
    /// Steps of the action-following test (0 skips it).
    #[arg(long, default_value_t = 16)]
    pub follow_steps: usize,
    /// Pairs of random action sequences per state of the counterfactual test (0 skips it).
    #[arg(long, default_value_t = 8)]
    pub counterfactual_pairs: usize,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the consistency evaluation and writes its outputs; shared with `somnium demo`.
pub fn evaluate(
    model: &DreamModel,
    scenario: &str,
    variant: &str,
    config: &ConsistencyConfig,
    out: &Path,
) -> anyhow::Result<ConsistencyReport> {
    let scenario = somnium_scenarios::make(scenario, variant)?;
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template(
        "{msg} {bar:40} {pos}/{len} dreamed batch steps {elapsed} (eta {eta})",
    )?);
    bar.set_message(format!("{} {}", scenario.id(), variant));
    let mut outcome = run_consistency(model, scenario.as_ref(), config, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    outcome.report.command = super::command_line();
    bar.finish_and_clear();
    let written = write_outputs(out, &outcome, model.frame_size(), scenario.render_fps())
        .with_context(|| format!("writing the report in {}", out.display()))?;
    print_key_numbers(&outcome.report);
    println!(
        "wrote {}",
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(outcome.report)
}

/// The headline numbers of a report, on stdout.
pub fn print_key_numbers(r: &ConsistencyReport) {
    let f = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.2}"));
    let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{:.1}%", 100.0 * x));
    let steps = r.summary.first().map_or(0, |s| s.summary.steps);
    println!(
        "{} ({}), {} episodes, per episode the mean over steps 1-{steps}: centroid error (px), kept (IoU >= 0.5), missed, PSNR (dB), sharpness",
        r.scenario, r.variant, r.episodes
    );
    for m in &r.summary {
        let s = &m.summary;
        println!(
            "  {:<18} {:>8}  {:>7}  {:>7}  {:>6}  {:>5}",
            m.name,
            f(s.centroid_error_px.map(|e| e.mean)),
            pct(s.kept_share),
            pct(s.miss_rate),
            f(s.psnr_db.map(|e| e.mean)),
            f(s.sharpness.map(|e| e.mean)),
        );
    }
    // physics and its perturbed twin are in the table: checks, not baselines to beat
    for v in r
        .verdicts
        .iter()
        .filter(|v| v.baseline != PHYSICS && v.baseline != PERTURBED)
    {
        println!(
            "  {} beats {}: {} ({} episodes; error difference {} px) {}",
            r.predictor,
            v.baseline,
            if v.beats { "yes" } else { "no" },
            v.episodes,
            v.error_diff_px.map_or("n/a".into(), |i| i.show(2)),
            v.why
        );
    }
    let l = &r.long_run;
    println!(
        "  long run: kept {} (h<=32), {} (all {} frames), {} (last 32); in arena {}; background ratio {}",
        pct(l.kept_share_h32),
        pct(l.kept_share_all),
        l.frames,
        pct(l.kept_share_last32),
        pct(l.in_arena_share),
        f(l.background_ratio)
    );
    if let Some(a) = &r.action_following {
        println!(
            "  action following ({} steps, {}): dream/physics response {}, relative error {}",
            a.horizon,
            a.object,
            f(a.ratio),
            pct(a.relative_error)
        );
    }
    if let Some(c) = &r.counterfactual {
        println!(
            "  counterfactual fidelity ({} pairs of {}-step action sequences, {}): r {}, slope {}",
            c.pairs,
            c.horizon,
            c.object,
            f(c.r),
            f(c.slope)
        );
    }
    if let Some(p) = &r.permanence {
        println!("  {}", p.line());
    }
    if let Some(e) = &r.episode_ends {
        println!(
            "  episode ends: mean steps to the end physics {:.1}, dream {:.1}; within 1 step {}, dream earlier {}, later or never {}",
            e.physics_mean_steps,
            e.dream_mean_steps,
            pct(Some(e.matched_share)),
            pct(Some(e.dream_early_share)),
            pct(Some(e.dream_late_share))
        );
    }
}

/// Run `somnium eval`.
pub fn run(args: Args) -> anyhow::Result<()> {
    super::claim_out(&args.out, &OutputKind::REPORT)?;
    let model = DreamModel::load(&args.model, &Device::Cpu)?;
    let config = ConsistencyConfig {
        episodes: args.episodes,
        max_horizon: args.horizon,
        seed: args.seed,
        plan: ActionPlan::named(&args.policy, args.seed)?,
        batch: args.batch,
        follow_horizon: args.follow_steps,
        counterfactual_pairs: args.counterfactual_pairs,
        ..ConsistencyConfig::default()
    };
    evaluate(&model, &args.scenario, &args.variant, &config, &args.out)?;
    Ok(())
}
