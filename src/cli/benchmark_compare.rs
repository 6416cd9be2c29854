//! `somnium benchmark compare`: several models' benchmark reports on the same
//! tasks, side by side, each arm against the first with paired intervals
//! (the logic is `somnium_env::consistency::compare`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use somnium_env::consistency::compare::{compare_arms, Arm, ScoredEpisodes};
use somnium_env::consistency::ConsistencyReport;
use somnium_files::{write_atomic, OutputKind};

/// Arguments of `somnium benchmark compare`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// An arm: `NAME=REPORT[,REPORT...]`, each REPORT a report directory or
    /// its report.json (from `somnium eval` or `benchmark score`). Give it once
    /// per arm; the first is the reference.
    #[arg(long = "arm", required = true)]
    pub arms: Vec<String>,
    /// Output directory: comparison.json and comparison.md.
    #[arg(long)]
    pub out: PathBuf,
}

fn read_report(path: &Path) -> anyhow::Result<ConsistencyReport> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a benchmark report", file.display()))
}

fn parse_arm(spec: &str) -> anyhow::Result<Arm> {
    let Some((name, paths)) = spec.split_once('=') else {
        bail!("--arm {spec:?}: expected NAME=REPORT[,REPORT...]");
    };
    let name = name.trim();
    if name.is_empty() || paths.trim().is_empty() {
        bail!("--arm {spec:?}: the name and at least one report are needed");
    }
    let reports = paths
        .split(',')
        .map(|p| {
            let path = PathBuf::from(p.trim());
            let report = read_report(&path).with_context(|| format!("--arm {name}"))?;
            Ok(ScoredEpisodes::of(&report, &path.display().to_string()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Arm {
        name: name.to_string(),
        reports,
    })
}

/// Run `somnium benchmark compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let arms = args
        .arms
        .iter()
        .map(|a| parse_arm(a))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut names: Vec<&str> = arms.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!("--arm {} is given twice", w[0]);
    }
    let mut report = compare_arms(&arms)?;
    report.command = super::command_line();
    super::claim_out(&args.out, &OutputKind::COMPARISON)?;
    let md = report.to_markdown();
    write_atomic(
        &args.out.join("comparison.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    write_atomic(&args.out.join("comparison.md"), md.as_bytes())?;
    println!("{md}");
    println!("wrote {}", args.out.join("comparison.json").display());
    Ok(())
}
