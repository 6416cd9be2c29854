//! End to end: `somnium benchmark export` then `somnium benchmark score`.
//! Physics' own future as the predictions equals physics and beats reflected
//! constant velocity; the last context frame held does not; malformed
//! predictions and a tampered task set are refused with messages naming what
//! was wrong.

mod common;

use std::path::Path;

use common::{json, ok, somnium};
use somnium_env::consistency::predfile::write_predictions;
use somnium_env::consistency::taskfile::{read_task_set, write_task_set};
use somnium_env::consistency::tasks::generate_tasks;

const EPISODES: &str = "8";
const HORIZON: &str = "12";

fn export(dir: &Path) {
    ok(&somnium(&[
        "benchmark",
        "export",
        "--scenario",
        "bounce-v0",
        "--episodes",
        EPISODES,
        "--horizon",
        HORIZON,
        "--out",
        dir.to_str().unwrap(),
    ]));
}

/// Writes predictions for the task set in `tasks`: physics' true future, or the
/// last context frame held for every step.
fn predictions(tasks: &Path, path: &Path, copy_last: bool) {
    let set = read_task_set(tasks).unwrap();
    let m = &set.meta;
    let scenario = somnium_scenarios::make(&m.scenario, &m.variant).unwrap();
    let truth = generate_tasks(
        scenario.as_ref(),
        &m.seeds,
        &m.plan().unwrap(),
        m.context_frames,
        m.horizon,
        (m.frame_height, m.frame_width),
        0.0,
    )
    .unwrap();
    let fb = m.frame_bytes();
    let frames: Vec<u8> = truth
        .iter()
        .flat_map(|t| {
            if copy_last {
                let c = t.context();
                c[c.len() - fb..].repeat(m.horizon)
            } else {
                t.future().to_vec()
            }
        })
        .collect();
    let shape = [m.episodes, m.horizon, m.frame_height, m.frame_width, 3];
    write_predictions(path, &frames, shape, Some(&m.seeds)).unwrap();
}

fn score(tasks: &Path, preds: &Path, name: &str, out: &Path) -> std::process::Output {
    somnium(&[
        "benchmark",
        "score",
        "--tasks",
        tasks.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
        "--name",
        name,
        "--out",
        out.to_str().unwrap(),
    ])
}

fn verdict(report: &serde_json::Value, baseline: &str) -> bool {
    report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["baseline"] == baseline)
        .unwrap_or_else(|| panic!("no verdict against {baseline}"))["beats"]
        .as_bool()
        .unwrap()
}

#[test]
fn physics_predictions_equal_physics_and_a_held_frame_beats_nothing() {
    let root = tempfile::tempdir().unwrap();
    let tasks = root.path().join("tasks");
    export(&tasks);
    let meta = json(&tasks.join("tasks.json"));
    assert_eq!(meta["format"], "somnium-benchmark-tasks");
    assert_eq!(meta["seeds"].as_array().unwrap().len(), 8);
    assert_eq!(meta["action_space"]["kind"], "box");

    let preds = root.path().join("truth.safetensors");
    predictions(&tasks, &preds, false);
    let out = root.path().join("truth");
    ok(&score(&tasks, &preds, "truth", &out));
    let r = json(&out.join("report.json"));
    assert_eq!(r["predictor"], "truth");
    let s = &r["summary"][0];
    assert_eq!(s["name"], "truth");
    assert_eq!(s["centroid_error_px"]["mean"], 0.0, "{s}");
    assert_eq!(s["kept_share"], 1.0);
    let physics = r["summary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "physics")
        .unwrap();
    assert_eq!(s["psnr_db"], physics["psnr_db"]);
    assert!(verdict(&r, "constant_velocity"));
    assert!(!verdict(&r, "physics"), "equal to physics is not better");
    for file in [
        "report.md",
        "error_vs_horizon.png",
        "kept_vs_horizon.png",
        "median.gif",
    ] {
        assert!(out.join(file).exists(), "{file} not written");
    }

    let held = root.path().join("held.safetensors");
    predictions(&tasks, &held, true);
    let out = root.path().join("held");
    ok(&score(&tasks, &held, "held", &out));
    let r = json(&out.join("report.json"));
    assert!(!verdict(&r, "constant_velocity"));

    // the two side by side, episode by episode: the held frame is worse at every
    // horizon, its interval above zero
    let truth_dir = root.path().join("truth");
    let cmp = root.path().join("cmp");
    let arm = |name: &str, dir: &Path| format!("{name}={}", dir.display());
    ok(&somnium(&[
        "benchmark",
        "compare",
        "--arm",
        &arm("truth", &truth_dir),
        "--arm",
        &arm("held", &out),
        "--out",
        cmp.to_str().unwrap(),
    ]));
    let c = json(&cmp.join("comparison.json"));
    assert_eq!(c["reference"], "truth");
    let held_row = &c["arms"][1];
    let diffs = held_row["error_diff_px"].as_array().unwrap();
    assert_eq!(diffs.len(), c["columns"].as_array().unwrap().len());
    // from h2 on a held frame has lost the moving balls (h1 may still overlap)
    for d in &diffs[1..] {
        assert!(d["lo"].as_f64().unwrap() > 0.0, "{d}");
    }
    assert!(cmp.join("comparison.md").exists());
    // an arm twice, or a report of other tasks, is refused by name
    let again = somnium(&[
        "benchmark",
        "compare",
        "--arm",
        &arm("a", &truth_dir),
        "--arm",
        &arm("a", &out),
        "--out",
        root.path().join("cmp2").to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("twice"));
}

#[test]
fn malformed_predictions_and_tampered_tasks_are_refused_by_name() {
    let root = tempfile::tempdir().unwrap();
    let tasks = root.path().join("tasks");
    export(&tasks);
    let fb = 64 * 64 * 3;
    let bad = root.path().join("bad.safetensors");
    write_predictions(&bad, &vec![0; 8 * 3 * fb], [8, 3, 64, 64, 3], Some(&[1; 8])).unwrap();
    let run = score(&tasks, &bad, "x", &root.path().join("r1"));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        err.contains("prediction 0 has seed 1, task 0 has seed 10000"),
        "{err}"
    );
    write_predictions(&bad, &vec![0; 4 * 3 * fb], [4, 3, 64, 64, 3], None).unwrap();
    let err = String::from_utf8_lossy(&score(&tasks, &bad, "x", &root.path().join("r2")).stderr)
        .into_owned();
    assert!(err.contains("shape [4, 3, 64, 64, 3]"), "{err}");
    let run = score(&tasks, &bad, "physics", &root.path().join("r3"));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--name physics"));

    // a task set whose context is not what physics gives
    let good = root.path().join("good.safetensors");
    predictions(&tasks, &good, true);
    let mut set = read_task_set(&tasks).unwrap();
    set.context[3 * fb + 100] ^= 0x40; // seed 10000's last context frame
    write_task_set(&tasks, &set.meta, &set.context, &set.actions).unwrap();
    let run = score(&tasks, &good, "x", &root.path().join("r4"));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        err.contains("was written by another version or scenario: context of seed 10000"),
        "{err}"
    );
}
