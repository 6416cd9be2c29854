//! The consistency evaluation end to end on a tiny random model.

use somnium_scenarios::make;
use somnium_world_model::config::ModelConfig;

use super::*;

#[test]
fn a_small_evaluation_scores_physics_at_zero_and_writes_its_outputs() {
    let model = DreamModel::random(&ModelConfig::tiny(), 5).unwrap();
    let scenario = make("bounce-v0", "id").unwrap();
    let config = ConsistencyConfig {
        episodes: 3,
        max_horizon: 8,
        batch: 2,
        follow_horizon: 3,
        follow_episodes: 2,
        ..ConsistencyConfig::default()
    };
    let mut calls = 0;
    let outcome = run_consistency(&model, scenario.as_ref(), &config, |_, _| calls += 1).unwrap();
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
        assert_eq!(s.velocity_error_px.unwrap().mean, 0.0);
        assert_eq!(s.count_preserved, Some(1.0));
        assert_eq!(s.centroid_error_m.unwrap().mean, 0.0);
    }
    let timing = physics.collision_timing.as_ref().unwrap();
    assert_eq!(
        timing.matched, timing.true_events,
        "physics bounces on time"
    );
    assert_eq!(timing.predicted_events, timing.true_events);
    let verdict = r
        .verdict(PHYSICS)
        .expect("the model is compared with physics");
    assert!(
        !verdict.beats,
        "a random model does not beat physics: {}",
        verdict.why
    );
    assert!(r.verdicts.iter().any(|v| v.baseline == "constant_velocity"));
    let copy = r.horizons.method("copy_last").unwrap();
    let (speed, stand_still) = (
        copy.horizons[0].velocity_error_px.unwrap().mean,
        copy.horizons[0].centroid_error_px.unwrap().mean,
    );
    assert!(
        (speed - stand_still).abs() < 1e-6,
        "at h = 1 copy-last's velocity error is the true step, its centroid error: {speed} vs {stand_still}"
    );
    assert!(r.metres_per_px.is_some_and(|m| m > 0.0));
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
    // per-episode values at the table horizons, for `benchmark compare`
    for e in &r.episode_scores {
        let hs: Vec<usize> = e.at_horizons.iter().map(|p| p.horizon).collect();
        assert_eq!(&hs[..2], &[1, 2], "{hs:?}");
        assert!(e.mean_kept_h1_32.is_some_and(|k| (0.0..=1.0).contains(&k)));
    }
    // a random model may predict termination early: frames are what it dreamed
    let dreamed: usize = r.episode_scores.iter().map(|e| e.dreamed_steps).sum();
    assert_eq!(r.long_run.frames, dreamed);
    assert!(dreamed <= 3 * 8);
    assert!(r.action_following.is_some());
    assert!(r.counterfactual.is_some(), "bounce's actions push ball0");
    assert!(outcome.worst.is_some() && outcome.median.is_some());

    let dir = tempfile::tempdir().unwrap();
    let written = output::write_outputs(dir.path(), &outcome, model.frame_size(), 15.0).unwrap();
    for name in [
        "report.json",
        "report.md",
        "error_vs_horizon.png",
        "kept_vs_horizon.png",
        "sharpness_vs_horizon.png",
        "worst.gif",
        "median.gif",
    ] {
        assert!(
            written.contains(&dir.path().join(name)),
            "{name} not written"
        );
    }
    let back: ConsistencyReport =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    // JSON floats round trip to within the last digit (serde_json without float_roundtrip)
    let names = |r: &ConsistencyReport| -> Vec<String> {
        r.summary.iter().map(|s| s.name.clone()).collect()
    };
    assert_eq!(names(&back), names(r));
    let beats =
        |r: &ConsistencyReport| -> Vec<bool> { r.verdicts.iter().map(|v| v.beats).collect() };
    assert_eq!(beats(&back), beats(r));
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("Ceiling")
            && md.contains("Action following")
            && md.contains("Verdicts: model against each method")
            && md.contains("Counterfactual action fidelity")
            && md.contains("Velocity error (px/step")
            && md.contains("Position error (metres"),
        "{md}"
    );
}

#[test]
fn the_arena_size_comes_from_the_scenario_not_its_config_keys() {
    let bounce = make("bounce-v0", "ood").unwrap();
    assert_eq!(episodes::arena_size_m(bounce.as_ref()), 2.0);
    let push = make("push-v0", "large").unwrap();
    let half = push.config_json()["table_half_width"].as_f64().unwrap() as f32;
    assert_eq!(episodes::arena_size_m(push.as_ref()), 2.0 * half);
    assert_eq!(push.arena_size(), Some(2.0 * half));
    // No arena: the perturbation falls back to one metre.
    let cartpole = make("cartpole-v0", "id").unwrap();
    assert_eq!(cartpole.arena_size(), None);
    assert_eq!(episodes::arena_size_m(cartpole.as_ref()), 1.0);
}

