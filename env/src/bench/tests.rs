//! The benchmark end to end on a tiny random model.

use somnium_scenarios::make;
use somnium_world_model::config::ModelConfig;

use super::*;

#[test]
fn a_small_benchmark_scores_physics_at_zero_and_writes_its_outputs() {
    let model = DreamModel::random(&ModelConfig::tiny(), 5).unwrap();
    let scenario = make("bounce-v0", "id").unwrap();
    let config = BenchConfig {
        episodes: 3,
        max_horizon: 8,
        batch: 2,
        follow_horizon: 3,
        follow_episodes: 2,
        ..BenchConfig::default()
    };
    let mut calls = 0;
    let outcome = run_benchmark(&model, scenario.as_ref(), &config, |_, _| calls += 1).unwrap();
    assert_eq!(calls, 2 * 8, "two batches of eight dreamed steps");
    let r = &outcome.report;
    let physics = r.horizons.method(PHYSICS).unwrap();
    for s in &physics.horizons {
        assert_eq!(
            s.centroid_error_px.unwrap().mean,
            0.0,
            "horizon {}",
            s.horizon
        );
        assert_eq!(s.kept_share, Some(1.0));
    }
    let names: Vec<&str> = r.summary.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "model",
        "copy_last",
        "constant_velocity",
        "arena_centre",
        PHYSICS,
        PERTURBED,
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert_eq!(r.episode_scores.len(), 3);
    // a random model may predict termination early: frames are what it dreamed
    let dreamed: usize = r.episode_scores.iter().map(|e| e.dreamed_steps).sum();
    assert_eq!(r.long_run.frames, dreamed);
    assert!(dreamed <= 3 * 8);
    assert!(r.action_following.is_some());
    assert!(outcome.worst.is_some() && outcome.median.is_some());

    let dir = tempfile::tempdir().unwrap();
    let written = output::write_outputs(dir.path(), &outcome, model.frame_size(), 15.0).unwrap();
    for name in [
        "report.json",
        "report.md",
        "error_vs_horizon.png",
        "worst.gif",
        "median.gif",
    ] {
        assert!(
            written.contains(&dir.path().join(name)),
            "{name} not written"
        );
    }
    let back: BenchReport =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(back.summary, r.summary);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("Ceiling") && md.contains("Action following"),
        "{md}"
    );
}
