//! `somnium scenarios`: lists every scenario with its spaces, variants, control
//! rate and time limit. Also holds [`ScenarioChoice`], the `--scenario`,
//! `--variant` and `--config` arguments other subcommands share.

use std::path::PathBuf;

use anyhow::Context;
use somnium_scenarios::{make, make_from_str, Scenario, ScenarioError, Space, SCENARIO_IDS};

/// Arguments of `somnium scenarios`.
#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Which scenario to build: a registered id and variant, or a config file.
#[derive(clap::Args, Clone, Debug)]
pub struct ScenarioChoice {
    /// Scenario id (see `somnium scenarios`).
    #[arg(long, required_unless_present = "config")]
    pub scenario: Option<String>,
    /// Named variant: `id` (training distribution), `ood` (out of distribution), or a scenario's own, such as push-v0 `large` or cartpole-v0 `coarse` (`somnium scenarios` lists them).
    #[arg(long, default_value = "id")]
    pub variant: String,
    /// A JSON or TOML scenario config file (replaces --variant).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Builds a fresh scenario each call (one per worker thread).
pub type ScenarioFactory = Box<dyn Fn() -> Result<Box<dyn Scenario>, ScenarioError> + Send + Sync>;

impl ScenarioChoice {
    /// A factory for the chosen scenario, checked by building it once.
    pub fn factory(&self) -> anyhow::Result<ScenarioFactory> {
        let factory: ScenarioFactory = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading scenario config {}", path.display()))?;
                Box::new(move || make_from_str(&text))
            }
            None => {
                let id = self
                    .scenario
                    .clone()
                    .context("name a scenario with --scenario or --config")?;
                let variant = self.variant.clone();
                Box::new(move || make(&id, &variant))
            }
        };
        let probe = factory().context("building the scenario")?;
        if let (Some(id), Some(_)) = (&self.scenario, &self.config) {
            anyhow::ensure!(
                probe.id() == id,
                "--scenario {id} does not match the config file's scenario {}",
                probe.id()
            );
        }
        Ok(factory)
    }
}

/// A short description of a space, e.g. `Box[-1, 1]^2` or `Discrete(3)`.
pub fn describe_space(space: &Space) -> String {
    match space {
        Space::Discrete(n) => format!("Discrete({n})"),
        Space::Box { low, high, shape } => {
            let lo = low.iter().cloned().fold(f32::INFINITY, f32::min);
            let hi = high.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let uniform = low.iter().all(|&l| l == lo) && high.iter().all(|&h| h == hi);
            let dims = shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("x");
            if uniform {
                format!("Box[{lo}, {hi}]^{dims}")
            } else {
                format!("Box{shape:?} (per-element bounds {lo}..{hi})")
            }
        }
    }
}

/// Run `somnium scenarios`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for id in SCENARIO_IDS {
        let s = make(id, "id").with_context(|| format!("building {id}"))?;
        let names = s.state_names();
        rows.push(serde_json::json!({
            "id": id,
            "action_space": s.action_space(),
            "action": describe_space(&s.action_space()),
            "state_dim": names.len(),
            "state_names": names,
            "variants": somnium_scenarios::variants(id),
            "control_hz": s.control_hz(),
            "render_fps": s.render_fps(),
            "max_episode_steps": s.max_episode_steps(),
            "arena_size": s.arena_size(),
            "success": s.success_rule(),
            "variant_info": somnium_scenarios::variants(id)
                .iter()
                .map(|v| somnium_scenarios::describe(id, v))
                .collect::<Result<Vec<_>, _>>()?,
        }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for row in &rows {
        let limit = row["max_episode_steps"]
            .as_u64()
            .map_or("none".to_string(), |n| format!("{n} steps"));
        println!("{}", row["id"].as_str().unwrap_or("?"));
        println!("  action     {}", row["action"].as_str().unwrap_or("?"));
        let names: Vec<&str> = row["state_names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect();
        println!("  state      {} values: {}", names.len(), names.join(", "));
        let variants: Vec<String> = row["variant_info"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| {
                format!(
                    "{} ({} Hz)",
                    v["name"].as_str().unwrap_or("?"),
                    v["control_hz"]
                )
            })
            .collect();
        println!("  variants   {}", variants.join(", "));
        println!("  control    {} Hz, time limit {limit}", row["control_hz"]);
        println!("  success    {}", row["success"].as_str().unwrap_or("?"));
    }
    Ok(())
}
