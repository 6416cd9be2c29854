//! End to end: `somnium train-agent` and `somnium eval-agent` as a user runs
//! them, and the clear errors for env strings that name nothing usable.

mod common;

use common::{ok, somnium};

#[test]
fn train_then_evaluate_a_ppo_agent_on_cartpole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("agent");
    let run_s = run.to_str().expect("utf-8 path");
    let out = somnium(&[
        "train-agent",
        "--algo",
        "ppo",
        "--env",
        "physics:cartpole-v0",
        "--eval-env",
        "physics:cartpole-v0@ood",
        "--steps",
        "4096",
        "--num-envs",
        "4",
        "--eval-every",
        "2048",
        "--eval-episodes",
        "2",
        "--out",
        run_s,
    ]);
    ok(&out);
    for file in [
        "agent.safetensors",
        "agent.json",
        "metrics.jsonl",
        "returns.png",
        "summary.json",
    ] {
        assert!(run.join(file).exists(), "{file} missing");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics");
    let evals = metrics.lines().filter(|l| l.contains("\"eval\"")).count();
    assert!(evals >= 2, "{metrics}");
    assert_eq!(
        &std::fs::read(run.join("returns.png")).expect("png")[1..4],
        b"PNG"
    );

    let report = dir.path().join("report");
    let out = somnium(&[
        "eval-agent",
        "--policy",
        run_s,
        "--env",
        "physics:cartpole-v0",
        "--env",
        "physics:cartpole-v0@ood",
        "--episodes",
        "3",
        "--out",
        report.to_str().expect("utf-8 path"),
    ]);
    ok(&out);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("report.json")).expect("report"))
            .expect("valid JSON");
    let envs = json["envs"].as_array().expect("envs");
    assert_eq!(envs.len(), 2);
    for (env, seeds) in envs.iter().zip([0, 0]) {
        assert_eq!(env["episodes"][0]["seed"], seeds, "same seeds in both envs");
    }
    let md = std::fs::read_to_string(report.join("report.md")).expect("markdown");
    assert!(md.contains("physics:cartpole-v0@ood") && md.contains("disagree"));
}

#[test]
fn the_scripted_expert_beats_random_in_eval_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut means = Vec::new();
    for policy in ["random", "scripted"] {
        let out_dir = dir.path().join(policy);
        let out = somnium(&[
            "eval-agent",
            "--policy",
            policy,
            "--env",
            "physics:cartpole-v0",
            "--episodes",
            "4",
            "--out",
            out_dir.to_str().expect("utf-8 path"),
        ]);
        ok(&out);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).expect("report"))
                .expect("valid JSON");
        means.push(json["envs"][0]["mean_return"].as_f64().expect("mean"));
    }
    assert!(means[1] > 3.0 * means[0], "{means:?}");
}

#[test]
fn bad_env_strings_and_policies_get_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_s = dir.path().to_str().expect("utf-8 path");
    for (args, needle) in [
        (
            vec!["train-agent", "--env", "physics:nope-v0", "--out", out_s],
            "unknown scenario",
        ),
        (
            vec!["train-agent", "--env", "sim:cartpole-v0", "--out", out_s],
            "unknown kind",
        ),
        (
            vec![
                "train-agent",
                "--env",
                "physics:cartpole-v0",
                "--obs",
                "voxels",
                "--out",
                out_s,
            ],
            "observation kind 'voxels'",
        ),
        (
            vec![
                "train-agent",
                "--env",
                "dream:cartpole-v0@/nonexistent/model",
                "--obs",
                "state",
                "--out",
                out_s,
            ],
            "no state vector",
        ),
        (
            vec![
                "train-agent",
                "--env",
                "dream:cartpole-v0@/nonexistent/model",
                "--obs",
                "pixels",
                "--out",
                out_s,
            ],
            "no model checkpoint",
        ),
        (
            vec![
                "eval-agent",
                "--policy",
                "genius",
                "--env",
                "physics:push-v0",
                "--out",
                out_s,
            ],
            "neither random, scripted, cem",
        ),
        (
            vec![
                "eval-agent",
                "--policy",
                "random",
                "--env",
                "physics:push-v0@huge",
                "--out",
                out_s,
            ],
            "huge",
        ),
    ] {
        let out = somnium(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn train_agent_refuses_a_ppo_settings_file_with_an_unknown_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ppo.json");
    std::fs::write(&config, r#"{"ent_coef": 0.0, "learning_rat": 0.1}"#).expect("write");
    let out = dir.path().join("agent");
    let run = somnium(&[
        "train-agent",
        "--env",
        "physics:cartpole-v0",
        "--config",
        config.to_str().expect("utf-8 path"),
        "--steps",
        "256",
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(
        !run.status.success(),
        "a misspelt PPO setting must not be ignored"
    );
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("learning_rat") && err.contains("unknown"),
        "{err}"
    );
}

/// A finished (or interrupted) run goes on with `--resume`: the steps continue
/// from its checkpoint, its metrics are kept, and other settings are refused.
#[test]
fn train_agent_resumes_a_run_and_refuses_other_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("agent");
    let run_s = run.to_str().expect("utf-8 path");
    let args = |steps: &'static str, lr: &'static str| {
        vec![
            "train-agent",
            "--env",
            "physics:cartpole-v0",
            "--steps",
            steps,
            "--num-envs",
            "4",
            "--num-steps",
            "128",
            "--lr",
            lr,
            "--eval-every",
            "1024",
            "--eval-episodes",
            "2",
            "--out",
            run_s,
        ]
    };
    let fresh = somnium(&[args("2048", "0.00025"), vec!["--resume"]].concat());
    assert!(!fresh.status.success(), "nothing to resume yet");
    assert!(String::from_utf8_lossy(&fresh.stderr).contains("no run to resume"));
    ok(&somnium(&args("2048", "0.00025")));
    let other = somnium(&[args("4096", "0.001"), vec!["--resume"]].concat());
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("learning_rate"));
    ok(&somnium(
        &[args("4096", "0.00025"), vec!["--resume"]].concat(),
    ));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics");
    let steps: Vec<u64> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|v| v["kind"] == "update")
        .map(|v| v["global_step"].as_u64().expect("step"))
        .collect();
    assert_eq!(steps.len(), 8, "four updates, then four more: {steps:?}");
    assert!(steps.windows(2).all(|w| w[1] == w[0] + 512), "{steps:?}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).expect("summary"))
            .expect("JSON");
    assert_eq!(summary["steps"], 4096);
}
