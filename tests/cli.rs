//! End to end: the `somnium scenarios`, `render` and `record` subcommands as a
//! user runs them.

mod common;

use common::somnium;
use somnium::world_model::data::DatasetReader;

#[test]
fn scenarios_lists_every_scenario() {
    let out = somnium(&["scenarios"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for id in somnium::scenarios::SCENARIO_IDS {
        assert!(text.contains(id), "{id} missing from:\n{text}");
    }
    let json = somnium(&["scenarios", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    assert_eq!(
        rows.as_array().map(Vec::len),
        Some(somnium::scenarios::SCENARIO_IDS.len())
    );
    let push = rows
        .as_array()
        .and_then(|r| r.iter().find(|row| row["id"] == "push-v0"))
        .expect("push-v0 row");
    assert_eq!(
        push["variants"],
        serde_json::json!(["id", "ood", "coarse", "large"])
    );
}

#[test]
fn render_writes_a_gif() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bounce.gif");
    let out = somnium(&[
        "render",
        "--scenario",
        "bounce-v0",
        "--seed",
        "3",
        "--steps",
        "5",
        "--size",
        "32",
        "--scale",
        "2",
        "--out",
        path.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&path).expect("gif written");
    assert_eq!(&bytes[..6], b"GIF89a");
    assert_eq!(
        u16::from_le_bytes([bytes[6], bytes[7]]),
        64,
        "upscaled width"
    );
}

#[test]
fn record_writes_a_dataset_and_refuses_a_different_setup_in_the_same_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("data");
    let target = out_dir.to_str().expect("utf-8 path");
    let base = [
        "record",
        "--scenario",
        "reach-v0",
        "--episodes",
        "3",
        "--max-steps",
        "4",
        "--size",
        "16",
    ];
    let out = somnium(&[&base[..], &["--episodes-per-shard", "2", "--out", target]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = DatasetReader::open(&out_dir).expect("dataset");
    assert_eq!((reader.len(), reader.num_shards()), (3, 2));

    let other = somnium(
        &[
            &base[..],
            &["--episodes-per-shard", "2", "--seed", "9", "--out", target],
        ]
        .concat(),
    );
    assert!(!other.status.success());
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("seed"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
}

#[test]
fn train_refuses_a_model_config_with_an_unknown_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    record_small("bounce-v0", "2", &data);
    let config = dir.path().join("model.json");
    std::fs::write(&config, r#"{"depth": 1, "dpeth": 2}"#).expect("write config");
    let run = dir.path().join("run");
    let train = somnium(&[
        "train",
        "--data",
        data.to_str().expect("utf-8 path"),
        "--preset",
        "tiny",
        "--config",
        config.to_str().expect("utf-8 path"),
        "--steps",
        "1",
        "--out",
        run.to_str().expect("utf-8 path"),
    ]);
    assert!(
        !train.status.success(),
        "a misspelt field must not be ignored"
    );
    let err = String::from_utf8_lossy(&train.stderr);
    assert!(err.contains("dpeth") && err.contains("unknown"), "{err}");
    assert!(
        !run.join("ckpt").exists(),
        "nothing is trained on a refused config"
    );
}

/// Records `episodes` short 32x32 episodes of `scenario` into `dir`.
fn record_small(scenario: &str, episodes: &str, dir: &std::path::Path) {
    let out = somnium(&[
        "record",
        "--scenario",
        scenario,
        "--episodes",
        episodes,
        "--max-steps",
        "8",
        "--size",
        "32",
        "--out",
        dir.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn train_tiny(
    data: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "train",
        "--data",
        data.to_str().expect("utf-8 path"),
        "--preset",
        "tiny",
        "--batch",
        "2",
        "--steps",
        "2",
        "--val-episodes",
        "1",
        "--rollout-episodes",
        "1",
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    somnium(&args)
}

#[test]
fn train_init_from_fine_tunes_a_run_and_refuses_a_mismatched_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("bounce");
    record_small("bounce-v0", "4", &data);
    let base = dir.path().join("base");
    let first = train_tiny(&data, &base, &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    let tuned = dir.path().join("tuned");
    let base_arg = base.to_str().expect("utf-8 path");
    let second = train_tiny(
        &data,
        &tuned,
        &["--init-from", base_arg, "--sampling-steps", "2"],
    );
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(String::from_utf8_lossy(&second.stdout).contains("fine-tuning from"));
    let read = |p: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).expect("config.json")).expect("json")
    };
    let (b, t) = (
        read(base.join("ckpt/config.json")),
        read(tuned.join("ckpt/config.json")),
    );
    assert_eq!(
        t["meta"]["step"], 2,
        "a fine-tuning run counts its own steps"
    );
    assert_eq!(t["model_config"]["sampling_steps"], 2);
    assert_eq!(t["model_config"]["depth"], b["model_config"]["depth"]);
    assert!(
        t["meta"]["extra"]["train"]["init_from"]
            .as_str()
            .is_some_and(|s| s.contains("base")),
        "the checkpoint records where it started: {t}"
    );

    // a model config flag conflicts: the config comes from the checkpoint
    let clash = train_tiny(
        &data,
        &dir.path().join("x"),
        &["--init-from", base_arg, "--target", "velocity"],
    );
    assert!(!clash.status.success());
    // a dataset of another action space is refused, naming both
    let cartpole = dir.path().join("cartpole");
    record_small("cartpole-v0", "2", &cartpole);
    let wrong = train_tiny(&cartpole, &dir.path().join("y"), &["--init-from", base_arg]);
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("--init-from") && err.contains("actions"),
        "{err}"
    );
}

#[test]
fn train_keep_every_keeps_loadable_snapshots_and_zero_intervals_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("bounce");
    record_small("bounce-v0", "3", &data);
    let run = dir.path().join("run");
    let out = train_tiny(&data, &run, &["--keep-every", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [1u64, 2] {
        let snap = run.join(format!("snapshots/step-{step:07}"));
        let cfg: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(snap.join("config.json")).expect("snapshot config.json"),
        )
        .expect("json");
        assert_eq!(cfg["meta"]["step"], step, "{cfg}");
        // a snapshot is a model: it exports (which reads it back) like one
        let exported = dir.path().join(format!("model-{step}"));
        let export = somnium(&[
            "export",
            "--model",
            snap.to_str().expect("utf-8 path"),
            "--out",
            exported.to_str().expect("utf-8 path"),
        ]);
        assert!(
            export.status.success(),
            "{}",
            String::from_utf8_lossy(&export.stderr)
        );
    }
    for flag in ["--save-every", "--val-every"] {
        let zero = train_tiny(&data, &dir.path().join("zero"), &[flag, "0"]);
        assert!(!zero.status.success(), "{flag} 0 must be refused");
        let err = String::from_utf8_lossy(&zero.stderr);
        assert!(err.contains(flag), "{err}");
    }
}

#[test]
fn train_with_the_state_head_fits_its_normaliser_from_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("bounce");
    record_small("bounce-v0", "3", &data);
    let config = dir.path().join("aux.json");
    std::fs::write(
        &config,
        r#"{"aux_state": {"weight": 0.1, "after_block": 1}}"#,
    )
    .expect("write config");
    let run = dir.path().join("run");
    let out = train_tiny(
        &data,
        &run,
        &["--config", config.to_str().expect("utf-8 path")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("auxiliary state head"));
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("ckpt/config.json")).expect("config.json"),
    )
    .expect("json");
    let aux = &cfg["model_config"]["aux_state"];
    // bounce-v0 stores x, y, z, vx, vy, vz of up to three balls
    assert_eq!(aux["mean"].as_array().map(Vec::len), Some(18), "{aux}");
    // a head reading past the last block is refused by name
    std::fs::write(
        &config,
        r#"{"aux_state": {"weight": 0.1, "after_block": 9}}"#,
    )
    .expect("write config");
    let bad = train_tiny(
        &data,
        &dir.path().join("bad"),
        &["--config", config.to_str().expect("utf-8 path")],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("after_block"));
}