#[test]
fn metres_per_pixel_maps_pixel_centroids_to_the_true_positions() {
    let (h, w) = (64, 64);
    let mut s = make("bounce-v0", "id").unwrap();
    let mpp = episodes::metres_per_px(s.as_ref(), w, h).unwrap();
    let [x0, y0, x1, y1] = s.arena_px(w, h).unwrap();
    let centre = [(x0 + x1) / 2.0, (y0 + y1) / 2.0];
    let meter = meter::FrameMeter::new(&s.colors(), h, w, s.arena_px(w, h));
    let ball0 = meter.names().iter().position(|n| n == "ball0").unwrap();
    let mut worst = 0.0f32;
    for seed in 0..4 {
        s.reset(seed);
        for _ in 0..12 {
            s.step(&somnium_scenarios::Action::Continuous(vec![0.0, 0.0]))
                .unwrap();
            let c = meter.objects(&s.render(w, h).data).unwrap()[ball0]
                .centroid_xy
                .unwrap();
            let state = s.state();
            // The camera looks down with -z up in the frame: x right, z down.
            let (x, z) = ((c[0] - centre[0]) * mpp, (c[1] - centre[1]) * mpp);
            worst = worst.max((x - state[0]).hypot(z - state[2]));
        }
    }
    // Within a tenth of a pixel or so (the centroid of a rasterised ball).
    assert!(worst < 0.25 * mpp, "worst {worst} m at {mpp} m/px");
    let no_arena = make("cartpole-v0", "id").unwrap();
    assert_eq!(episodes::metres_per_px(no_arena.as_ref(), w, h), None);
}

#[test]
fn the_evaluation_compares_where_dream_and_physics_end_their_episodes() {
    let cfg = ModelConfig {
        action: somnium_world_model::config::ActionKind::Discrete { n: 2 },
        sampling_steps: 1,
        ..ModelConfig::tiny()
    };
    let model = DreamModel::random(&cfg, 5).unwrap();
    let scenario = make("cartpole-v0", "coarse").unwrap();
    let config = ConsistencyConfig {
        episodes: 3,
        max_horizon: 24,
        batch: 3,
        follow_horizon: 0,
        ..ConsistencyConfig::default()
    };
    let r = run_consistency(&model, scenario.as_ref(), &config, |_, _| {})
        .unwrap()
        .report;
    let ends = r.episode_ends.as_ref().expect("cartpole terminates");
    assert_eq!(ends.episodes, 3);
    // random actions drop the coarse pole within 13 steps (tested in scenarios)
    assert_eq!(ends.physics_ended, 3);
    assert!(ends.physics_mean_steps >= 1.0 && ends.physics_mean_steps <= 13.0);
    let shares = ends.matched_share + ends.dream_early_share + ends.dream_late_share;
    assert!((shares - 1.0).abs() < 1e-9);
    assert!(r.to_markdown().contains("## Episode ends"));
}

/// Predicts from the tasks themselves: the true future, or the last context frame held.
struct Oracle {
    name: &'static str,
    copy_last: bool,
}

impl predict::Predictor for Oracle {
    fn name(&self) -> &str {
        self.name
    }
    fn source(&self) -> Option<String> {
        None
    }
    fn predict(
        &mut self,
        tasks: &[tasks::Task],
        _: &mut dyn FnMut(),
    ) -> Result<Vec<predict::Prediction>, EnvError> {
        Ok(tasks
            .iter()
            .map(|t| {
                let fb = t.frame_bytes();
                let frames = if self.copy_last {
                    let ctx = t.context();
                    ctx[ctx.len() - fb..].repeat(t.horizon())
                } else {
                    t.future().to_vec()
                };
                predict::Prediction { frames, end: None }
            })
            .collect())
    }
}

#[test]
fn physics_as_the_predictor_beats_constant_velocity_and_copy_last_does_not() {
    let scenario = make("bounce-v0", "id").unwrap();
    let config = ConsistencyConfig {
        episodes: 8,
        max_horizon: 12,
        batch: 4,
        ..ConsistencyConfig::default()
    };
    let setup = config.setup(4, (64, 64));
    let mut truth = Oracle {
        name: "truth",
        copy_last: false,
    };
    let r = score_predictor(scenario.as_ref(), &setup, &mut truth, |_, _| {})
        .unwrap()
        .report;
    let s = r.method_summary("truth").unwrap();
    assert_eq!(s.centroid_error_px.unwrap().mean, 0.0);
    assert_eq!(s.kept_share, Some(1.0));
    let cv = r.verdict("constant_velocity").unwrap();
    assert!(cv.beats, "{}", cv.why);
    assert!(
        r.horizons.method("action_aware").is_some(),
        "bounce's actions push ball0"
    );
    assert_eq!(r.episode_scores.len(), 8);
    let mut copy = Oracle {
        name: "held",
        copy_last: true,
    };
    let r = score_predictor(scenario.as_ref(), &setup, &mut copy, |_, _| {})
        .unwrap()
        .report;
    let cv = r.verdict("constant_velocity").unwrap();
    assert!(!cv.beats, "{}", cv.why);
}
