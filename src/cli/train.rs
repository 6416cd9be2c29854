//! `somnium train`: trains the spacetime DiT on a recorded dataset for a number
//! of steps or minutes, with checkpoints, exact `--resume`, held-out validation,
//! `metrics.jsonl`, a progress bar and a loss curve.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};
use somnium_env::dream::checkpoint_dir;
use somnium_files::OutputKind;
use somnium_world_model::checkpoint::Provenance;
use somnium_world_model::data::DatasetReader;
use somnium_world_model::metrics::FrameSpec;
use somnium_world_model::sampler::SampleOptions;
use somnium_world_model::train::checkpointing::saved_train_config;
use somnium_world_model::train::evaluate::{rollout_report, RolloutEvalOptions};
use somnium_world_model::train::{median_background, TrainConfig, Trainer};

use super::train_outputs::{log_line, summary_line, write_loss_plot, FinalRollout};
use super::train_setup::{
    fit_aux_normaliser, frame_codec, init_model_config, load_windows, manifest_hash, model_config,
    ModelChoice,
};

/// Arguments of `somnium train`.
#[derive(clap::Args)]
pub struct Args {
    /// Dataset directory (written by `somnium record`).
    #[arg(long)]
    pub data: PathBuf,
    /// Model preset: tiny, small or base.
    #[arg(long, default_value = "small")]
    pub preset: String,
    /// JSON file with model config fields that override the preset.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run directory: checkpoint in OUT/ckpt, metrics.jsonl, loss.png.
    #[arg(long)]
    pub out: PathBuf,
    /// Time budget in minutes (the cosine decays over it).
    #[arg(long, conflicts_with = "steps")]
    pub minutes: Option<f64>,
    /// Step budget (the cosine decays over it).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Continue the run saved in OUT/ckpt exactly (same settings and seed).
    #[arg(long)]
    pub resume: bool,
    /// Fine-tune: start from the weights (EMA when present) of this run,
    /// checkpoint or exported model, with a fresh optimizer and schedule. The
    /// model config comes from it (--sampling-steps may still be set).
    #[arg(long, conflicts_with_all = ["resume", "config", "target", "predict_delta", "no_delta"])]
    pub init_from: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 200)]
    pub warmup: u64,
    /// Prediction target: x0 or velocity.
    #[arg(long)]
    pub target: Option<String>,
    /// Predict the change from the last context frame (keeps objects intact early in training).
    #[arg(long, conflicts_with = "no_delta")]
    pub predict_delta: bool,
    /// Predict the frame itself, not its change from the last context frame.
    #[arg(long)]
    pub no_delta: bool,
    /// Learned codec weights (from `somnium train-codec`); the pixel codec otherwise.
    #[arg(long)]
    pub codec: Option<PathBuf>,
    /// Held-out dataset (e.g. data/bounce-val); else the last --val-episodes of --data.
    #[arg(long)]
    pub val_data: Option<PathBuf>,
    /// Episodes held out for validation (the dataset's last ones, or of --val-data).
    #[arg(long, default_value_t = 50)]
    pub val_episodes: usize,
    /// Rollout validation (32 dreamed steps vs the baselines) every N steps; 0: only at the end.
    #[arg(long, default_value_t = 0)]
    pub rollout_every: u64,
    /// Held-out episodes dreamed by the rollout validation at the end (16 during training).
    #[arg(long, default_value_t = 50)]
    pub rollout_episodes: usize,
    /// Validation every N steps (at least 1).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub val_every: u64,
    /// Checkpoint every N steps (and at the end; at least 1).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub save_every: u64,
    /// Also keep the model (EMA weights, as `somnium export` writes it) every N
    /// steps in OUT/snapshots/step-NNNNNNN, for curves along training (0: never).
    #[arg(long, default_value_t = 0)]
    pub keep_every: u64,
    /// Euler steps per dreamed frame (saved in the model's config; the rollout
    /// validation uses it too). The preset's 4 when absent.
    #[arg(long)]
    pub sampling_steps: Option<usize>,
    /// Train on the model's own rollouts: dream this many steps before the
    /// target frame in some batches (0: never; DIAMOND's remedy against drift).
    #[arg(long, default_value_t = 0)]
    pub self_rollout_steps: usize,
    /// Share of batches whose context ends in dreamed frames.
    #[arg(long, default_value_t = 0.5)]
    pub self_rollout_prob: f64,
    /// Step from which batches may be dreamed.
    #[arg(long, default_value_t = 0)]
    pub self_rollout_start: u64,
    /// Euler steps of those dreams.
    #[arg(long, default_value_t = 2)]
    pub self_rollout_sampling_steps: usize,
    /// Horizon curriculum: over this many steps from --self-rollout-start the
    /// dreamed steps grow from 1 to --self-rollout-steps (0: all from the start).
    #[arg(long, default_value_t = 0)]
    pub self_rollout_ramp: u64,
}

