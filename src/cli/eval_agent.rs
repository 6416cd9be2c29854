//! `somnium eval-agent`: runs a policy (`random`, `scripted`, `cem`, or a PPO
//! checkpoint directory) for `--episodes` seeded episodes in one env, or in two
//! envs on the same seeds side by side (dream against physics, or two physics
//! variants), and writes `report.json` and `report.md`: returns, success and
//! termination causes per env, and the episodes where the envs disagree most.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use candle_core::Device;
use somnium_agents::{
    evaluate, CemConfig, CemPlanner, EnvTarget, EvalSummary, ObsKind, Policy, PpoAgent, PpoPolicy,
    RandomPolicy, ScriptedPolicy,
};

/// Arguments of `somnium eval-agent`.
#[derive(clap::Args)]
pub struct Args {
    /// `random`, `scripted`, `cem` (the planner over the env's imagination), or a
    /// PPO checkpoint directory (as written by `train-agent`).
    #[arg(long)]
    pub policy: String,
    /// One env, or two to compare on the same seeds (`physics:<id>[@variant]`).
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
    /// Output directory for report.json and report.md.
    #[arg(long)]
    pub out: PathBuf,
}

/// A fresh policy for `args.policy` and the frame size it needs.
fn make_policy(args: &Args) -> anyhow::Result<(Box<dyn Policy>, usize)> {
    Ok(match args.policy.as_str() {
        "random" => (Box::new(RandomPolicy::new(args.seed)), 1),
        "scripted" => (Box::new(ScriptedPolicy::new(args.seed)), 1),
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
            (Box::new(CemPlanner::new(config)?), 1)
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
            let size = match agent.obs.kind {
                ObsKind::State => 1,
                ObsKind::Frames => agent.obs.size,
            };
            (
                Box::new(PpoPolicy::new(agent, !args.stochastic, args.seed)),
                size,
            )
        }
    })
}

fn fmt_opt(v: Option<f32>) -> String {
    v.map_or("n/a".into(), |v| format!("{:.0}%", 100.0 * v))
}

/// The Markdown report of one or two summaries (same seeds).
fn markdown(policy: &str, summaries: &[EvalSummary]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# eval-agent: `{policy}`\n");
    let _ = writeln!(
        md,
        "| env | episodes | mean return | std | success | terminated | time limit | mean length |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for s in summaries {
        let _ = writeln!(
            md,
            "| `{}` | {} | {:.2} | {:.2} | {} | {} | {} | {:.1} |",
            s.env,
            s.episodes.len(),
            s.mean_return,
            s.std_return,
            fmt_opt(s.success_rate),
            s.terminated,
            s.time_limit,
            s.mean_length
        );
    }
    if let [a, b] = summaries {
        let _ = writeln!(md, "\n## Episodes where the envs disagree most\n");
        let _ = writeln!(
            md,
            "| seed | return in `{}` | return in `{}` | difference |",
            a.env, b.env
        );
        let _ = writeln!(md, "|---|---|---|---|");
        for (seed, ra, rb) in disagreements(a, b).into_iter().take(5) {
            let _ = writeln!(
                md,
                "| {seed} | {ra:.2} | {rb:.2} | {:.2} |",
                (ra - rb).abs()
            );
        }
    }
    md
}

/// `(seed, return in a, return in b)` ordered by decreasing difference.
fn disagreements(a: &EvalSummary, b: &EvalSummary) -> Vec<(u64, f32, f32)> {
    let mut d: Vec<(u64, f32, f32)> = a
        .episodes
        .iter()
        .zip(&b.episodes)
        .map(|(x, y)| (x.seed, x.episode_return, y.episode_return))
        .collect();
    d.sort_by(|x, y| (y.1 - y.2).abs().total_cmp(&(x.1 - x.2).abs()));
    d
}

fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
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
    let mut summaries = Vec::new();
    for target in &targets {
        let (mut policy, size) = make_policy(&args)?;
        let start = std::time::Instant::now();
        let s = evaluate(
            policy.as_mut(),
            target,
            size,
            args.episodes,
            args.seed,
            args.parallel,
        )?;
        println!(
            "{} in {target}: mean return {:.2} +- {:.2}, success {}, terminated {}, time limit {} ({:.1} s)",
            s.policy,
            s.mean_return,
            s.std_return,
            fmt_opt(s.success_rate),
            s.terminated,
            s.time_limit,
            start.elapsed().as_secs_f64()
        );
        summaries.push(s);
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut json =
        serde_json::json!({ "policy": args.policy, "seed": args.seed, "envs": summaries });
    if let [a, b] = summaries.as_slice() {
        json["disagreements"] = serde_json::to_value(disagreements(a, b))?;
    }
    write_atomic(
        &args.out.join("report.json"),
        &serde_json::to_string_pretty(&json)?,
    )?;
    write_atomic(
        &args.out.join("report.md"),
        &markdown(&args.policy, &summaries),
    )?;
    println!("wrote {}/report.json and report.md", args.out.display());
    Ok(())
}
