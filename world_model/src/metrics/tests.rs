//! Tests of the horizon metrics and baselines on synthetic bouncing discs.

use super::baselines::*;
use super::*;
use crate::objects::synth::{colors, disc, filled, BG, BLUE, FLOOR, RED};

const H: usize = 48;
const W: usize = 64;
const ARENA: [f32; 4] = [8.0, 8.0, 56.0, 40.0];

/// Red moves at (2, 1) px/step and bounces in ARENA; blue sits still.
fn red_centre(t: usize) -> (f32, f32) {
    let (x, y) = (20.5 + 2.0 * t as f32, 14.5 + 1.0 * t as f32);
    (
        reflect(x, ARENA[0], ARENA[2]),
        reflect(y, ARENA[1], ARENA[3]),
    )
}

fn episode(steps: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for t in 0..steps {
        let mut f = filled(H, W, FLOOR);
        disc(&mut f, H, W, red_centre(t), 4.0, RED, |_, _| 0.9);
        disc(&mut f, H, W, (50.5, 10.5), 3.0, BLUE, |_, _| 0.7);
        out.extend(f);
    }
    out
}

fn spec() -> FrameSpec {
    FrameSpec {
        height: H,
        width: W,
        colors: colors(),
        background: BG,
        arena_px: Some(ARENA),
        metres_per_px: None,
    }
}

fn config(horizons: Vec<usize>) -> EvalConfig {
    EvalConfig {
        horizons,
        ..EvalConfig::default()
    }
}

fn shift_right(frames: &[u8], k: usize) -> Vec<u8> {
    let mut out = frames.to_vec();
    for (o, i) in out.chunks_exact_mut(W * 3).zip(frames.chunks_exact(W * 3)) {
        o[k * 3..].copy_from_slice(&i[..(W - k) * 3]);
        for x in 0..k {
            o[x * 3..x * 3 + 3].copy_from_slice(&FLOOR);
        }
    }
    out
}

#[test]
fn perfect_model_has_zero_error_and_baselines_behave() {
    let truth = episode(40);
    let fb = H * W * 3;
    let start = 5;
    let rollout = Rollout {
        truth: &truth,
        start,
        predicted: Some(&truth[start * fb..]),
    };
    let report = evaluate_rollouts(spec(), config(vec![1, 2, 4, 8, 16, 32]), &[rollout]).unwrap();
    let names: Vec<&str> = report.methods.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["model", COPY_LAST, CONSTANT_VELOCITY, ARENA_CENTRE]
    );
    assert_eq!(report.objects, vec!["red", "green", "blue"]);
    for s in &report.method("model").unwrap().horizons {
        assert_eq!(s.centroid_error_px.unwrap().mean, 0.0, "h {}", s.horizon);
        assert_eq!(s.kept_share, Some(1.0));
        assert_eq!(s.median_area_ratio, Some(1.0));
        assert_eq!(s.psnr_db.unwrap().mean, PSNR_IDENTICAL_DB);
        assert!((s.ssim.unwrap().mean - 1.0).abs() < 1e-12);
    }
    let copy = &report.method(COPY_LAST).unwrap().horizons;
    // h = 1: red moved sqrt(5) px, blue did not; the rollout error is their mean.
    let e1 = copy[0].centroid_error_px.unwrap().mean;
    assert!((e1 - 5f64.sqrt() / 2.0).abs() < 1e-4, "{e1}");
    assert!((copy[0].per_object[0].centroid_error_px.unwrap().mean - 5f64.sqrt()).abs() < 1e-4);
    assert!(copy[2].centroid_error_px.unwrap().mean > e1);
    for s in &report.method(CONSTANT_VELOCITY).unwrap().horizons {
        let e = s.per_object[0].centroid_error_px.unwrap().mean;
        assert!(
            e < 0.6,
            "constant velocity reflected at the walls tracks the ball: h {} error {e}",
            s.horizon
        );
        assert_eq!(s.kept_share, Some(1.0));
    }
    let centre = &report.method(ARENA_CENTRE).unwrap().horizons[0];
    let (tx, ty) = red_centre(start);
    let want = f64::from((tx - 32.0).hypot(ty - 24.0));
    let got = centre.per_object[0].centroid_error_px.unwrap().mean;
    assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    assert_eq!(centre.kept_share, Some(1.0), "areas are the last frame's");
}

