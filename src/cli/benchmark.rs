//! `somnium benchmark export|score`: the physics-consistency benchmark for any
//! world model (docs/benchmark.md).
//!
//! `export` writes a task set (`tasks.json` + `tasks.safetensors`): seeds, the
//! context frames and the actions of every episode, never the future frames.
//! `score` rebuilds the truth from physics (deterministic from `tasks.json`),
//! checks that the task set is what this somnium generates, checks the
//! predictions file, and scores it through the same code path as `somnium eval`
//! (every baseline, physics and the ceiling), writing report.json, report.md,
//! plots and GIFs. `compare` sets models' reports side by side
//! ([`super::benchmark_compare`]).

use std::path::PathBuf;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use somnium_env::consistency::output::write_outputs;
use somnium_env::consistency::predfile::read_predictions;
use somnium_env::consistency::predict::FilePredictor;
use somnium_env::consistency::taskfile::{
    read_task_set, write_task_set, ActionSpaceSpec, TaskSetMeta, FORMAT, VERSION,
};
use somnium_env::consistency::tasks::generate_tasks;
use somnium_env::consistency::{score_predictor, ConsistencyConfig, PERTURBED, PHYSICS};
use somnium_env::lockstep::ActionPlan;
use somnium_files::OutputKind;
use somnium_scenarios::Action;

/// Arguments of `somnium benchmark`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// The two halves of the benchmark.
#[derive(clap::Subcommand)]
pub enum Sub {
    /// Write the tasks (seeds, context frames, actions; not the future) for any model to predict.
    Export(ExportArgs),
    /// Score a predictions file against the physics truth of a task set.
    Score(ScoreArgs),
    /// Compare models (each one or more reports of the same tasks, e.g. one per
    /// training seed) episode by episode, with paired intervals.
    Compare(super::benchmark_compare::CompareArgs),
}

/// Arguments of `somnium benchmark export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Scenario id.
    #[arg(long, default_value = "bounce-v0")]
    pub scenario: String,
    /// Scenario variant: `id`, `ood`, or a scenario's own (`somnium scenarios` lists them).
    #[arg(long, default_value = "id")]
    pub variant: String,
    /// Episodes (seeds --seed, --seed + 1, ...).
    #[arg(long, default_value_t = 50)]
    pub episodes: usize,
    /// Frames to predict after the context.
    #[arg(long, default_value_t = 256)]
    pub horizon: usize,
    /// Context frames given to the predictor.
    #[arg(long, default_value_t = 4)]
    pub context: usize,
    /// Frame height and width in pixels.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// First episode seed (held out from training seeds by default).
    #[arg(long, default_value_t = 10_000)]
    pub seed: u64,
    /// Actions: `idle`, `random` or `scripted` (seeded with --seed).
    #[arg(long, default_value = "random")]
    pub policy: String,
    /// Output directory (tasks.json, tasks.safetensors).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `somnium benchmark score`.
#[derive(clap::Args)]
pub struct ScoreArgs {
    /// The task set written by `somnium benchmark export`.
    #[arg(long)]
    pub tasks: PathBuf,
    /// The predictions: `frames` U8 [N, P, H, W, 3] (optionally `seeds` I64 [N]).
    #[arg(long)]
    pub predictions: PathBuf,
    /// The predictor's name in the report.
    #[arg(long, default_value = "predictions")]
    pub name: String,
    /// Episodes regenerated and scored at once.
    #[arg(long, default_value_t = 10)]
    pub batch: usize,
    /// Output directory for the report, plots and GIFs.
    #[arg(long)]
    pub out: PathBuf,
}

/// Whether `name` is a method the report already has: physics, its perturbed
/// twin, or one of the evaluator's drawn baselines.
fn reserved(name: &str) -> bool {
    name == PHYSICS
        || name == PERTURBED
        || somnium_world_model::metrics::baselines::NAMES.contains(&name)
}

