//! `somnium dream`: runs a dream and its physics twin in lockstep from one seed and
//! writes the rollout file (see docs/rollout.md) and a side-by-side GIF
//! (dream | physics | absolute difference).

use std::path::PathBuf;

use anyhow::{bail, Context};
use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};
use somnium_env::consistency::episodes::EpisodeFrames;
use somnium_env::consistency::output::episode_gif;
use somnium_env::lockstep::{run_lockstep, ActionPlan};
use somnium_env::rollout::{self, Rollout};
use somnium_env::{EnvKind, EnvString};
use somnium_files::OutputKind;

/// Arguments of `somnium dream`.
#[derive(clap::Args)]
pub struct Args {
    /// The dream, as `dream:SCENARIO[:VARIANT]@MODEL` (e.g. dream:bounce-v0@models/bounce).
    #[arg(long)]
    pub env: String,
    /// Episode seed (the same for the dream and its physics twin).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frames in all, the context frames included (900 = 60 s at 15 Hz).
    #[arg(long, default_value_t = 900)]
    pub steps: usize,
    /// Actions: `idle`, `random` or `scripted` (seeded with --seed).
    #[arg(long, default_value = "random")]
    pub policy: String,
    /// Output rollout directory (replaced as a whole).
    #[arg(long)]
    pub out: PathBuf,
    /// Upscale factor of the GIF.
    #[arg(long, default_value_t = 2)]
    pub gif_scale: usize,
}

/// Mean of the finite values, if any.
fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Prints what a person wants to know about a rollout.
pub fn print_summary(r: &Rollout) {
    let dreamed = &r.meta.metrics[r.meta.context_frames.min(r.meta.metrics.len())..];
    // over the objects physics shows (area ratio known): an object absent from
    // the episode is not a lost one
    let kept: Vec<bool> = dreamed
        .iter()
        .flat_map(|m| {
            m.kept
                .iter()
                .zip(&m.area_ratio)
                .filter(|(_, area)| area.is_some())
                .map(|(k, _)| *k)
        })
        .collect();
    let share = |n: usize, d: usize| {
        if d == 0 {
            0.0
        } else {
            100.0 * n as f64 / d as f64
        }
    };
    println!(
        "{} dreamed steps of {} ({}), seed {}:",
        dreamed.len(),
        r.meta.scenario,
        r.meta.variant,
        r.meta.seed
    );
    println!(
        "  mean centroid error {} px, objects present in physics kept {:.1}% of the time, inside the arena {:.1}%, mean PSNR {:.1} dB",
        mean(dreamed.iter().filter_map(|m| m.centroid_error_px.map(f64::from)))
            .map_or("n/a".into(), |e| format!("{e:.2}")),
        share(kept.iter().filter(|&&k| k).count(), kept.len()),
        share(dreamed.iter().filter(|m| m.in_arena).count(), dreamed.len()),
        mean(dreamed.iter().map(|m| f64::from(m.psnr_db))).unwrap_or(0.0),
    );
    if let Some(last) = dreamed.last() {
        println!(
            "  last frame: kept {:?}, area ratios {:?}",
            last.kept,
            last.area_ratio
                .iter()
                .map(|a| a.map(|x| (x * 100.0).round() / 100.0))
                .collect::<Vec<_>>()
        );
    }
}

/// Run `somnium dream`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let spec = EnvString::parse(&args.env)?;
    if !matches!(spec.kind, EnvKind::Dream { .. }) {
        bail!(
            "--env {} is physics; give a dream as dream:SCENARIO@MODEL",
            args.env
        );
    }
    let mut dream = spec.build_dream(&Device::Cpu)?;
    super::claim_out(&args.out, &OutputKind::ROLLOUT)?;
    let plan = ActionPlan::named(&args.policy, args.seed)?;
    let bar = ProgressBar::new(args.steps as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} frames {elapsed} (eta {eta})",
    )?);
    let r = run_lockstep(&mut dream, &plan, args.seed, args.steps, |n| {
        bar.set_position(n as u64)
    })?;
    bar.finish_and_clear();
    rollout::write(&args.out, &r)
        .with_context(|| format!("writing the rollout {}", args.out.display()))?;
    let gif = args.out.join("side_by_side.gif");
    let episode = EpisodeFrames {
        seed: r.meta.seed,
        physics: r.physics_frames.clone(),
        dream: r.dream_frames.clone(),
        perturbed: Vec::new(),
        dream_frames: r.meta.steps,
        physics_end: None,
        dream_end: None,
    };
    if r.meta.steps > r.meta.context_frames {
        episode_gif(
            &gif,
            &episode,
            (r.meta.height, r.meta.width),
            r.meta.context_frames,
            r.meta.control_hz,
            args.gif_scale,
        )?;
    }
    print_summary(&r);
    println!(
        "wrote {} (rollout.json, rollout.safetensors) and {}",
        args.out.display(),
        gif.display()
    );
    Ok(())
}