#[test]
fn model_shifted_by_k_pixels_has_error_k_in_pixels_and_64ths() {
    let truth = episode(20);
    let fb = H * W * 3;
    let pred = shift_right(&truth[3 * fb..], 3);
    let rollouts: Vec<Rollout> = [3usize]
        .iter()
        .map(|&start| Rollout {
            truth: &truth,
            start,
            predicted: Some(&pred),
        })
        .collect();
    let report = evaluate_rollouts(spec(), config(vec![1, 4]), &rollouts).unwrap();
    for s in &report.method("model").unwrap().horizons {
        let e = s.centroid_error_px.unwrap();
        assert!((e.mean - 3.0).abs() < 1e-4, "{e:?}");
        assert!(
            (s.centroid_error_64.unwrap().mean - 3.0).abs() < 1e-4,
            "64 px wide frame"
        );
        assert_eq!(s.kept_share, Some(1.0));
        assert!(s.psnr_db.unwrap().mean < 40.0);
        assert!(s.ssim.unwrap().mean < 0.99);
    }
}

#[test]
fn interval_spans_rollouts_and_short_rollouts_skip_long_horizons() {
    let truth = episode(12);
    let fb = H * W * 3;
    let mut ev = HorizonEvaluator::new(spec(), config(vec![1, 2, 16])).unwrap();
    for (start, k) in [(2usize, 1usize), (4, 5)] {
        let pred = shift_right(&truth[start * fb..], k);
        ev.add(&Rollout {
            truth: &truth,
            start,
            predicted: Some(&pred),
        })
        .unwrap();
    }
    ev.add(&Rollout {
        truth: &truth,
        start: 6,
        predicted: None,
    })
    .unwrap();
    let report = ev.report();
    assert_eq!(report.rollouts, 3);
    let model = &report.method("model").unwrap().horizons;
    let e = model[0].centroid_error_px.unwrap();
    assert_eq!(e.n, 2);
    assert!((e.mean - 3.0).abs() < 1e-4);
    // Samples 1 and 5: s = sqrt(8), ci = 1.96 * s / sqrt(2) = 3.92.
    assert!((e.ci95 - 3.92).abs() < 1e-3, "{e:?}");
    assert_eq!(model[2].samples, 0, "12 frames do not reach h = 16");
    assert_eq!(report.method(COPY_LAST).unwrap().horizons[0].samples, 3);
    let md = report.to_markdown();
    assert!(
        md.contains("| model |") && md.contains("h=16") && md.contains("–"),
        "{md}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    report.write_json(&path).unwrap();
    let back: EvalReport = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    // Floats may differ in the last bit after a JSON round trip.
    assert_eq!(
        (back.rollouts, &back.objects),
        (report.rollouts, &report.objects)
    );
    assert_eq!(back.to_markdown(), report.to_markdown());
    let series = report.series(|s| s.centroid_error_px.map(|e| e.mean));
    assert_eq!(series[0].1.len(), 2);
    if let Some(keep) = std::env::var_os("SOMNIUM_KEEP_PLOTS") {
        let keep = std::path::PathBuf::from(keep);
        report.write_markdown(&keep.join("report.md")).unwrap();
        let png = keep.join("report_error.png");
        crate::plots::line_plot(&png, "Centroid error", "horizon", "pixels", &series, true)
            .unwrap();
    }
}

#[test]
fn bad_inputs_are_refused_with_errors() {
    let truth = episode(4);
    let mut ev = HorizonEvaluator::new(spec(), EvalConfig::default()).unwrap();
    fn bad(start: usize, truth: &[u8]) -> Rollout<'_> {
        Rollout {
            truth,
            start,
            predicted: None,
        }
    }
    assert!(ev.add(&bad(0, &truth)).is_err());
    assert!(ev.add(&bad(4, &truth)).is_err());
    assert!(ev.add(&bad(1, &truth[..100])).is_err());
    let unknown = EvalConfig {
        objects: Some(vec!["purple".into()]),
        ..EvalConfig::default()
    };
    let err = HorizonEvaluator::new(spec(), unknown).err().unwrap();
    assert!(err.to_string().contains("purple"));
    assert!(HorizonEvaluator::new(spec(), config(vec![])).is_err());
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
}
