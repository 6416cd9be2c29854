//! Every numeric field of every settings file the CLI reads (`train --config`,
//! `train-agent --config`, and every scenario's `--config`, all presets) is fed
//! a zero, a negative number, NaN, a huge float and a huge integer. Each value
//! is either used without a panic (the model is built, the scenario reset,
//! stepped and rendered) or refused with an error that names the field.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use serde_json::Value;
use somnium_agents::ppo::PpoConfig;
use somnium_scenarios::{Action, ScenarioConfig, Space};
use somnium_world_model::config::ModelConfig;

use super::config_file::overlay;
use super::train_setup::preset_with_overrides;

/// One step into a JSON value: an object key or an array index.
#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

/// The path of every numeric leaf of `v`.
fn numeric_leaves(v: &Value, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        Value::Number(_) => out.push(path.clone()),
        Value::Object(map) => {
            for (k, child) in map {
                path.push(Seg::Key(k.clone()));
                numeric_leaves(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                numeric_leaves(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn leaf_mut<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    path.iter().fold(v, |v, seg| match seg {
        Seg::Key(k) => &mut v[k.as_str()],
        Seg::Index(i) => &mut v[*i],
    })
}

/// The object keys on `path`: an error must name one of them.
fn keys(path: &[Seg]) -> Vec<&str> {
    path.iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .collect()
}

/// The bad values, as JSON text: NaN is not JSON, so it goes in as the literal
/// a careless writer (or Python's `json.dump`) produces.
const BAD_VALUES: [&str; 5] = ["0", "-1", "NaN", "1e30", "1000000000000000"];

/// Writes `base` with the leaf at `path` replaced by each bad value to a file
/// and hands it to `load`; checks that no value panics and every error names
/// the field (every failure is listed at once). Returns how many cases ran.
fn feed_every_field(
    base: &Value,
    skip: &[&str],
    dir: &Path,
    load: &dyn Fn(&Path) -> Result<(), String>,
) -> usize {
    let (cases, failures) = try_every_field(base, skip, dir, load);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    cases
}

/// [`feed_every_field`] without the assertion: (cases run, failures).
fn try_every_field(
    base: &Value,
    skip: &[&str],
    dir: &Path,
    load: &dyn Fn(&Path) -> Result<(), String>,
) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut leaves = Vec::new();
    numeric_leaves(base, &mut Vec::new(), &mut leaves);
    let mut cases = 0;
    for path in leaves {
        let names = keys(&path);
        if names.iter().any(|k| skip.contains(k)) {
            continue;
        }
        for bad in BAD_VALUES {
            let mut v = base.clone();
            *leaf_mut(&mut v, &path) = Value::String("@BAD@".into());
            let text = serde_json::to_string_pretty(&v)
                .unwrap()
                .replace("\"@BAD@\"", bad);
            let file = dir.join("settings.json");
            std::fs::write(&file, &text).unwrap();
            let outcome = catch_unwind(AssertUnwindSafe(|| load(&file)));
            let shown = format!("{names:?} = {bad}");
            match outcome {
                Err(_) => failures.push(format!("{shown} panicked")),
                Ok(Ok(())) if matches!(bad, "NaN" | "1e30") => {
                    failures.push(format!("{shown} was accepted; it must be refused by name"))
                }
                Ok(Ok(())) => {}
                Ok(Err(e)) if !names.iter().any(|k| e.contains(k)) => {
                    failures.push(format!("{shown}: the error does not name the field: {e}"))
                }
                Ok(Err(_)) => {}
            }
            cases += 1;
        }
    }
    (cases, failures)
}

#[test]
fn every_numeric_model_setting_is_used_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let base = serde_json::to_value(ModelConfig::tiny()).unwrap();
    let load = |path: &Path| -> Result<(), String> {
        let cfg = preset_with_overrides("tiny", Some(path)).map_err(|e| format!("{e:#}"))?;
        somnium_world_model::dit::DiT::new(&cfg, 0, &candle_core::Device::Cpu)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let cases = feed_every_field(&base, &[], dir.path(), &load);
    assert!(cases >= 5 * 20, "only {cases} cases");
}

#[test]
fn every_numeric_ppo_setting_is_used_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for base in [
        PpoConfig::default(),
        PpoConfig::continuous(),
        PpoConfig::frames(),
    ] {
        let value = serde_json::to_value(&base).unwrap();
        let load = |path: &Path| -> Result<(), String> {
            let cfg = overlay(&base, path, "PPO settings").map_err(|e| format!("{e:#}"))?;
            cfg.validate().map_err(|e| e.to_string())
        };
        // the seed is any u64: every value a u64 holds is valid
        let cases = feed_every_field(&value, &["seed"], dir.path(), &load);
        assert!(cases >= 5 * 15, "only {cases} cases");
    }
}

/// Resets, steps and renders `scenario`: whatever a config let through must run.
fn exercise(mut scenario: Box<dyn somnium_scenarios::Scenario>) -> Result<(), String> {
    scenario.reset(7);
    let action = match scenario.action_space() {
        Space::Box { low, .. } => Action::Continuous(vec![0.5; low.len()]),
        Space::Discrete(_) => Action::Discrete(1),
    };
    for _ in 0..3 {
        scenario.step(&action).map_err(|e| e.to_string())?;
    }
    let _ = scenario.render(16, 16);
    Ok(())
}

#[test]
fn every_numeric_scenario_setting_is_used_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (mut total, mut failures) = (0, Vec::new());
    for id in somnium_scenarios::SCENARIO_IDS {
        for variant in somnium_scenarios::variants(id) {
            let mut base = ScenarioConfig::preset(id, variant).unwrap().to_json();
            base["variant"] = Value::String(variant.to_string());
            let load = |path: &Path| -> Result<(), String> {
                let scenario =
                    somnium_scenarios::make_from_file(path).map_err(|e| e.to_string())?;
                exercise(scenario)
            };
            let (cases, failed) = try_every_field(&base, &[], dir.path(), &load);
            total += cases;
            failures.extend(failed.into_iter().map(|f| format!("{id}@{variant}: {f}")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total >= 5 * 100, "only {total} cases");
}
