//! `somnium results`: writes `docs/results.md` from the measured reports in
//! `reports/`, so the result tables in the docs cannot drift from the numbers.
//!
//! It reads every `reports/<name>/report.json` and every `reports/<name>.json`,
//! in name order, recognises each by its fields (a physics-consistency report of
//! `somnium eval`, a policy evaluation of `somnium eval-agent`, a speed report of
//! `somnium bench --json`) and renders one section per report with fixed float
//! formatting (see [`tables`]). The same reports always give the same bytes.
//! `--check` writes nothing: it exits non-zero, naming the first differing line,
//! when the file on disk is not what would be generated.

mod tables;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

/// Arguments of `somnium results`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory of reports: `NAME/report.json` and `NAME.json` files.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    /// The Markdown file to write (or to compare with `--check`).
    #[arg(long, default_value = "docs/results.md")]
    pub out: PathBuf,
    /// Write nothing; fail if `--out` differs from what would be generated.
    #[arg(long)]
    pub check: bool,
}

/// Run `somnium results`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let text = generate(&args.reports)?;
    if args.check {
        let on_disk = std::fs::read_to_string(&args.out)
            .with_context(|| format!("reading {}", args.out.display()))?;
        if let Some(msg) = first_difference(&on_disk, &text) {
            bail!(
                "{} is out of date with {}: {msg}; run `somnium results --reports {} --out {}` to regenerate it",
                args.out.display(),
                args.reports.display(),
                args.reports.display(),
                args.out.display()
            );
        }
        println!("{} matches {}", args.out.display(), args.reports.display());
        return Ok(());
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = args.out.with_extension("md.tmp");
    std::fs::write(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &args.out)
        .with_context(|| format!("renaming {} to {}", tmp.display(), args.out.display()))?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// What a report is, told apart by its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// `somnium eval`: predicted frames against physics, per horizon.
    Consistency,
    /// `somnium eval-agent`: returns of a policy in one env or two side by side.
    Agent,
    /// `somnium bench --json`: speed, optionally beside the PyTorch peer.
    Bench,
}

fn kind_of(v: &Value) -> Option<Kind> {
    if v.get("horizons").is_some() && v.get("summary").is_some() {
        Some(Kind::Consistency)
    } else if v.get("envs").is_some() {
        Some(Kind::Agent)
    } else if v.get("forward_b1_ms").is_some() {
        Some(Kind::Bench)
    } else {
        None
    }
}

/// One report found under the reports directory.
struct Found {
    /// The directory name (`bounce-id`) or the file stem (`bench-small`).
    name: String,
    /// The JSON file, relative to the reports directory (`bounce-id/report.json`).
    file: String,
    /// Whether `NAME/report.md` sits beside the JSON.
    has_md: bool,
    json: Value,
}

