//! Counterfactual action fidelity: the statistics as pure functions, a perfect
//! dream (physics itself) and a tiny untrained model.

use somnium_scenarios::make;
use somnium_world_model::config::ModelConfig;

use super::*;

#[test]
fn pearson_and_slope_on_known_vectors() {
    let xs = [1.0, -2.0, 3.0, 0.5, -1.5];
    let up: Vec<f64> = xs.iter().map(|x| 2.0 * x + 1.0).collect();
    let down: Vec<f64> = xs.iter().map(|x| -0.5 * x).collect();
    assert!((pearson(&xs, &up).unwrap() - 1.0).abs() < 1e-12);
    assert!((pearson(&xs, &down).unwrap() + 1.0).abs() < 1e-12);
    assert_eq!(
        pearson(&xs, &[0.0; 5]),
        None,
        "an action-blind dream has no r"
    );
    assert_eq!(pearson(&[1.0], &[2.0]), None);
    // orthogonal: r = 0
    assert!(
        pearson(&[1.0, -1.0, 1.0, -1.0], &[1.0, 1.0, -1.0, -1.0])
            .unwrap()
            .abs()
            < 1e-12
    );
    assert!((slope_through_origin(&xs, &down).unwrap() + 0.5).abs() < 1e-12);
    let triple: Vec<f64> = xs.iter().map(|x| 3.0 * x).collect();
    assert!((slope_through_origin(&xs, &triple).unwrap() - 3.0).abs() < 1e-12);
    assert_eq!(slope_through_origin(&[0.0, 0.0], &[1.0, 2.0]), None);
    // the median the test reports (the metrics crate's)
    use somnium_world_model::metrics::median;
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
}

