//! Tests of the action-aware baseline (its fitted law and when it appears), the
//! paired bootstrap intervals, each condition of the verdict, and small helpers.

use super::baselines::*;
use super::paired::{paired_interval, paired_point, verdict, Interval, PairedPoint};
use super::tests::{config, episode, spec, FB, H, W};
use super::*;
use crate::objects::synth::{disc, filled, gaussian_blur, BLUE, FLOOR, RED};

/// Red (table index 1) moves by its action each step (`v = u`, whole pixels),
/// turned back before it leaves `[14.5, 42.5] x [14.5, 33.5]`; blue sits still.
/// Returns the frames `[T]` and the actions `[T - 1]`.
fn driven_episode(seed: u64, t_len: usize) -> (Vec<u8>, Vec<Vec<f32>>) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rand_step = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 5) as f32 - 2.0
    };
    let mut p = [20.5 + (seed % 7) as f32, 20.5 + (seed % 5) as f32];
    let (lo, hi) = ([14.5, 14.5], [42.5, 33.5]);
    let (mut frames, mut actions) = (Vec::new(), Vec::new());
    for t in 0..t_len {
        let mut f = filled(H, W, FLOOR);
        disc(&mut f, H, W, (p[0], p[1]), 4.0, RED, |_, _| 0.9);
        disc(&mut f, H, W, (50.5, 10.5), 3.0, BLUE, |_, _| 0.7);
        frames.extend(f);
        if t + 1 < t_len {
            let mut u = [rand_step(), rand_step()];
            for a in 0..2 {
                if !(lo[a]..=hi[a]).contains(&(p[a] + u[a])) {
                    u[a] = -u[a];
                }
                p[a] += u[a];
            }
            actions.push(u.to_vec());
        }
    }
    (frames, actions)
}

#[test]
fn action_model_recovers_v_equals_u_and_the_aware_baseline_beats_constant_velocity() {
    let calib: Vec<_> = (0..6).map(|s| driven_episode(100 + s, 30)).collect();
    let episodes: Vec<(&[u8], &[Vec<f32>])> = calib
        .iter()
        .map(|(f, a)| (f.as_slice(), a.as_slice()))
        .collect();
    let model = ActionModel::fit(&spec(), 1, &episodes)
        .unwrap()
        .expect("enough transitions");
    eprintln!(
        "fitted action model: {:?} on {} transitions",
        model.coefficients, model.samples
    );
    assert_eq!((model.action_dim, model.samples), (2, 6 * 28));
    for (axis, c) in model.coefficients.iter().enumerate() {
        for (j, got) in c.iter().enumerate() {
            let want = if j == 2 + axis { 1.0 } else { 0.0 };
            assert!((got - want).abs() < 1e-3, "axis {axis}: {c:?}");
        }
    }
    let start = 4;
    let eval: Vec<_> = (0..5).map(|s| driven_episode(200 + s, 4 + 24)).collect();
    let run = |with_model: bool, with_actions: bool| {
        let ev = HorizonEvaluator::new(spec(), config(vec![1, 4, 16])).unwrap();
        let mut ev = if with_model {
            ev.with_action_model(1, model.clone())
        } else {
            ev
        };
        for (truth, actions) in &eval {
            ev.add(&Rollout {
                truth,
                start,
                sources: vec![Source {
                    name: "truth",
                    frames: &truth[start * FB..],
                }],
                actions: with_actions.then_some(&actions[start - 1..]),
            })
            .unwrap();
        }
        ev.report()
    };
    for (m, a) in [(false, false), (true, false), (false, true)] {
        let r = run(m, a);
        assert!(r.method(ACTION_AWARE).is_none(), "model {m}, actions {a}");
        assert_eq!(r.methods.len(), 4);
    }
    let r = run(true, true);
    let aware = &r
        .method(ACTION_AWARE)
        .expect("with a model and actions")
        .summary;
    let cv = &r.method(CONSTANT_VELOCITY).unwrap().summary;
    let (ea, ec) = (
        aware.centroid_error_px.unwrap().mean,
        cv.centroid_error_px.unwrap().mean,
    );
    eprintln!(
        "v = u scene, h1-{}: action_aware {ea:.3} px (kept {:.2}), constant_velocity {ec:.3} px (kept {:.2})",
        aware.steps,
        aware.kept_share.unwrap(),
        cv.kept_share.unwrap()
    );
    assert!(
        ea < 0.05,
        "the fitted law moves red as its actions do: {ea}"
    );
    assert_eq!(aware.kept_share, Some(1.0));
    assert!(ec > 1.0 && ec > 20.0 * ea, "{ec} vs {ea}");
    let c = r.comparison("truth", ACTION_AWARE).unwrap();
    assert_eq!(c.h1_32.episodes, 5);
}

