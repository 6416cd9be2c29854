//! End to end: every checkpoint and export records the scenario, variant,
//! frame size, action space, data hash and command behind it, and a model asked
//! to dream another scenario is refused by name unless the user overrides it.

mod common;

use common::{json, ok, somnium};

#[test]
fn a_trained_and_exported_model_records_what_it_was_trained_on() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    ok(&somnium(&[
        "record",
        "--scenario",
        "bounce-v0",
        "--variant",
        "ood",
        "--episodes",
        "3",
        "--max-steps",
        "6",
        "--size",
        "32",
        "--out",
        data.to_str().unwrap(),
    ]));
    let run = root.path().join("run");
    ok(&somnium(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--preset",
        "tiny",
        "--batch",
        "2",
        "--steps",
        "1",
        "--val-episodes",
        "1",
        "--rollout-episodes",
        "1",
        "--out",
        run.to_str().unwrap(),
    ]));
    let model = root.path().join("model");
    ok(&somnium(&[
        "export",
        "--model",
        run.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]));
    for dir in [run.join("ckpt"), model.clone()] {
        let p = &json(&dir.join("config.json"))["meta"]["provenance"];
        assert_eq!(p["scenario"], "bounce-v0", "{p}");
        assert_eq!(p["variant"], "ood");
        assert_eq!(p["frame_size"], serde_json::json!([32, 32]));
        assert_eq!(p["action_space"]["kind"], "box");
        assert_eq!(p["control_hz"], 15.0);
        assert_eq!(p["data_manifest_hash"].as_str().map(str::len), Some(16));
        let command: Vec<&str> = p["command"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w.as_str())
            .collect();
        assert!(
            command.contains(&"train") && command.contains(&"--data"),
            "{command:?}"
        );
    }
    // the ood model dreams ood, and is refused for id without the override
    let out = |name: &str| root.path().join(name).to_str().unwrap().to_string();
    let env = |variant: &str| format!("dream:bounce-v0:{variant}@{}", model.display());
    let dream = |env: &str, dir: &str, extra: &[&str]| {
        let mut args = vec!["dream", "--env", env, "--steps", "4", "--out", dir];
        args.extend_from_slice(extra);
        somnium(&args)
    };
    ok(&dream(&env("ood"), &out("a"), &[]));
    let refused = dream(&env("id"), &out("b"), &[]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("bounce-v0@ood") && err.contains("--allow-model-mismatch"),
        "{err}"
    );
    ok(&dream(&env("id"), &out("c"), &["--allow-model-mismatch"]));
}

#[test]
fn the_shipped_push_model_refuses_to_dream_bounce() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("r");
    let run = somnium(&[
        "dream",
        "--env",
        "dream:bounce-v0@models/push",
        "--steps",
        "6",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("push-v0@large") && err.contains("dream:push-v0:large@models/push"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written for a refused dream");
}