/// Run `somnium benchmark`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Sub::Export(a) => export(a),
        Sub::Score(a) => score(a),
        Sub::Compare(a) => super::benchmark_compare::run(a),
    }
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    if args.episodes == 0 || args.horizon == 0 || args.context == 0 || args.size == 0 {
        bail!("--episodes, --horizon, --context and --size must each be at least 1");
    }
    let scenario = somnium_scenarios::make(&args.scenario, &args.variant)?;
    let plan = ActionPlan::named(&args.policy, args.seed)?;
    super::claim_out(&args.out, &OutputKind::BENCHMARK_TASKS)?;
    let seeds: Vec<u64> = (0..args.episodes as u64).map(|i| args.seed + i).collect();
    let size = (args.size, args.size);
    let bar = ProgressBar::new(args.episodes as u64);
    bar.set_style(ProgressStyle::with_template(
        "{msg} {bar:40} {pos}/{len} episodes {elapsed} (eta {eta})",
    )?);
    bar.set_message(format!("{} {}", scenario.id(), args.variant));
    let (mut context, mut actions): (Vec<u8>, Vec<Vec<Action>>) = (Vec::new(), Vec::new());
    for chunk in seeds.chunks(10) {
        // the ceiling's nudge does not change the context or the actions
        let tasks = generate_tasks(
            scenario.as_ref(),
            chunk,
            &plan,
            args.context,
            args.horizon,
            size,
            0.0,
        )?;
        for t in tasks {
            context.extend_from_slice(t.context());
            actions.push(t.actions);
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let meta = TaskSetMeta {
        format: FORMAT.into(),
        version: VERSION,
        scenario: scenario.id().into(),
        variant: args.variant.clone(),
        seed: args.seed,
        episodes: args.episodes,
        seeds,
        policy: args.policy.clone(),
        context_frames: args.context,
        horizon: args.horizon,
        frame_height: args.size,
        frame_width: args.size,
        action_space: ActionSpaceSpec::of(&scenario.action_space()),
        control_hz: scenario.control_hz(),
        perturbation: ConsistencyConfig::default().perturbation,
        command: super::command_line(),
    };
    write_task_set(&args.out, &meta, &context, &actions)
        .with_context(|| format!("writing the task set in {}", args.out.display()))?;
    println!(
        "wrote {} tasks of {} ({}), {} context frames + {} steps at {}x{}, to {} (tasks.json, tasks.safetensors)",
        args.episodes,
        meta.scenario,
        meta.variant,
        args.context,
        args.horizon,
        args.size,
        args.size,
        args.out.display()
    );
    Ok(())
}

fn score(args: ScoreArgs) -> anyhow::Result<()> {
    if reserved(&args.name) {
        bail!(
            "--name {}: the report already has a method of that name; choose another",
            args.name
        );
    }
    let tasks = read_task_set(&args.tasks)?;
    let predictions = read_predictions(&args.predictions, &tasks.meta)?;
    let meta = tasks.meta.clone();
    let scenario = somnium_scenarios::make(&meta.scenario, &meta.variant).with_context(|| {
        format!(
            "{}: the task set's scenario is not one this somnium has",
            args.tasks.display()
        )
    })?;
    if ActionSpaceSpec::of(&scenario.action_space()) != meta.action_space {
        bail!(
            "{}: the task set's action space {:?} is not {} ({})'s {:?}: written by another version",
            args.tasks.display(),
            meta.action_space,
            meta.scenario,
            meta.variant,
            ActionSpaceSpec::of(&scenario.action_space())
        );
    }
    super::claim_out(&args.out, &OutputKind::REPORT)?;
    let setup = meta.setup(args.batch, true)?;
    let mut predictor = FilePredictor {
        name: args.name.clone(),
        tasks_dir: args.tasks.display().to_string(),
        source: Some(args.predictions.display().to_string()),
        tasks,
        predictions,
    };
    let bar = ProgressBar::new(meta.episodes as u64);
    bar.set_style(ProgressStyle::with_template(
        "{msg} {bar:40} {pos}/{len} chunk steps {elapsed} (eta {eta})",
    )?);
    bar.set_message(format!("scoring {} on {}", args.name, meta.scenario));
    let mut outcome = score_predictor(scenario.as_ref(), &setup, &mut predictor, |d, t| {
        bar.set_length(t as u64);
        bar.set_position(d as u64);
    })
    .with_context(|| format!("scoring {}", args.predictions.display()))?;
    bar.finish_and_clear();
    outcome.report.command = super::command_line();
    let written = write_outputs(&args.out, &outcome, setup.size, scenario.render_fps())
        .with_context(|| format!("writing the report in {}", args.out.display()))?;
    super::eval::print_key_numbers(&outcome.report);
    println!(
        "wrote {}",
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