#[test]
fn paired_interval_is_deterministic_and_covers_what_it_should() {
    assert_eq!(paired_interval(&[]), None);
    let shift: Vec<f64> = (0..24)
        .map(|i| 2.0 + 0.5 * (i as f64 * 1.3).sin())
        .collect();
    let a = paired_interval(&shift).unwrap();
    assert_eq!(
        Some(a),
        paired_interval(&shift),
        "the same diffs, the same interval"
    );
    assert!(a.lo <= a.mean && a.mean <= a.hi, "{a:?}");
    assert!(a.lo > 0.0, "a clear shift excludes 0: {a:?}");
    let mut noise: Vec<f64> = (0..12).map(|i| 1.0 + (i as f64 * 0.7).cos()).collect();
    noise.extend(noise.clone().iter().map(|v| -v));
    let b = paired_interval(&noise).unwrap();
    assert!(
        b.mean.abs() < 1e-12 && b.lo < 0.0 && b.hi > 0.0,
        "symmetric noise includes 0: {b:?}"
    );
    let one = paired_interval(&[3.0]).unwrap();
    assert_eq!((one.lo, one.mean, one.hi), (3.0, 3.0, 3.0));
    eprintln!("shift {} ; noise {}", a.show(3), b.show(3));
    // Pairs need both sides.
    let p = paired_point(
        4,
        &[Some((1.0, 1.0)), None, Some((3.0, 0.0))],
        &[Some((0.5, 0.5)), Some((5.0, 5.0)), None],
    );
    assert_eq!((p.horizon, p.episodes), (4, 1));
    assert_eq!(p.error_diff_px.unwrap().mean, 0.5);
    assert_eq!(p.kept_diff.unwrap().mean, 0.5);
}

fn iv(mean: f64, lo: f64, hi: f64) -> Option<Interval> {
    Some(Interval { mean, lo, hi })
}

fn point(horizon: usize, error: Option<Interval>, kept: Option<Interval>) -> PairedPoint {
    PairedPoint {
        horizon,
        episodes: 20,
        error_diff_px: error,
        kept_diff: kept,
    }
}

