//! `somnium train-agent`: trains a PPO agent in an env (`physics:<id>[@variant]`,
//! or `dream:<id>@MODEL`: a world model dreaming, pixel policies only), with a
//! progress bar, `metrics.jsonl` (one line per update and per evaluation),
//! periodic deterministic evaluations on `--eval-env` (e.g. physics for an agent
//! trained in a dream), checkpoints, `returns.png` (training and evaluation
//! returns against steps on one plot) and `summary.json`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};
use somnium_agents::ppo::{PpoConfig, PpoTrainer};
use somnium_agents::{EnvTarget, EvalOptions, Evaluator, ObsKind, PpoAgent, PpoPolicy};
use somnium_env::Space;
use somnium_files::OutputKind;

/// Arguments of `somnium train-agent`.
#[derive(clap::Args)]
pub struct Args {
    /// Algorithm (only `ppo` for now).
    #[arg(long, default_value = "ppo")]
    pub algo: String,
    /// Env to train in: `physics:<id>[@variant]` or `dream:<id>@MODEL`.
    #[arg(long)]
    pub env: String,
    /// Env of the periodic evaluations (default: the training env).
    #[arg(long)]
    pub eval_env: Option<String>,
    /// What the network reads: `state` or `frames` (alias `pixels`; dreams need it).
    #[arg(long, default_value = "state")]
    pub obs: String,
    /// Env steps to train for (all envs together).
    #[arg(long, default_value_t = 500_000)]
    pub steps: u64,
    #[arg(long, default_value_t = 8)]
    pub num_envs: usize,
    /// Steps per env per rollout (default: the preset's).
    #[arg(long)]
    pub num_steps: Option<usize>,
    /// Learning rate (default: the preset's).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Side of the frames the CNN reads for `--obs frames` (larger frames, such
    /// as a dream's, are downsampled to it).
    #[arg(long, default_value_t = 32)]
    pub frame_size: usize,
    /// A JSON file of PPO settings overriding the preset (field names of PpoConfig).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Evaluate every this many env steps.
    #[arg(long, default_value_t = 25_000)]
    pub eval_every: u64,
    #[arg(long, default_value_t = 10)]
    pub eval_episodes: usize,
    /// Output directory: agent checkpoint, metrics.jsonl, returns.png, summary.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run saved in OUT from its last checkpoint (written at every
    /// evaluation): same command line plus --resume (a larger --steps trains a
    /// finished run further). Weights, optimizer, step count and learning-rate
    /// schedule go on; the envs start fresh episodes.
    #[arg(long)]
    pub resume: bool,
}

/// The PPO settings for these arguments: the preset for the action space and
/// observation kind, then the JSON file, then the flags.
fn ppo_config(args: &Args, target: &EnvTarget) -> anyhow::Result<PpoConfig> {
    let obs: ObsKind = args.obs.parse()?;
    let space = target.action_space()?;
    let mut config = match (obs, &space) {
        (ObsKind::Frames, _) => PpoConfig::frames(),
        (ObsKind::State, Space::Box { .. }) => PpoConfig::continuous(),
        (ObsKind::State, Space::Discrete(_)) => PpoConfig::default(),
    };
    if let Some(path) = &args.config {
        config = super::config_file::overlay(&config, path, "PPO settings")?;
    }
    config.total_steps = args.steps;
    config.num_envs = args.num_envs;
    config.seed = args.seed;
    config.obs = obs;
    config.frame_size = args.frame_size;
    if let Some(n) = args.num_steps {
        config.num_steps = n;
    }
    if let Some(lr) = args.lr {
        config.learning_rate = lr;
    }
    config.validate()?;
    Ok(config)
}

/// Appends JSON lines to `metrics.jsonl`.
struct Metrics(std::fs::File);

impl Metrics {
    fn line(&mut self, value: serde_json::Value) -> anyhow::Result<()> {
        writeln!(self.0, "{value}")?;
        Ok(())
    }
}

/// Deterministic evaluation of the checkpoint in `dir` with `evaluator`.
fn eval_checkpoint(
    dir: &Path,
    evaluator: &mut Evaluator,
    episodes: usize,
) -> anyhow::Result<somnium_agents::EvalSummary> {
    let (agent, _) = PpoAgent::load(dir, &Device::Cpu)?;
    let mut policy = PpoPolicy::new(agent, true, 0);
    Ok(evaluator.evaluate(&mut policy, episodes, 1_000_000)?)
}