/// Every report under `dir`, in name order.
fn collect(dir: &Path) -> anyhow::Result<Vec<Found>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(fname) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let (name, file, json_path) = if path.is_dir() {
            let p = path.join("report.json");
            if !p.is_file() {
                continue;
            }
            (fname.clone(), format!("{fname}/report.json"), p)
        } else if let Some(stem) = fname.strip_suffix(".json") {
            (stem.to_owned(), fname.clone(), path.clone())
        } else {
            continue;
        };
        let raw = std::fs::read_to_string(&json_path)
            .with_context(|| format!("reading {}", json_path.display()))?;
        let json: Value = serde_json::from_str(&raw)
            .with_context(|| format!("{} is not valid JSON", json_path.display()))?;
        let has_md = path.is_dir() && path.join("report.md").is_file();
        found.push(Found {
            name,
            file,
            has_md,
            json,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The whole Markdown text of `docs/results.md` for the reports in `dir`.
pub fn generate(dir: &Path) -> anyhow::Result<String> {
    let found = collect(dir)?;
    let mut kinds = Vec::with_capacity(found.len());
    for f in &found {
        let kind = kind_of(&f.json).with_context(|| {
            format!(
                "{}: not a report somnium knows (expected `somnium eval`, `eval-agent` or `bench --json` output)",
                dir.join(&f.file).display()
            )
        })?;
        kinds.push(kind);
    }
    // Links are relative to docs/, where the page lives beside the reports directory.
    let base = format!(
        "../{}",
        dir.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("reports")
    );
    let mut out = String::new();
    out.push_str("# Results\n\n");
    out.push_str(
        "<!-- Generated by `somnium results` from the JSON reports; do not edit by hand. \
         `somnium results --check` (and `cargo test --test results_doc`) fails when this \
         file and the reports disagree. -->\n\n",
    );
    out.push_str(&format!(
        "Every table below is rendered from a JSON report in [`{1}/`]({0}/) by `somnium results`; \
         the commands that produced the reports, and what the numbers mean, are in \
         [world-model.md](world-model.md) and [agents.md](agents.md). Intervals written `a ± b` \
         are 95% confidence intervals over episodes unless a column says otherwise.\n",
        base,
        base.trim_start_matches("../")
    ));
    let sections = [
        (
            Kind::Consistency,
            "World model: physics consistency (`somnium eval`)",
        ),
        (
            Kind::Agent,
            "Agents: policy evaluations (`somnium eval-agent`)",
        ),
        (Kind::Bench, "Speed (`somnium bench --json`)"),
    ];
    for (kind, title) in sections {
        let members: Vec<&Found> = found
            .iter()
            .zip(&kinds)
            .filter(|(_, k)| **k == kind)
            .map(|(f, _)| f)
            .collect();
        if members.is_empty() {
            continue;
        }
        out.push_str(&format!("\n## {title}\n"));
        for f in members {
            let source = if f.has_md {
                format!(
                    "[`{0}`]({1}/{0}) ([report]({1}/{2}/report.md))",
                    f.file, base, f.name
                )
            } else {
                format!("[`{0}`]({1}/{0})", f.file, base)
            };
            out.push_str(&format!("\n### {}\n\nSource: {source}.\n", f.name));
            if let Some(cmd) = tables::command(&f.json) {
                out.push_str(&format!("Command: `{cmd}`\n"));
            }
            out.push('\n');
            let ctx = || format!("{}", dir.join(&f.file).display());
            let body = match kind {
                Kind::Consistency => tables::consistency(&f.json),
                Kind::Agent => {
                    tables::agent(&f.json, &format!("{base}/{}", f.name), &dir.join(&f.name))
                }
                Kind::Bench => tables::bench(&f.json),
            }
            .with_context(ctx)?;
            out.push_str(&body);
        }
    }
    Ok(out)
}

/// `None` when equal; otherwise where the two texts first part.
fn first_difference(on_disk: &str, generated: &str) -> Option<String> {
    if on_disk == generated {
        return None;
    }
    let mut a = on_disk.lines();
    let mut b = generated.lines();
    let mut line = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (Some(x), Some(y)) => {
                return Some(format!(
                    "line {line} differs\n  on disk:   {x}\n  generated: {y}"
                ))
            }
            (Some(_), None) => return Some(format!("it has extra lines from line {line}")),
            (None, Some(_)) => {
                return Some(format!("it ends at line {line}, before the generated text"))
            }
            (None, None) => return Some("line endings differ".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mean(m: f64) -> Value {
        json!({"mean": m, "ci95": m / 10.0, "n": 4})
    }

    fn consistency_report(h1_error: f64) -> Value {
        let horizon = |h: u64, e: f64| {
            json!({"horizon": h, "samples": 4, "centroid_error_px": mean(e), "kept_share": 0.75,
                   "median_area_ratio": 1.25, "psnr_db": mean(30.0), "velocity_error_px": mean(0.5)})
        };
        json!({
            "scenario": "bounce-v0", "variant": "id", "model": "models/x", "episodes": 4,
            "context_frames": 4, "max_horizon": 2, "seed": 7, "actions": "Random { seed: 7 }",
            "summary": [{"name": "model", "mean_error_px_h1_32": 1.5, "kept_share_h1_32": 0.75}],
            "beats_baselines_h1_32": true,
            "horizons": {"horizons": [1, 2], "methods": [
                {"name": "model", "horizons": [horizon(1, h1_error), horizon(2, 2.0)]}]},
        })
    }

    fn agent_report() -> Value {
        json!({"policy": "random", "seed": 0, "wall_s": 1.5, "planner_model": null,
               "envs": [{"env": "physics:cartpole-v0", "policy": "random", "mean_return": 3.5,
                         "std_return": 2.0, "success_rate": 0.0, "mean_length": 3.5,
                         "terminated": 2, "time_limit": 0,
                         "episodes": [{"seed": 0}, {"seed": 1}]}]})
    }

    fn write(dir: &Path, rel: &str, v: &Value) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    }

    #[test]
    fn results_change_when_a_report_changes() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b-eval/report.json", &consistency_report(0.25));
        write(dir.path(), "a-agent/report.json", &agent_report());
        let before = generate(dir.path()).unwrap();
        assert_eq!(before, generate(dir.path()).unwrap(), "not deterministic");
        assert!(before.contains("0.25 ± 0.03"), "{before}");
        assert!(before.contains("### a-agent") && before.contains("### b-eval"));
        write(dir.path(), "b-eval/report.json", &consistency_report(0.5));
        let after = generate(dir.path()).unwrap();
        assert_ne!(before, after);
        assert!(after.contains("0.50 ± 0.05"), "{after}");
        assert!(first_difference(&before, &after).unwrap().contains("line"));
    }

    #[test]
    fn results_check_fails_on_a_stale_file_and_passes_after_writing() {
        let dir = tempfile::tempdir().unwrap();
        let reports = dir.path().join("reports");
        write(&reports, "x/report.json", &consistency_report(0.25));
        let out = dir.path().join("docs/results.md");
        let args = |check| Args {
            reports: reports.clone(),
            out: out.clone(),
            check,
        };
        assert!(run(args(true)).is_err(), "no file yet");
        run(args(false)).unwrap();
        run(args(true)).unwrap();
        write(&reports, "x/report.json", &consistency_report(0.75));
        let err = format!("{:#}", run(args(true)).unwrap_err());
        assert!(
            err.contains("out of date") && err.contains("somnium results"),
            "{err}"
        );
    }

    #[test]
    fn results_refuse_an_unknown_report() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "odd.json", &json!({"hello": 1}));
        let err = format!("{:#}", generate(dir.path()).unwrap_err());
        assert!(
            err.contains("odd.json") && err.contains("not a report"),
            "{err}"
        );
    }
}