/// Run `somnium train`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.minutes.is_none() && args.steps.is_none() {
        bail!("give a budget: --minutes M or --steps N");
    }
    let device = Device::Cpu;
    let reader = DatasetReader::open(&args.data)
        .with_context(|| format!("opening dataset {}", args.data.display()))?;
    super::claim_run_out(&args.out, &OutputKind::TRAINING_RUN, args.resume)?;
    let ckpt_dir = args.out.join("ckpt");
    // The checkpoint a fine-tuning run starts from (not read when resuming).
    let init_dir = match (&args.init_from, args.resume) {
        (Some(path), false) => Some((path, checkpoint_dir(path)?)),
        _ => None,
    };
    let (mut cfg, train_cfg) = if args.resume {
        saved_train_config(&ckpt_dir)
            .with_context(|| format!("--resume: reading {}", ckpt_dir.display()))?
    } else {
        let tc = TrainConfig {
            seed: args.seed,
            batch: args.batch,
            lr: args.lr,
            warmup: args.warmup,
            self_rollout_steps: args.self_rollout_steps,
            self_rollout_prob: args.self_rollout_prob,
            self_rollout_start: args.self_rollout_start,
            self_rollout_sampling_steps: args.self_rollout_sampling_steps,
            self_rollout_ramp: args.self_rollout_ramp,
            init_from: args.init_from.as_ref().map(|p| p.display().to_string()),
            ..TrainConfig::default()
        };
        let choice = ModelChoice {
            preset: &args.preset,
            config: args.config.as_deref(),
            sampling_steps: args.sampling_steps,
            target: args.target.as_deref(),
            predict_delta: args.predict_delta,
            no_delta: args.no_delta,
        };
        let cfg = match &init_dir {
            None => model_config(&choice, &reader)?,
            Some((path, dir)) => init_model_config(&choice, &reader, path, dir)?,
        };
        (cfg, tc)
    };
    let codec = frame_codec(&cfg, args.codec.as_deref(), &device)?;
    println!(
        "model: {} parameters, {:.2} GFLOP per window forward; latents {:?}, {} tokens per frame, window {}",
        cfg.param_count(),
        cfg.flops_per_step() as f64 / 1e9,
        cfg.latent_shape(),
        cfg.tokens_per_frame(),
        cfg.window()
    );
    let val_reader = match &args.val_data {
        Some(dir) => Some(
            DatasetReader::open(dir)
                .with_context(|| format!("opening held-out dataset {}", dir.display()))?,
        ),
        None => None,
    };
    let (train, val) = load_windows(
        &reader,
        val_reader.as_ref(),
        codec.as_ref(),
        &cfg,
        args.val_episodes,
        &device,
    )?;
    println!(
        "data: {} training windows, {} held-out episodes",
        train.windows(),
        val.episodes().len()
    );
    if let Some(line) = fit_aux_normaliser(&mut cfg, &train)? {
        println!("{line}");
    }
    let bg = median_background(&train, 256)?;
    let spec = reader.spec();
    let frame_spec = FrameSpec {
        height: spec.height,
        width: spec.width,
        colors: spec.colors.clone(),
        background: spec.background,
        arena_px: spec.arena_px,
        metres_per_px: None,
    };
    let can_rollout = !spec.colors.is_empty() && !val.episodes().is_empty();
    let mut trainer = Trainer::new(&cfg, train_cfg.clone(), train, Some(&val), bg)?;
    let mut elapsed_before = 0.0;
    let hash = manifest_hash(&args.data);
    if !args.resume {
        trainer.set_provenance(Provenance::of_dataset(
            spec,
            &args.data.display().to_string(),
            &hash,
            super::command_line(),
        ));
    }
    if let Some((path, dir)) = &init_dir {
        let from = trainer
            .warm_start(dir)
            .with_context(|| format!("--init-from {}", path.display()))?;
        println!("fine-tuning from {} (trained {from} steps)", dir.display());
    }
    if args.resume {
        let extra = trainer.resume(&ckpt_dir)?;
        elapsed_before = extra
            .get("elapsed_s")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        println!(
            "resumed at step {} ({:.1} min trained)",
            trainer.step(),
            elapsed_before / 60.0
        );
    }
    let budget_s = args.minutes.map(|m| m * 60.0);
    let total_steps = args.steps;
    let bar = ProgressBar::new(total_steps.unwrap_or(0)).with_style(ProgressStyle::with_template(
        "{elapsed_precise} step {pos} {bar:30} {msg}",
    )?);
    bar.set_position(trainer.step());
    let start = Instant::now();
    let (mut win_count, mut last_log, mut curve) =
        (0usize, Instant::now(), Vec::<(f64, f64)>::new());
    let (mut loss_sum, mut loss_n) = (0f64, 0usize);
    let mut val_curve = Vec::<(f64, f64)>::new();
    loop {
        let elapsed = elapsed_before + start.elapsed().as_secs_f64();
        let done = match (budget_s, total_steps) {
            (Some(b), _) => elapsed >= b,
            (None, Some(n)) => trainer.step() >= n,
            _ => true,
        };
        if done {
            break;
        }
        let lr = match (budget_s, total_steps) {
            (Some(b), _) => trainer.lr_for_progress(elapsed / b),
            (None, Some(n)) => trainer.lr_for_steps(n),
            _ => 0.0,
        };
        let stats = trainer.train_step(lr)?;
        win_count += train_cfg.batch;
        loss_sum += stats.loss as f64;
        loss_n += 1;
        bar.set_position(stats.step);
        let since = last_log.elapsed().as_secs_f64();
        if since >= 10.0 || stats.step % 50 == 0 {
            let wps = win_count as f64 / since.max(1e-9);
            let mean = loss_sum / loss_n.max(1) as f64;
            bar.set_message(format!("loss {mean:.4} lr {lr:.2e} {wps:.1} windows/s"));
            log_line(
                &args.out,
                serde_json::json!({"step": stats.step, "elapsed_s": elapsed, "loss": mean, "frame_loss": stats.frame_loss, "reward_loss": stats.reward_loss, "terminated_loss": stats.terminated_loss, "state_loss": stats.state_loss, "grad_norm": stats.grad_norm, "lr": lr, "windows_per_s": wps}),
            )?;
            curve.push((stats.step as f64, mean));
            (win_count, last_log, loss_sum, loss_n) = (0, Instant::now(), 0.0, 0);
        }
        if stats.step % args.val_every == 0 {
            if let Some(v) = trainer.validation_loss()? {
                bar.println(format!("step {}: validation frame loss {v:.5}", stats.step));
                log_line(
                    &args.out,
                    serde_json::json!({"step": stats.step, "elapsed_s": elapsed, "val_frame_loss": v}),
                )?;
                val_curve.push((stats.step as f64, v as f64));
            }
        }
        if can_rollout && args.rollout_every > 0 && stats.step % args.rollout_every == 0 {
            let opts = RolloutEvalOptions {
                episodes: 16,
                sample: SampleOptions::for_model(&cfg),
                ..RolloutEvalOptions::default()
            };
            let report = trainer
                .with_ema(|m| rollout_report(m, codec.as_ref(), &val, frame_spec.clone(), &opts))??
                .report;
            bar.println(summary_line(stats.step, &report));
            log_line(
                &args.out,
                serde_json::json!({"step": stats.step, "elapsed_s": elapsed, "rollout": report}),
            )?;
        }
        if stats.step % args.save_every == 0 {
            let extra =
                serde_json::json!({"elapsed_s": elapsed_before + start.elapsed().as_secs_f64()});
            trainer.save(&ckpt_dir, &hash, extra)?;
        }
        if args.keep_every > 0 && stats.step % args.keep_every == 0 {
            let snap = args
                .out
                .join("snapshots")
                .join(format!("step-{:07}", stats.step));
            let extra =
                serde_json::json!({"elapsed_s": elapsed_before + start.elapsed().as_secs_f64()});
            trainer
                .save_model(&snap, &hash, extra)
                .with_context(|| format!("keeping the snapshot {}", snap.display()))?;
        }
    }
    bar.finish_and_clear();
    let elapsed = elapsed_before + start.elapsed().as_secs_f64();
    if loss_n > 0 {
        // The steps since the last log line (a short run may have logged none).
        let mean = loss_sum / loss_n as f64;
        log_line(
            &args.out,
            serde_json::json!({"step": trainer.step(), "elapsed_s": elapsed, "loss": mean}),
        )?;
        curve.push((trainer.step() as f64, mean));
    }
    trainer.save(&ckpt_dir, &hash, serde_json::json!({"elapsed_s": elapsed}))?;
    let val_loss = trainer.validation_loss()?;
    if let Some(v) = val_loss {
        val_curve.push((trainer.step() as f64, v as f64));
        log_line(
            &args.out,
            serde_json::json!({"step": trainer.step(), "elapsed_s": elapsed, "val_frame_loss": v}),
        )?;
    }
    let run_s = start.elapsed().as_secs_f64();
    println!(
        "done: step {} in {:.1} min this run; validation frame loss {}; checkpoint {}",
        trainer.step(),
        run_s / 60.0,
        val_loss.map_or("n/a".into(), |v| format!("{v:.5}")),
        ckpt_dir.display()
    );
    if can_rollout {
        let rollout = FinalRollout {
            out: &args.out,
            episodes: args.rollout_episodes,
            elapsed_s: elapsed,
            frame_size: (spec.height, spec.width),
        };
        rollout.run(&mut trainer, codec.as_ref(), &val, frame_spec.clone())?;
    }
    write_loss_plot(&args.out, curve, val_curve)
}