/// Run `somnium train-agent`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.algo != "ppo" {
        bail!("unknown --algo '{}': only 'ppo' is implemented", args.algo);
    }
    let target = EnvTarget::parse(&args.env)?;
    let eval_target = match &args.eval_env {
        Some(e) => EnvTarget::parse(e)?,
        None => target.clone(),
    };
    let config = ppo_config(&args, &target)?;
    target.check_obs(config.obs)?;
    eval_target.check_obs(config.obs)?;
    if args.eval_episodes == 0 {
        bail!("--eval-episodes must be at least 1");
    }
    // The envs (and a dream's model) are built before anything is written, so a
    // bad env string leaves no half-made run behind.
    let mut trainer = PpoTrainer::new(config.clone(), target.clone())?;
    super::claim_run_out(&args.out, &OutputKind::AGENT_RUN, args.resume)?;
    if args.resume {
        super::agent_resume::check_saved_run(&args.out, &config, &target.to_string())?;
    } else {
        std::fs::write(
            args.out.join("ppo_config.json"),
            serde_json::to_string_pretty(&config)?,
        )?;
    }
    let (mut train_curve, mut eval_curve) = if args.resume {
        trainer.resume(&args.out)?;
        super::agent_resume::trim_metrics(&args.out, trainer.global_step())?
    } else {
        std::fs::File::create(args.out.join("metrics.jsonl")).context("creating metrics.jsonl")?;
        (Vec::new(), Vec::new())
    };
    let mut metrics = Metrics(
        std::fs::OpenOptions::new()
            .append(true)
            .open(args.out.join("metrics.jsonl"))
            .context("opening metrics.jsonl")?,
    );
    // Physics evaluations render what the network saw in training (a dream's frame
    // size) and, after an agent trained in a dream, take the dream's `W - 1`
    // warm-up steps after each reset, as `eval-agent` does: both then start from
    // the frame the agent learned to start from.
    let warmup = if eval_target.is_dream() {
        0
    } else {
        trainer.envs().warmup_steps()
    };
    let mut evaluator = Evaluator::new(
        &eval_target,
        EvalOptions {
            frame_size: Some(trainer.agent().obs.render_size()),
            parallel: args.eval_episodes.min(8),
            warmup,
            ..EvalOptions::default()
        },
    )?;
    println!(
        "ppo on {target} ({:?} observations): {} updates of {} steps, {} minibatches x {} epochs; eval on {eval_target}",
        config.obs,
        config.num_updates(),
        config.batch_size(),
        config.num_minibatches,
        config.update_epochs
    );
    let bar = ProgressBar::new(config.num_updates() as u64 * config.batch_size() as u64)
        .with_style(ProgressStyle::with_template(
            "{elapsed_precise} {bar:30} {pos}/{len} steps {msg}",
        )?);
    bar.set_position(trainer.global_step());
    let start = Instant::now();
    let mut next_eval = if args.resume {
        trainer.global_step() + args.eval_every.max(1)
    } else {
        0
    };
    let mut last_eval = None;
    let mut recent: Vec<f32> = Vec::new();
    let mut rollout_rates: Vec<f64> = Vec::new();
    while !trainer.is_done() {
        let stats = trainer.train_update()?;
        let eps = trainer.episodes();
        recent = eps
            .iter()
            .rev()
            .take(20)
            .map(|e| e.episode_return)
            .collect();
        let rolling =
            (!recent.is_empty()).then(|| recent.iter().sum::<f32>() / recent.len() as f32);
        if let Some(r) = rolling {
            train_curve.push((stats.global_step as f64, r as f64));
        }
        let mut line = serde_json::to_value(&stats)?;
        line["kind"] = "update".into();
        line["rolling_return_20"] = serde_json::json!(rolling);
        metrics.line(line)?;
        bar.set_position(stats.global_step);
        bar.set_message(format!(
            "return(20) {:.1}  {:.0} steps/s (rollout {:.0})",
            rolling.unwrap_or(f32::NAN),
            stats.steps_per_sec,
            stats.rollout_steps_per_sec
        ));
        rollout_rates.push(stats.rollout_steps_per_sec as f64);
        if stats.global_step >= next_eval || trainer.is_done() {
            next_eval = stats.global_step + args.eval_every.max(1);
            trainer.save(&args.out)?;
            let summary = eval_checkpoint(&args.out, &mut evaluator, args.eval_episodes)?;
            eval_curve.push((stats.global_step as f64, summary.mean_return as f64));
            metrics.line(serde_json::json!({
                "kind": "eval",
                "global_step": stats.global_step,
                "env": eval_target.to_string(),
                "mean_return": summary.mean_return,
                "std_return": summary.std_return,
                "success_rate": summary.success_rate,
                "wall_s": start.elapsed().as_secs_f64(),
            }))?;
            bar.println(format!(
                "step {:>8}: eval on {eval_target}: mean return {:.1} +- {:.1}",
                stats.global_step, summary.mean_return, summary.std_return
            ));
            last_eval = Some(summary);
        }
    }
    bar.finish();
    if last_eval.is_none() {
        // resumed from the final checkpoint: nothing left to train, evaluate it
        last_eval = Some(eval_checkpoint(
            &args.out,
            &mut evaluator,
            args.eval_episodes,
        )?);
    }
    let wall = start.elapsed().as_secs_f64();
    let train_label = format!("training episodes in {target} (mean of last 20)");
    let eval_label = format!("deterministic eval in {eval_target}");
    somnium_world_model::plots::line_plot(
        &args.out.join("returns.png"),
        &format!("PPO on {target}"),
        "env steps",
        "episode return",
        &[(train_label, train_curve), (eval_label, eval_curve.clone())],
        false,
    )?;
    let final_eval = last_eval.context("no evaluation ran")?;
    let summary = serde_json::json!({
        "env": target.to_string(),
        "eval_env": eval_target.to_string(),
        "steps": trainer.global_step(),
        "wall_s": wall,
        "steps_per_sec": trainer.global_step() as f64 / wall,
        "rollout_steps_per_sec_mean": rollout_rates.iter().sum::<f64>() / rollout_rates.len().max(1) as f64,
        "num_envs": config.num_envs,
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "final_eval": final_eval,
        "final_training_return_20": recent.iter().sum::<f32>() / recent.len().max(1) as f32,
        "eval_curve": eval_curve,
        "config": config,
    });
    somnium_files::write_atomic(
        &args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    println!(
        "done: {} steps in {wall:.1} s ({:.0} steps/s); final eval on {eval_target}: {:.1} +- {:.1}; wrote {}",
        trainer.global_step(),
        trainer.global_step() as f64 / wall,
        final_eval.mean_return,
        final_eval.std_return,
        args.out.display()
    );
    Ok(())
}
