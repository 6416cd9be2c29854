//! `somnium export`: a trained run's checkpoint made into a model to ship. The
//! EMA weights become the model's weights (the live weights and the optimizer
//! state stay behind, so the files are half the size), the metadata (step,
//! seed, dataset hash) is kept, and `--sampling-steps`, `--context-noise` and
//! `--sampling-cache` may set how it dreams in the saved config. Written with the checkpoint's own atomic writer and checksums, and
//! read back before the command reports success.

use std::path::PathBuf;

use anyhow::{bail, Context};
use candle_core::Device;
use somnium_env::dream::checkpoint_dir;
use somnium_files::OutputKind;
use somnium_world_model::checkpoint::{self, Checkpoint};
use somnium_world_model::config::{ContextCache, ModelConfig};
use somnium_world_model::train::checkpointing::load_model;

/// Arguments of `somnium export`.
#[derive(clap::Args)]
pub struct Args {
    /// A run directory (its `ckpt/`) or a checkpoint directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Output directory (e.g. models/bounce).
    #[arg(long)]
    pub out: PathBuf,
    /// Euler steps per dreamed frame to record in the exported config.
    #[arg(long)]
    pub sampling_steps: Option<usize>,
    /// Noise level on the context frames when dreaming, recorded in the exported
    /// config (0 = clean; at most the context noise the model trained with).
    #[arg(long)]
    pub context_noise: Option<f64>,
    /// How dreams keep their context between steps, recorded in the exported
    /// config: `window` runs the W context frames each step (as trained),
    /// `rolling` rolls their keys and values (faster; see docs/speed.md).
    #[arg(long, value_parser = ["window", "rolling"])]
    pub sampling_cache: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = checkpoint_dir(&args.model)?;
    let ckpt = checkpoint::load(&dir)
        .with_context(|| format!("reading the checkpoint in {}", dir.display()))?;
    let mut cfg: ModelConfig = serde_json::from_value(ckpt.config_json.clone())
        .with_context(|| format!("model config in {}", dir.display()))?;
    if let Some(k) = args.sampling_steps {
        if k == 0 {
            bail!("--sampling-steps must be at least 1");
        }
        cfg.sampling_steps = k;
    }
    if let Some(noise) = args.context_noise {
        cfg.sampling_context_noise = noise;
    }
    if let Some(cache) = &args.sampling_cache {
        cfg.sampling_cache = match cache.as_str() {
            "rolling" => ContextCache::Rolling,
            _ => ContextCache::Window,
        };
    }
    cfg.validate().context("the exported config")?;
    if cfg.sampling_cache == ContextCache::Rolling && cfg.attention_span.is_none() {
        eprintln!(
            "note: a model trained without an attention span dreams worse with a rolling \
             cache (models/bounce kept 9% of objects at h4 against 94% with its window; \
             docs/speed.md); score it with `somnium eval` before using it"
        );
    }
    super::claim_out(&args.out, &OutputKind::MODEL)?;
    let (weights, from) = if ckpt.ema.is_empty() {
        (ckpt.weights.clone(), "weights")
    } else {
        (ckpt.ema.clone(), "EMA weights")
    };
    let mut out = Checkpoint::new(serde_json::to_value(&cfg)?, ckpt.meta.step, weights);
    out.meta = ckpt.meta.clone();
    out.meta.rng_state.clear();
    out.meta.data_order_state.clear();
    checkpoint::save(&args.out, &out).with_context(|| format!("writing {}", args.out.display()))?;
    let model = load_model(&args.out, false, &Device::Cpu)
        .with_context(|| format!("reading back {}", args.out.display()))?;
    println!(
        "exported the {from} of {} (step {}, {} parameters, K = {}, context noise {}, {:?} context cache) to {}",
        dir.display(),
        out.meta.step,
        model.params().count(),
        cfg.sampling_steps,
        cfg.sampling_context_noise,
        cfg.sampling_cache,
        args.out.display()
    );
    Ok(())
}
