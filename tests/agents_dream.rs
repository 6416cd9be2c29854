//! End to end, agents in the dream on a tiny random world model: `train-agent`
//! trains a pixel PPO policy inside `dream:` and evaluates it in physics;
//! `eval-agent` runs the same seeds in a dream and in physics side by side with
//! GIFs; `cem` plans with a model (`--planner-model`) while acting in physics.

mod common;

use std::path::Path;

use common::{json, ok, save_random_model, somnium};
use somnium_world_model::config::{ActionKind, ModelConfig};

/// Saves a tiny random model (32x32 frames, one sampling step) into `dir`.
fn tiny_checkpoint(dir: &Path, action: ActionKind) {
    let cfg = ModelConfig {
        action,
        sampling_steps: 1,
        ..ModelConfig::tiny()
    };
    save_random_model(dir, &cfg);
}

#[test]
fn ppo_trains_in_a_dream_and_is_judged_in_physics_side_by_side() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("model");
    tiny_checkpoint(&model, ActionKind::Discrete { n: 2 });
    let dream = format!("dream:cartpole-v0@{}", model.display());
    let run = dir.path().join("agent");
    let run_s = run.to_str().expect("utf-8 path");
    let out = somnium(&[
        "train-agent",
        "--algo",
        "ppo",
        "--env",
        &dream,
        "--eval-env",
        "physics:cartpole-v0",
        "--obs",
        "pixels",
        "--frame-size",
        "18",
        "--steps",
        "64",
        "--num-envs",
        "4",
        "--num-steps",
        "8",
        "--eval-every",
        "32",
        "--eval-episodes",
        "2",
        "--out",
        run_s,
    ]);
    ok(&out);
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics");
    assert_eq!(
        metrics.lines().filter(|l| l.contains("\"update\"")).count(),
        2
    );
    let evals: Vec<&str> = metrics.lines().filter(|l| l.contains("\"eval\"")).collect();
    assert_eq!(evals.len(), 2, "{metrics}");
    assert!(evals[0].contains("physics:cartpole-v0"), "{}", evals[0]);
    assert_eq!(
        &std::fs::read(run.join("returns.png")).expect("png")[1..4],
        b"PNG"
    );
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["steps"], 64);
    assert!(summary["env"].as_str().expect("env").starts_with("dream:"));

    let report = dir.path().join("report");
    let out = somnium(&[
        "eval-agent",
        "--policy",
        run_s,
        "--env",
        &dream,
        "--env",
        "physics:cartpole-v0",
        "--episodes",
        "3",
        "--gifs",
        "2",
        "--out",
        report.to_str().expect("utf-8 path"),
    ]);
    ok(&out);
    let r = json(&report.join("report.json"));
    let envs = r["envs"].as_array().expect("envs");
    assert_eq!(envs.len(), 2);
    assert!(envs[0]["env"].as_str().expect("env").starts_with("dream:"));
    for env in envs {
        let seeds: Vec<u64> = env["episodes"]
            .as_array()
            .expect("episodes")
            .iter()
            .map(|e| e["seed"].as_u64().expect("seed"))
            .collect();
        assert_eq!(seeds, vec![0, 1, 2], "same seeds in both envs");
    }
    let worst = r["disagreements"].as_array().expect("disagreements");
    assert_eq!(worst.len(), 3);
    let gifs: Vec<&str> = worst.iter().filter_map(|d| d["gif"].as_str()).collect();
    assert_eq!(gifs.len(), 2);
    for gif in gifs {
        assert_eq!(&std::fs::read(report.join(gif)).expect("gif")[..3], b"GIF");
    }
    let md = std::fs::read_to_string(report.join("report.md")).expect("markdown");
    assert!(md.contains("disagree") && md.contains(".gif"), "{md}");
}

#[test]
fn the_planner_imagines_with_a_model_while_acting_in_physics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("model");
    tiny_checkpoint(&model, ActionKind::Continuous { dim: 2 });
    let report = dir.path().join("report");
    let out = somnium(&[
        "eval-agent",
        "--policy",
        "cem",
        "--planner-model",
        model.to_str().expect("utf-8 path"),
        "--env",
        "physics:push-v0",
        "--episodes",
        "2",
        "--horizon",
        "2",
        "--population",
        "4",
        "--iterations",
        "1",
        "--out",
        report.to_str().expect("utf-8 path"),
    ]);
    ok(&out);
    let r = json(&report.join("report.json"));
    assert_eq!(
        r["envs"][0]["episodes"].as_array().expect("episodes").len(),
        2
    );
    assert!(r["planner_model"].as_str().is_some());

    let out = somnium(&[
        "eval-agent",
        "--policy",
        "cem",
        "--planner-model",
        "/nonexistent/model",
        "--env",
        "physics:push-v0",
        "--out",
        report.to_str().expect("utf-8 path"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no model checkpoint"), "{err}");
}

/// Mean physics return of `policy` over seeds 0-15 of `cartpole-v0@coarse`, run
/// beside the shipped dream (so physics takes the dream's warm-up, the protocol
/// the README's numbers use).
fn coarse_physics_return(policy: &str) -> f64 {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let dream = format!(
        "dream:cartpole-v0:coarse@{}",
        root.join("models/cartpole").display()
    );
    let out = somnium(&[
        "eval-agent",
        "--policy",
        policy,
        "--env",
        &dream,
        "--env",
        "physics:cartpole-v0@coarse",
        "--episodes",
        "16",
        "--gifs",
        "0",
        "--out",
        dir.path().to_str().expect("utf-8"),
    ]);
    ok(&out);
    let report = json(&dir.path().join("report.json"));
    assert_eq!(report["envs"][1]["env"], "physics:cartpole-v0@coarse");
    report["envs"][1]["mean_return"]
        .as_f64()
        .expect("mean return")
}

/// The shipped `models/cartpole-agent` learned to balance from pixels entirely
/// inside the shipped `models/cartpole` dream; in physics it keeps the pole up
/// more than twice as long as random actions on the same seeds.
#[test]
fn the_shipped_dream_trained_cartpole_agent_beats_random_in_physics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let agent = coarse_physics_return(root.join("models/cartpole-agent").to_str().expect("utf-8"));
    let random = coarse_physics_return("random");
    assert!(
        agent >= 2.0 * random,
        "dream-trained agent {agent:.2} against random {random:.2} in physics"
    );
}
