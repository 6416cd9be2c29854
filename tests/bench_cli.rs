//! End to end: `somnium bench` as a user runs it, on the tiny preset with one
//! repeat (seconds): the JSON it prints, a missing peer interpreter, a bad preset.

mod common;

use common::somnium;

const FIGURES: [&str; 13] = [
    "matmul_gflops",
    "forward_b1_ms",
    "forward_b32_ms",
    "dream_step_b1_ms",
    "dream_step_b32_ms",
    "train_step_ms",
    "train_batch",
    "gflops_dream_b32",
    "gflops_forward_b32",
    "gflops_train",
    "params",
    "threads",
    "repeats",
];

fn bench_json(extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "bench",
        "--preset",
        "tiny",
        "--json",
        "--repeats",
        "1",
        "--train-batch",
        "4",
    ];
    args.extend_from_slice(extra);
    let out = somnium(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

#[test]
fn bench_prints_every_figure_finite_and_positive() {
    let v = bench_json(&[]);
    for key in FIGURES {
        let x = v[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing in {v}"));
        assert!(x.is_finite() && x > 0.0, "{key} = {x}");
    }
    assert_eq!(v["preset"], "tiny");
    assert_eq!(v["train_batch"], 4);
    assert_eq!(v["config"]["width"], 32);
    assert_eq!(v["config"]["window"], 3);
    for key in ["cpu", "candle_version"] {
        assert!(v[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    assert!(v.get("peer").is_none(), "no peer was asked for");
}

#[test]
fn a_missing_peer_interpreter_is_reported_not_fatal() {
    let v = bench_json(&["--peer", "/nonexistent/python"]);
    assert!(v["peer"].is_null(), "{v}");
    let reason = v["peer_error"].as_str().expect("peer_error");
    assert!(reason.contains("/nonexistent/python"), "{reason}");
    assert!(v["forward_b1_ms"].as_f64().is_some_and(|x| x > 0.0));
}

#[test]
fn a_bad_preset_is_a_clear_error() {
    let out = somnium(&["bench", "--preset", "huge", "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("huge") && err.contains("preset"), "{err}");
}
