//! Tests of the horizon metrics and the drawn baselines on synthetic discs. The
//! action-aware baseline, paired intervals, verdicts and small helpers are tested
//! in `paired_tests.rs`, the negative controls in `controls_tests.rs`.

use super::baselines::*;
use super::*;
use crate::objects::synth::{colors, disc, filled, BG, BLUE, FLOOR, RED};

pub(super) const H: usize = 48;
pub(super) const W: usize = 64;
pub(super) const FB: usize = H * W * 3;
const ARENA: [f32; 4] = [8.0, 8.0, 56.0, 40.0];

/// Red moves at (2, 1) px/step and bounces in ARENA; blue sits still.
fn red_centre(t: usize) -> (f32, f32) {
    let (x, y) = (20.5 + 2.0 * t as f32, 14.5 + 1.0 * t as f32);
    (
        reflect(x, ARENA[0], ARENA[2]),
        reflect(y, ARENA[1], ARENA[3]),
    )
}

fn frames(steps: usize, with_blue: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for t in 0..steps {
        let mut f = filled(H, W, FLOOR);
        disc(&mut f, H, W, red_centre(t), 4.0, RED, |_, _| 0.9);
        if with_blue {
            disc(&mut f, H, W, (50.5, 10.5), 3.0, BLUE, |_, _| 0.7);
        }
        out.extend(f);
    }
    out
}

pub(super) fn episode(steps: usize) -> Vec<u8> {
    frames(steps, true)
}

pub(super) fn spec() -> FrameSpec {
    FrameSpec {
        height: H,
        width: W,
        colors: colors(),
        background: BG,
        arena_px: Some(ARENA),
        metres_per_px: None,
    }
}

pub(super) fn config(horizons: Vec<usize>) -> EvalConfig {
    EvalConfig {
        horizons,
        ..EvalConfig::default()
    }
}

