//! `train-agent --resume`: checks that a run directory holds a run with the same
//! settings, and keeps its `metrics.jsonl` up to the checkpoint (lines written
//! after it are dropped: the resumed run writes those steps again), returning
//! the training and evaluation curves so far for the returns plot.

use std::path::Path;

use anyhow::{bail, Context};
use somnium_agents::ppo::PpoConfig;

/// The curves of `returns.png`: (env step, return) for training and evaluation.
pub type Curves = (Vec<(f64, f64)>, Vec<(f64, f64)>);

/// Refuses to resume `out` unless it was started with `config` (the step budget
/// aside) and `env`; names the first setting that differs.
pub fn check_saved_run(out: &Path, config: &PpoConfig, env: &str) -> anyhow::Result<()> {
    let path = out.join("ppo_config.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "--resume: no run to resume in {} (cannot read {})",
            out.display(),
            path.display()
        )
    })?;
    // both through PpoConfig, so f32 settings compare as the same numbers
    let saved: PpoConfig =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    let (saved, now) = (serde_json::to_value(&saved)?, serde_json::to_value(config)?);
    if let (Some(saved), Some(now)) = (saved.as_object(), now.as_object()) {
        for (key, value) in now {
            // the step budget may change: a finished run can be trained further
            if key != "total_steps" && saved.get(key) != Some(value) {
                bail!(
                    "--resume: setting '{key}' is {value} now but {} in the saved run {}; \
                     resume with the run's own settings",
                    saved.get(key).map_or("absent".into(), |v| v.to_string()),
                    out.display()
                );
            }
        }
    }
    let agent = somnium_agents::AgentFile::read(out)
        .with_context(|| format!("--resume: no checkpoint in {}", out.display()))?;
    if agent.env != env {
        bail!(
            "--resume: the saved run trained in '{}', not '{env}'",
            agent.env
        );
    }
    Ok(())
}

/// Rewrites `metrics.jsonl` in `out` (atomically) without the lines past
/// `global_step`, and returns the curves they hold.
pub fn trim_metrics(out: &Path, global_step: u64) -> anyhow::Result<Curves> {
    let path = out.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let (mut train, mut eval) = (Vec::new(), Vec::new());
    let mut kept = String::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue; // a line cut short by the interruption
        };
        let step = v["global_step"].as_u64().unwrap_or(u64::MAX);
        if step > global_step {
            continue;
        }
        match v["kind"].as_str() {
            Some("update") => {
                if let Some(r) = v["rolling_return_20"].as_f64() {
                    train.push((step as f64, r));
                }
            }
            Some("eval") => {
                if let Some(r) = v["mean_return"].as_f64() {
                    eval.push((step as f64, r));
                }
            }
            _ => {}
        }
        kept.push_str(line);
        kept.push('\n');
    }
    somnium_files::write_atomic(&path, kept.as_bytes())?;
    Ok((train, eval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_past_the_checkpoint_are_dropped_and_the_curves_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            r#"{"kind":"update","global_step":100,"rolling_return_20":5.0}"#,
            r#"{"kind":"eval","global_step":100,"mean_return":7.0}"#,
            r#"{"kind":"update","global_step":200,"rolling_return_20":null}"#,
            r#"{"kind":"update","global_step":300,"rolling_return_20":9.0}"#,
            r#"{"kind":"upd"#,
        ];
        std::fs::write(dir.path().join("metrics.jsonl"), lines.join("\n")).unwrap();
        let (train, eval) = trim_metrics(dir.path(), 200).unwrap();
        assert_eq!(train, vec![(100.0, 5.0)]);
        assert_eq!(eval, vec![(100.0, 7.0)]);
        let kept = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
        assert_eq!(kept.lines().count(), 3);
        assert!(!kept.contains("300"));
    }

    #[test]
    fn a_run_with_other_settings_is_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let config = PpoConfig::default();
        assert!(check_saved_run(dir.path(), &config, "physics:cartpole-v0")
            .unwrap_err()
            .to_string()
            .contains("no run to resume"));
        let mut other = config.clone();
        other.learning_rate *= 2.0;
        std::fs::write(
            dir.path().join("ppo_config.json"),
            serde_json::to_string(&other).unwrap(),
        )
        .unwrap();
        let err = check_saved_run(dir.path(), &config, "physics:cartpole-v0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("learning_rate"), "{err}");
    }
}
