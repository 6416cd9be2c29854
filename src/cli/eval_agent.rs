//! `somnium eval-agent`: runs a policy (`random`, `scripted`, `cem`, or a PPO
//! checkpoint directory) for `--episodes` seeded episodes in one env, or in two
//! envs on the same seeds side by side (a dream against physics: the robotics
//! team's pre-deployment check), and writes `report.json` and `report.md`:
//! returns, success and termination causes per env, every episode side by side,
//! the episodes where the envs disagree most, and their GIFs (first env | second).
//!
//! With a dream in the pair, physics renders the model's frames and takes the
//! dream's `W - 1` warm-up steps after each reset, so both start from the same
//! frame. `--planner-model` makes `cem` imagine with a world model while acting
//! in physics (instead of the physics oracle).

use std::path::{Path, PathBuf};

use anyhow::bail;
use candle_core::Device;
use somnium_agents::{
    summarise, CemConfig, CemPlanner, EnvTarget, EpisodeRun, EvalOptions, EvalSummary, Evaluator,
    ObsKind, Policy, PpoAgent, PpoPolicy, RandomPolicy, ScriptedPolicy,
};
use somnium_env::DreamModel;
use somnium_files::OutputKind;

use super::eval_agent_report::{markdown, side_by_side_gif, Disagreement};

/// Arguments of `somnium eval-agent`.
#[derive(clap::Args)]
pub struct Args {
    /// `random`, `scripted`, `cem` (the planner over the env's imagination), or a
    /// PPO checkpoint directory (as written by `train-agent`).
    #[arg(long)]
    pub policy: String,
    /// One env, or two to compare on the same seeds (`physics:<id>[@variant]`,
    /// `dream:<id>@MODEL`).
    #[arg(long = "env", required = true, num_args = 1)]
    pub envs: Vec<String>,
    #[arg(long, default_value_t = 50)]
    pub episodes: usize,
    /// Episode `k` starts from seed `seed + k`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sample PPO actions instead of taking the most likely one.
    #[arg(long)]
    pub stochastic: bool,
    /// `cem` in physics imagines with this world model (a checkpoint or run
    /// directory) instead of the physics oracle.
    #[arg(long)]
    pub planner_model: Option<PathBuf>,
    /// Planner look-ahead (steps).
    #[arg(long, default_value_t = 8)]
    pub horizon: usize,
    /// Planner candidate sequences per iteration.
    #[arg(long, default_value_t = 32)]
    pub population: usize,
    /// Planner CEM iterations per plan.
    #[arg(long, default_value_t = 2)]
    pub iterations: usize,
    /// Planner: env steps each planned action is held for.
    #[arg(long, default_value_t = 3)]
    pub action_repeat: usize,
    /// Planner actions executed per plan.
    #[arg(long, default_value_t = 3)]
    pub replan_every: usize,
    /// Episodes run in parallel.
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
    /// GIFs written for the episodes where two envs disagree most.
    #[arg(long, default_value_t = 3)]
    pub gifs: usize,
    /// Output directory for report.json, report.md and the GIFs.
    #[arg(long)]
    pub out: PathBuf,
}

/// A fresh policy for `args.policy`, and the obs spec of a PPO checkpoint.
fn make_policy(args: &Args) -> anyhow::Result<(Box<dyn Policy>, Option<somnium_agents::ObsSpec>)> {
    Ok(match args.policy.as_str() {
        "random" => (Box::new(RandomPolicy::new(args.seed)), None),
        "scripted" => (Box::new(ScriptedPolicy::new(args.seed)), None),
        "cem" => {
            let config = CemConfig {
                horizon: args.horizon,
                population: args.population,
                elites: (args.population / 8).max(1),
                iterations: args.iterations,
                replan_every: args.replan_every,
                action_repeat: args.action_repeat,
                seed: args.seed,
                ..CemConfig::default()
            };
            (Box::new(CemPlanner::new(config)?), None)
        }
        path => {
            let path = Path::new(path);
            if !path.exists() {
                bail!(
                    "--policy '{}' is neither random, scripted, cem nor an existing checkpoint",
                    path.display()
                );
            }
            let (agent, _) = PpoAgent::load(path, &Device::Cpu)?;
            let spec = agent.obs.clone();
            (
                Box::new(PpoPolicy::new(agent, !args.stochastic, args.seed)),
                Some(spec),
            )
        }
    })
}

fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    Ok(somnium_files::write_atomic(path, text.as_bytes())?)
}

/// The evaluation options of each env: physics renders what the policy and the
/// GIFs need, and aligns its start with a dream in the pair.
fn eval_options(
    args: &Args,
    targets: &[EnvTarget],
    spec: Option<&somnium_agents::ObsSpec>,
) -> anyhow::Result<Vec<EvalOptions>> {
    let dream_model = match targets.iter().find(|t| t.is_dream()) {
        Some(t) => t.load_model(&Device::Cpu)?,
        None => None,
    };
    let planner_model = match &args.planner_model {
        Some(p) if args.policy == "cem" => Some(DreamModel::load(p, &Device::Cpu)?),
        Some(_) => bail!("--planner-model is for --policy cem"),
        None => None,
    };
    let frame_size = match (&dream_model, spec) {
        (Some(m), _) => Some(m.frame_size()),
        (None, Some(s)) if s.kind == ObsKind::Frames => Some(s.render_size()),
        (None, _) if targets.len() == 2 => Some((64, 64)),
        _ => None,
    };
    let warmup = dream_model.as_ref().map_or(0, |m| m.context_frames() - 1);
    Ok(targets
        .iter()
        .map(|t| EvalOptions {
            frame_size,
            parallel: args.parallel.clamp(1, args.episodes),
            warmup: if t.is_dream() { 0 } else { warmup },
            planner_model: if t.is_dream() {
                None
            } else {
                planner_model.clone()
            },
        })
        .collect())
}