/// Per state, pairs whose dream is `k * physics` plus a small deterministic wobble.
fn synthetic(k: f64, wobble: f64) -> Vec<Vec<DiffPair>> {
    (0..8)
        .map(|s| {
            (0..6)
                .map(|i| {
                    let t = (s * 6 + i) as f64;
                    let p = [(t * 0.7).sin() * 10.0, (t * 1.3).cos() * 8.0];
                    let d = [
                        k * p[0] + wobble * (t * 2.9).sin(),
                        k * p[1] + wobble * (t * 3.7).cos(),
                    ];
                    (p, d)
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_summary_of_a_scaled_dream_and_its_bootstrap() {
    let exact = summarize("pusher".into(), 8, 6, &synthetic(0.5, 0.0), 0);
    assert!((exact.r.unwrap() - 1.0).abs() < 1e-12);
    assert!((exact.slope.unwrap() - 0.5).abs() < 1e-12);
    assert!((exact.median_relative_error.unwrap() - 0.5).abs() < 1e-12);
    let [lo, hi] = exact.r_ci95.unwrap();
    assert!((lo - 1.0).abs() < 1e-12 && (hi - 1.0).abs() < 1e-12);
    assert_eq!((exact.states, exact.pairs), (8, 48));
    let ratio = exact.dream_difference_px.unwrap().mean / exact.physics_difference_px.unwrap().mean;
    assert!((ratio - 0.5).abs() < 1e-12);

    let noisy_states = synthetic(1.0, 3.0);
    let noisy = summarize("pusher".into(), 8, 6, &noisy_states, 0);
    let r = noisy.r.unwrap();
    let [lo, hi] = noisy.r_ci95.unwrap();
    assert!(r > 0.7 && r < 1.0, "r {r}");
    assert!(lo <= r && r <= hi && hi <= 1.0 && lo < hi, "{lo} {r} {hi}");
    assert_eq!(
        bootstrap_r(&noisy_states, 200, 7),
        bootstrap_r(&noisy_states, 200, 7)
    );
    assert_eq!(
        bootstrap_r(&noisy_states[..1], 200, 7),
        None,
        "one state has no interval"
    );

    let blind = summarize("pusher".into(), 8, 6, &synthetic(0.0, 0.0), 0);
    assert_eq!(
        (blind.r, blind.r_ci95, blind.slope),
        (None, None, Some(0.0))
    );
    assert_eq!(blind.median_relative_error, Some(1.0));
}

#[test]
fn a_perfect_dream_follows_physics_exactly() {
    let scenario = make("push-v0", "id").unwrap();
    let dims = (32, 32, 2);
    let seeds = [0, 1, 2];
    let perfect =
        |seed: u64, seqs: &[Vec<Action>]| physics_ends(scenario.as_ref(), dims, seed, seqs);
    let f = measure(scenario.as_ref(), dims, &seeds, 4, 6, perfect)
        .unwrap()
        .unwrap();
    assert_eq!(f.object, "pusher");
    assert_eq!(
        (f.states, f.pairs_per_state, f.pairs, f.dream_lost),
        (3, 4, 12, 0)
    );
    assert!((f.r.unwrap() - 1.0).abs() < 1e-9, "{f:?}");
    assert!((f.slope.unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(f.median_relative_error, Some(0.0));
    assert!(
        f.physics_difference_px.unwrap().mean > 1.0,
        "random actions move the pusher: {f:?}"
    );
    assert_eq!(f.physics_difference_px, f.dream_difference_px);
    // a frozen dream (the context's last frame, whatever the actions) shows no response
    let frozen = |seed: u64, seqs: &[Vec<Action>]| {
        let none: Vec<Vec<Action>> = seqs.iter().map(|_| Vec::new()).collect();
        physics_ends(scenario.as_ref(), dims, seed, &none)
    };
    let f = measure(scenario.as_ref(), dims, &seeds, 4, 6, frozen)
        .unwrap()
        .unwrap();
    assert_eq!(
        (f.r, f.slope, f.median_relative_error),
        (None, Some(0.0), Some(1.0))
    );
}

#[test]
fn an_untrained_model_runs_deterministically_and_barely_correlates() {
    let model = DreamModel::random(&ModelConfig::tiny(), 5).unwrap();
    let scenario = make("bounce-v0", "id").unwrap();
    let run = || {
        counterfactual_fidelity(&model, scenario.as_ref(), &[3, 4, 5], 3, 4)
            .unwrap()
            .unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b, "same seeds, same result");
    assert_eq!(
        (a.object.as_str(), a.states, a.pairs_per_state, a.horizon),
        ("ball0", 3, 3, 4)
    );
    assert!(a.pairs <= 9 && a.dream_lost <= a.pairs);
    assert!(a.r.is_none_or(|r| r.abs() < 0.9), "{a:?}");
    assert_eq!(
        counterfactual_fidelity(&model, scenario.as_ref(), &[3], 0, 4).unwrap(),
        None
    );
    assert_eq!(
        counterfactual_fidelity(&model, scenario.as_ref(), &[3], 2, 0).unwrap(),
        None
    );
    // a discrete action space: the cart is the controlled object
    let cartpole = make("cartpole-v0", "coarse").unwrap();
    let cfg = ModelConfig {
        action: somnium_world_model::config::ActionKind::Discrete { n: 2 },
        ..ModelConfig::tiny()
    };
    let discrete = DreamModel::random(&cfg, 5).unwrap();
    let c = counterfactual_fidelity(&discrete, cartpole.as_ref(), &[0, 1], 2, 3)
        .unwrap()
        .unwrap();
    assert_eq!((c.object.as_str(), c.states), ("cart", 2));
}

/// The shipped models: `SOMNIUM_CF_STATES` (10) states x `SOMNIUM_CF_PAIRS` (8)
/// pairs at `SOMNIUM_CF_HORIZON` (8), next to the two-opposite-actions score.
/// `cargo test --release -p somnium-env shipped_counterfactual -- --ignored --nocapture`
#[test]
#[ignore = "loads the shipped models; minutes on a CPU"]
fn shipped_counterfactual_fidelity() {
    let var = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (states, pairs, horizon) = (
        var("SOMNIUM_CF_STATES", 10),
        var("SOMNIUM_CF_PAIRS", 8),
        var("SOMNIUM_CF_HORIZON", 8),
    );
    let seeds: Vec<u64> = (0..states as u64).collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (dir, id, variant) in [
        ("models/push", "push-v0", "large"),
        ("models/bounce", "bounce-v0", "id"),
    ] {
        let model = DreamModel::load(&root.join(dir), &candle_core::Device::Cpu).unwrap();
        let scenario = make(id, variant).unwrap();
        let t = std::time::Instant::now();
        let f = counterfactual_fidelity(&model, scenario.as_ref(), &seeds, pairs, horizon).unwrap();
        let follow =
            super::super::follow::action_following(&model, scenario.as_ref(), &seeds, horizon)
                .unwrap();
        println!(
            "{dir} on {id} {variant} ({:.1}s):\n{}",
            t.elapsed().as_secs_f64(),
            serde_json::to_string_pretty(&f).unwrap()
        );
        println!(
            "two opposite actions: {}",
            serde_json::to_string_pretty(&follow).unwrap()
        );
    }
}