#[test]
fn each_verdict_condition_can_fail_alone() {
    let good_h1_32 = point(32, iv(-2.0, -3.0, -1.0), iv(0.0, -0.01, 0.01));
    let good_horizons = || {
        vec![
            point(1, iv(0.1, -0.2, 0.4), None),
            point(32, iv(-4.0, -5.0, -3.0), None),
        ]
    };
    let v = verdict("cv", &good_horizons(), &good_h1_32, Some(1.0));
    assert!(v.beats, "{}", v.why);
    assert!(v.why.contains("sharpness 1.00"), "{}", v.why);
    // 1. The error interval over h1-32 must lie below zero.
    let v = verdict(
        "cv",
        &good_horizons(),
        &point(32, iv(-1.0, -2.0, 0.1), None),
        Some(1.0),
    );
    assert!(
        !v.beats && v.why.contains("does not exclude 0"),
        "{}",
        v.why
    );
    let v = verdict("cv", &good_horizons(), &point(32, None, None), Some(1.0));
    assert!(!v.beats && v.why.contains("no episode"), "{}", v.why);
    // 2. Kept share not worse.
    let fewer = point(32, iv(-2.0, -3.0, -1.0), iv(-0.1, -0.2, -0.05));
    let v = verdict("cv", &good_horizons(), &fewer, Some(1.0));
    assert!(
        !v.beats && v.why.contains("keeps fewer objects than cv"),
        "{}",
        v.why
    );
    // 3. Not worse at any horizon up to 32 (h64 does not count).
    let mut worse = good_horizons();
    worse.push(point(64, iv(3.0, 2.0, 4.0), None));
    assert!(verdict("cv", &worse, &good_h1_32, Some(1.0)).beats);
    worse.insert(1, point(4, iv(0.5, 0.1, 0.9), None));
    let v = verdict("cv", &worse, &good_h1_32, Some(1.0));
    assert!(
        !v.beats && v.why.contains("worse than cv at h4"),
        "{}",
        v.why
    );
    // 4. Sharp frames: neither soft nor noisy, and measurable.
    for (s, why) in [
        (Some(0.5), "not sharp"),
        (Some(2.0), "not sharp"),
        (None, "not measurable"),
    ] {
        let v = verdict("cv", &good_horizons(), &good_h1_32, s);
        assert!(!v.beats && v.why.contains(why), "{s:?}: {}", v.why);
    }
    let edge = paired::SHARP_RANGE;
    assert!(verdict("cv", &good_horizons(), &good_h1_32, Some(edge.0)).beats);
    assert!(verdict("cv", &good_horizons(), &good_h1_32, Some(edge.1)).beats);
}

#[test]
fn helpers_compute_what_they_say() {
    assert_eq!(reflect(12.0, 0.0, 10.0), 8.0);
    assert_eq!(reflect(-3.0, 0.0, 10.0), 3.0);
    assert_eq!(reflect(25.0, 0.0, 10.0), 5.0);
    assert_eq!(reflect(4.0, 0.0, 10.0), 4.0);
    assert_eq!(
        constant_velocity_target(Some([1.0, 1.0]), [3.0, 2.0], 4, [0.0, 0.0, 10.0, 10.0]),
        [9.0, 6.0]
    );
    assert_eq!(
        constant_velocity_target(None, [3.0, 2.0], 4, [0.0, 0.0, 10.0, 10.0]),
        [3.0, 2.0]
    );
    assert_eq!(arena_or_frame(None, 48, 64), [0.0, 0.0, 64.0, 48.0]);
    assert_eq!(miss_penalty_px([0.0, 0.0, 6.0, 8.0]), 5.0);
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    assert_eq!(median(&[]), None);
    let a = vec![10u8; 300];
    let b = vec![11u8; 300];
    assert!((psnr(&a, &b) - 48.1308).abs() < 1e-3);
    assert_eq!(psnr(&a, &a), PSNR_IDENTICAL_DB);
    assert_eq!(default_horizons(40), vec![1, 2, 4, 8, 16, 32]);
    assert_eq!(default_horizons(1000).last(), Some(&256));
    assert_eq!(Stat::of(&[]), None);
    let f = &episode(1);
    assert_eq!(scoring::gradient_energy(&filled(H, W, FLOOR), H, W), 0.0);
    let sharp = scoring::gradient_energy(f, H, W);
    let soft = scoring::gradient_energy(&gaussian_blur(f, H, W, 1.5), H, W);
    let none = vec![false; H * W];
    assert_eq!(scoring::gradient_energy_in(f, H, W, Some(&none)), 0.0);
    assert_eq!(scoring::gradient_energy_in(f, H, W, None), sharp);
    assert!(
        soft < 0.5 * sharp,
        "blur lowers the gradient energy: {soft} vs {sharp}"
    );
}