/// Run `somnium eval-agent`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.envs.len() > 2 {
        bail!("give one --env, or two to compare; got {}", args.envs.len());
    }
    if args.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let targets: Vec<EnvTarget> = args
        .envs
        .iter()
        .map(|e| EnvTarget::parse(e))
        .collect::<Result<_, _>>()?;
    let (_, spec) = make_policy(&args)?;
    if let Some(spec) = &spec {
        for t in &targets {
            t.check_obs(spec.kind)?;
        }
    }
    super::claim_out(&args.out, &OutputKind::REPORT)?;
    let options = eval_options(&args, &targets, spec.as_ref())?;
    let mut evaluators: Vec<Evaluator> = targets
        .iter()
        .zip(options)
        .map(|(t, o)| Evaluator::new(t, o))
        .collect::<Result<_, _>>()?;
    let mut policies: Vec<Box<dyn Policy>> = targets
        .iter()
        .map(|_| make_policy(&args).map(|p| p.0))
        .collect::<Result<_, _>>()?;
    let start = std::time::Instant::now();
    let parallel = evaluators[0].parallel();
    let mut results: Vec<Vec<somnium_agents::EpisodeResult>> = vec![Vec::new(); targets.len()];
    // The episodes (both sides) where the envs disagree most so far, with frames.
    let mut worst: Vec<(f32, EpisodeRun, EpisodeRun)> = Vec::new();
    let record = targets.len() == 2 && args.gifs > 0;
    for wave in (0..args.episodes).step_by(parallel) {
        let count = parallel.min(args.episodes - wave);
        let seeds: Vec<u64> = (0..count).map(|k| args.seed + (wave + k) as u64).collect();
        let mut runs: Vec<Vec<EpisodeRun>> = Vec::new();
        for (e, p) in evaluators.iter_mut().zip(policies.iter_mut()) {
            runs.push(e.run_wave(p.as_mut(), &seeds, record)?);
        }
        for (side, r) in runs.iter().enumerate() {
            results[side].extend(r.iter().map(|x| x.result.clone()));
        }
        if let [a, b] = runs.as_mut_slice() {
            for (x, y) in a.drain(..).zip(b.drain(..)) {
                let diff = (x.result.episode_return - y.result.episode_return).abs();
                worst.push((diff, x, y));
            }
            worst.sort_by(|p, q| {
                q.0.total_cmp(&p.0)
                    .then(p.1.result.seed.cmp(&q.1.result.seed))
            });
            worst.truncate(args.gifs);
        }
        println!(
            "{}/{} episodes ({:.1} s)",
            wave + count,
            args.episodes,
            start.elapsed().as_secs_f64()
        );
    }
    let summaries: Vec<EvalSummary> = targets
        .iter()
        .zip(results)
        .zip(&policies)
        .map(|((t, r), p)| summarise(t.to_string(), p.name(), r))
        .collect();
    for s in &summaries {
        println!(
            "{} in {}: mean return {:.2} +- {:.2}, success {}, terminated {}, time limit {}",
            s.policy,
            s.env,
            s.mean_return,
            s.std_return,
            super::eval_agent_report::fmt_opt(s.success_rate),
            s.terminated,
            s.time_limit
        );
    }
    let mut gifs = Vec::new();
    let fps = match targets.first() {
        Some(t) => t.render_fps()?,
        None => 15.0,
    };
    for (_, a, b) in &worst {
        let name = format!("seed_{}.gif", a.result.seed);
        side_by_side_gif(&args.out.join(&name), &a.frames, &b.frames, fps)?;
        gifs.push((a.result.seed, name));
    }
    let disagreements = match summaries.as_slice() {
        [a, b] => Disagreement::rank(a, b, &gifs),
        _ => Vec::new(),
    };
    let mut json = serde_json::json!({
        "policy": args.policy,
        "seed": args.seed,
        "planner_model": args.planner_model,
        "envs": summaries,
        "wall_s": start.elapsed().as_secs_f64(),
        "command": super::command_line(),
    });
    if summaries.len() == 2 {
        json["disagreements"] = serde_json::to_value(&disagreements)?;
    }
    write_atomic(
        &args.out.join("report.json"),
        &serde_json::to_string_pretty(&json)?,
    )?;
    write_atomic(
        &args.out.join("report.md"),
        &markdown(&args.policy, &summaries, &disagreements),
    )?;
    println!(
        "wrote {}/report.json, report.md and {} GIFs ({:.1} s)",
        args.out.display(),
        gifs.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