/// One rollout whose only source is `frames`, called "model".
pub(super) fn one<'a>(truth: &'a [u8], start: usize, frames: &'a [u8]) -> Rollout<'a> {
    Rollout {
        truth,
        start,
        sources: vec![Source {
            name: "model",
            frames,
        }],
        actions: None,
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
fn perfect_model_has_zero_error_and_baselines_are_drawn() {
    let truth = episode(40);
    let start = 5;
    let report = evaluate_rollouts(
        spec(),
        config(vec![1, 2, 4, 8, 16, 32]),
        &[one(&truth, start, &truth[start * FB..])],
    )
    .unwrap();
    let names: Vec<&str> = report.methods.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["model", COPY_LAST, CONSTANT_VELOCITY, ARENA_CENTRE]
    );
    assert_eq!(report.objects, vec!["red", "green", "blue"]);
    let model = report.method("model").unwrap();
    for s in &model.horizons {
        assert_eq!(s.centroid_error_px.unwrap().mean, 0.0, "h {}", s.horizon);
        assert_eq!(
            (s.kept_share, s.mean_iou, s.miss_rate),
            (Some(1.0), Some(1.0), Some(0.0))
        );
        assert_eq!(s.median_area_ratio, Some(1.0));
        assert_eq!(s.psnr_db.unwrap().mean, PSNR_IDENTICAL_DB);
        assert!((s.ssim.unwrap().mean - 1.0).abs() < 1e-12);
        assert_eq!(s.sharpness.unwrap().mean, 1.0);
        assert_eq!(s.per_object[1].truth_present, 0, "green is never shown");
    }
    let sum = &model.summary;
    assert_eq!((sum.steps, sum.episodes), (32, 1));
    assert_eq!(sum.centroid_error_px.unwrap().mean, 0.0);
    assert_eq!(
        (sum.kept_share, sum.mean_iou, sum.miss_rate),
        (Some(1.0), Some(1.0), Some(0.0))
    );
    assert_eq!(sum.sharpness.unwrap().mean, 1.0);
    assert_eq!(
        report.comparisons.len(),
        3,
        "the model against each baseline"
    );

    let copy = &report.method(COPY_LAST).unwrap().horizons;
    // h = 1: red moved sqrt(5) px, blue did not; the rollout error is their mean.
    let e1 = copy[0].centroid_error_px.unwrap().mean;
    assert!((e1 - 5f64.sqrt() / 2.0).abs() < 1e-4, "{e1}");
    assert!((copy[0].per_object[0].centroid_error_px.unwrap().mean - 5f64.sqrt()).abs() < 1e-4);
    assert!(copy[2].centroid_error_px.unwrap().mean > e1);
    assert!(copy[0].psnr_db.unwrap().mean < PSNR_IDENTICAL_DB);

    // Constant velocity moves the disc by whole pixels: before the first bounce
    // (x reaches 56 at t = 17.75) its drawn frames are the true frames exactly.
    let cv = &report.method(CONSTANT_VELOCITY).unwrap().horizons;
    for s in cv.iter().filter(|s| s.horizon <= 8) {
        assert_eq!(s.per_object[0].centroid_error_px.unwrap().mean, 0.0);
        assert_eq!(s.mean_iou, Some(1.0));
        assert_eq!(
            s.psnr_db.unwrap().mean,
            PSNR_IDENTICAL_DB,
            "drawn, h {}",
            s.horizon
        );
    }
    for s in cv {
        let e = s.per_object[0].centroid_error_px.unwrap().mean;
        assert!(
            e < 0.6,
            "reflected at the walls it tracks the ball: h {} error {e}",
            s.horizon
        );
        assert_eq!(s.kept_share, Some(1.0));
    }
}

#[test]
fn arena_centre_error_is_the_distance_to_the_centre() {
    // Red alone: the arena centre would put blue on top of it.
    let truth = frames(12, false);
    let start = 5;
    let report = evaluate_rollouts(
        spec(),
        config(vec![1, 4]),
        &[one(&truth, start, &truth[start * FB..])],
    )
    .unwrap();
    let (lx, ly) = red_centre(start - 1);
    // Moved by the rounded displacement to the centre (32, 24).
    let drawn = (lx + (32.0 - lx).round(), ly + (24.0 - ly).round());
    for s in &report.method(ARENA_CENTRE).unwrap().horizons {
        let (tx, ty) = red_centre(start - 1 + s.horizon);
        let got = s.per_object[0].centroid_error_px.unwrap().mean;
        let want = f64::from((tx - drawn.0).hypot(ty - drawn.1));
        assert!(
            (got - want).abs() < 1e-4,
            "h {}: {got} vs {want}",
            s.horizon
        );
        let to_centre = f64::from((tx - 32.0).hypot(ty - 24.0));
        assert!((got - to_centre).abs() <= 0.71, "{got} vs {to_centre}");
        eprintln!(
            "arena_centre h{}: error {got:.3} px, distance to centre {to_centre:.3}",
            s.horizon
        );
    }
}

#[test]
fn model_shifted_by_k_pixels_has_error_k_in_pixels_and_64ths() {
    let truth = episode(20);
    let pred = shift_right(&truth[3 * FB..], 3);
    let report = evaluate_rollouts(spec(), config(vec![1, 4]), &[one(&truth, 3, &pred)]).unwrap();
    for s in &report.method("model").unwrap().horizons {
        let e = s.centroid_error_px.unwrap();
        assert!((e.mean - 3.0).abs() < 1e-4, "{e:?}");
        assert!(
            (s.centroid_error_64.unwrap().mean - 3.0).abs() < 1e-4,
            "64 px wide frame"
        );
        assert_eq!(s.miss_rate, Some(0.0));
        assert!(s.psnr_db.unwrap().mean < 40.0);
        assert!(s.ssim.unwrap().mean < 0.99);
    }
}

#[test]
fn a_disc_shifted_by_its_radius_is_not_kept_by_one_pixel_it_is() {
    let truth = episode(10);
    let iou = |k: usize| {
        let pred = shift_right(&truth[2 * FB..], k);
        let r = evaluate_rollouts(spec(), config(vec![1]), &[one(&truth, 2, &pred)]).unwrap();
        let s = r.method("model").unwrap().horizons[0].clone();
        let red = &s.per_object[0];
        eprintln!(
            "shift {k} px: red IoU {:.3}, kept {:?}; mean IoU {:.3}",
            red.mean_iou.unwrap(),
            red.kept_share,
            s.mean_iou.unwrap()
        );
        (
            red.mean_iou.unwrap(),
            red.kept_share.unwrap(),
            s.kept_share.unwrap(),
        )
    };
    let (iou1, kept1, all1) = iou(1);
    assert!(iou1 > KEPT_IOU && iou1 < 1.0, "{iou1}");
    assert_eq!((kept1, all1), (1.0, 1.0));
    let (iou4, kept4, all4) = iou(4); // red's radius (and more than blue's)
    assert!(iou4 < KEPT_IOU, "{iou4}");
    assert_eq!((kept4, all4), (0.0, 0.0));
}

#[test]
fn a_missed_object_counts_the_penalty_and_the_miss_rate() {
    let truth = episode(10);
    let mut pred = truth[2 * FB..].to_vec();
    // Paint blue out of every predicted frame.
    for f in pred.chunks_exact_mut(FB) {
        disc(f, H, W, (50.5, 10.5), 3.5, FLOOR, |_, _| 1.0);
    }
    let report = evaluate_rollouts(spec(), config(vec![1, 4]), &[one(&truth, 2, &pred)]).unwrap();
    let penalty = miss_penalty_px(ARENA);
    assert!((report.miss_penalty_px - penalty).abs() < 1e-12);
    assert!((penalty - 0.5 * 48f64.hypot(32.0)).abs() < 1e-9);
    let m = report.method("model").unwrap();
    for s in &m.horizons {
        assert_eq!(s.miss_rate, Some(0.5), "red shown, blue missed");
        assert!((s.centroid_error_px.unwrap().mean - penalty / 2.0).abs() < 1e-4);
        let blue = &s.per_object[2];
        assert_eq!((blue.truth_present, blue.missed), (1, 1));
        assert!((blue.centroid_error_px.unwrap().mean - penalty).abs() < 1e-4);
        assert_eq!((blue.mean_iou, blue.kept_share), (Some(0.0), Some(0.0)));
        assert_eq!(s.count_preserved, Some(0.0));
    }
    assert_eq!(m.summary.miss_rate, Some(0.5));
    assert_eq!(m.summary.kept_share, Some(0.5));
    assert_eq!(
        report.method(COPY_LAST).unwrap().summary.miss_rate,
        Some(0.0)
    );
}

#[test]
fn interval_spans_rollouts_and_short_rollouts_skip_long_horizons() {
    let truth = episode(12);
    let mut ev = HorizonEvaluator::new(spec(), config(vec![1, 2, 4, 16])).unwrap();
    for (start, k) in [(2usize, 1usize), (4, 5)] {
        let pred = shift_right(&truth[start * FB..], k);
        ev.add(&one(&truth, start, &pred)).unwrap();
    }
    // Baselines only, then a dream that ended after two frames.
    ev.add(&Rollout {
        truth: &truth,
        start: 6,
        sources: vec![],
        actions: None,
    })
    .unwrap();
    ev.add(&one(&truth, 6, &truth[6 * FB..8 * FB])).unwrap();
    let report = ev.report();
    assert_eq!(report.rollouts, 4);
    let model = &report.method("model").unwrap();
    let e = model.horizons[0].centroid_error_px.unwrap();
    assert_eq!(e.n, 3);
    assert!((e.mean - 2.0).abs() < 1e-4, "errors 1, 5 and 0: {e:?}");
    let e4 = model.horizons[2].centroid_error_px.unwrap();
    assert_eq!(e4.n, 2, "the two-frame dream does not reach h = 4");
    // Samples 1 and 5: s = sqrt(8), ci = 1.96 * s / sqrt(2) = 3.92.
    assert!(
        (e4.mean - 3.0).abs() < 1e-4 && (e4.ci95 - 3.92).abs() < 1e-3,
        "{e4:?}"
    );
    assert_eq!(
        model.horizons[3].samples, 0,
        "12 frames do not reach h = 16"
    );
    assert_eq!(model.summary.steps, 10, "the longest rollout has 10 steps");
    assert_eq!(model.summary.episodes, 3);
    assert_eq!(report.method(COPY_LAST).unwrap().horizons[0].samples, 4);
    let c = report.comparison("model", COPY_LAST).unwrap();
    assert_eq!(c.h1_32.episodes, 3, "paired over the episodes both scored");
    let md = report.to_markdown();
    assert!(
        md.contains("| model |") && md.contains("h=16") && md.contains("–"),
        "{md}"
    );
    assert!(
        md.contains("Verdicts") && md.contains("| copy_last |"),
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
    assert_eq!(series[0].1.len(), 3);
    if let Some(keep) = std::env::var_os("SOMNIUM_KEEP_PLOTS") {
        let keep = std::path::PathBuf::from(keep);
        report.write_markdown(&keep.join("report.md")).unwrap();
        let png = keep.join("report_error.png");
        crate::plots::line_plot(&png, "Centroid error", "horizon", "pixels", &series, true)
            .unwrap();
    }
}

#[test]
fn bad_inputs_are_refused_with_errors_naming_the_problem() {
    let truth = episode(4);
    let mut ev = HorizonEvaluator::new(spec(), EvalConfig::default()).unwrap();
    let err = |ev: &mut HorizonEvaluator, r: Rollout| ev.add(&r).unwrap_err().to_string();
    let bare = |start: usize, truth| Rollout {
        truth,
        start,
        sources: vec![],
        actions: None,
    };
    assert!(err(&mut ev, bare(0, &truth)).contains("start 0"));
    assert!(err(&mut ev, bare(4, &truth)).contains("start 4"));
    assert!(err(&mut ev, bare(1, &truth[..100])).contains("true frames"));
    assert!(err(&mut ev, one(&truth, 1, &truth[..FB + 7])).contains("`model`"));
    let twice = Rollout {
        sources: vec![
            Source {
                name: "a",
                frames: &truth,
            },
            Source {
                name: "a",
                frames: &truth,
            },
        ],
        ..bare(1, &truth)
    };
    assert!(err(&mut ev, twice).contains("twice"));
    let actions = vec![vec![0.0f32; 2]; 2];
    let few = Rollout {
        actions: Some(&actions),
        ..bare(1, &truth)
    };
    assert!(err(&mut ev, few).contains("2 actions for 3"));
    assert_eq!(ev.report().rollouts, 0, "nothing refused was added");
    let unknown = EvalConfig {
        objects: Some(vec!["purple".into()]),
        ..EvalConfig::default()
    };
    let e = HorizonEvaluator::new(spec(), unknown)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("purple"), "{e}");
    for h in [vec![], vec![0, 1]] {
        let e = HorizonEvaluator::new(spec(), config(h))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("horizons"), "{e}");
    }
    let e = HorizonEvaluator::new(
        FrameSpec {
            height: 0,
            ..spec()
        },
        EvalConfig::default(),
    );
    assert!(e.err().unwrap().to_string().contains("frame size"));
    let statics = FrameSpec {
        colors: colors().into_iter().filter(|c| !c.dynamic).collect(),
        ..spec()
    };
    let e = HorizonEvaluator::new(statics, EvalConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no objects to track"), "{e}");
    let e = ActionModel::fit(&spec(), 9, &[]).unwrap_err().to_string();
    assert!(e.contains("controlled object 9"), "{e}");
}
