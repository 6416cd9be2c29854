//! Tests of the motion measures: velocity error, object count preserved, position
//! in metres and collision timing, on centroid tracks and on synthetic frames.

use super::baselines::*;
use super::motion::*;
use super::*;
use crate::objects::synth::{colors, disc, filled, BG, BLUE, FLOOR, RED};

const H: usize = 48;
const W: usize = 64;
const ARENA: [f32; 4] = [8.0, 8.0, 56.0, 40.0];
const FB: usize = H * W * 3;

/// Red moves at (2, 1) px/step from (20.5, 14.5), reflected in ARENA: it reaches
/// the right wall between steps 17 and 18 and the bottom wall between 25 and 26.
fn red_centre(t: usize) -> (f32, f32) {
    let (x, y) = (20.5 + 2.0 * t as f32, 14.5 + 1.0 * t as f32);
    (
        reflect(x, ARENA[0], ARENA[2]),
        reflect(y, ARENA[1], ARENA[3]),
    )
}

/// `steps` frames of red (drawn where `red_shown(t)`) and a still blue disc.
fn episode_with(steps: usize, red_shown: impl Fn(usize) -> bool) -> Vec<u8> {
    let mut out = Vec::new();
    for t in 0..steps {
        let mut f = filled(H, W, FLOOR);
        if red_shown(t) {
            disc(&mut f, H, W, red_centre(t), 4.0, RED, |_, _| 0.9);
        }
        disc(&mut f, H, W, (50.5, 10.5), 3.0, BLUE, |_, _| 0.7);
        out.extend(f);
    }
    out
}

fn spec(metres_per_px: Option<f32>) -> FrameSpec {
    FrameSpec {
        height: H,
        width: W,
        colors: colors(),
        background: BG,
        arena_px: Some(ARENA),
        metres_per_px,
    }
}

fn config(horizons: Vec<usize>) -> EvalConfig {
    EvalConfig {
        horizons,
        ..EvalConfig::default()
    }
}

/// A track moving at 2 px/step in x that bounces off a wall at step `bounce`.
fn wall_track(bounce: usize, steps: usize) -> Track {
    (0..steps)
        .map(|t| {
            let x = if t <= bounce {
                10.0 + 2.0 * t as f32
            } else {
                10.0 + 2.0 * (2.0 * bounce as f32 - t as f32)
            };
            Some([x, 5.0 + 0.5 * t as f32])
        })
        .collect()
}

#[test]
fn a_bounce_two_steps_late_is_matched_with_timing_error_two() {
    let p = CollisionParams::default();
    let (truth, late) = (wall_track(10, 30), wall_track(12, 30));
    assert_eq!(collision_events(&truth, &p), vec![10]);
    assert_eq!(collision_events(&late, &p), vec![12]);
    let mut acc = CollisionAcc::default();
    acc.add(&[late], &[truth.clone()], 30, &p);
    let t = acc.timing().unwrap();
    assert_eq!((t.true_events, t.predicted_events, t.matched), (1, 1, 1));
    assert_eq!(t.matched_share, Some(1.0));
    assert_eq!(t.timing_error_steps.unwrap().mean, 2.0);

    // A prediction that sails on through the wall never bounces: missed.
    let straight: Track = (0..30)
        .map(|t| Some([10.0 + 2.0 * t as f32, 5.0 + 0.5 * t as f32]))
        .collect();
    let mut acc = CollisionAcc::default();
    acc.add(&[straight], &[truth], 30, &p);
    let t = acc.timing().unwrap();
    assert_eq!((t.true_events, t.predicted_events), (1, 0));
    assert_eq!(t.matched_share, Some(0.0));
    assert_eq!(t.timing_error_steps, None);
}

#[test]
fn events_outside_the_window_or_past_the_rollout_are_missed() {
    let p = CollisionParams::default();
    let mut acc = CollisionAcc::default();
    acc.add(&[wall_track(20, 40)], &[wall_track(10, 40)], 40, &p);
    assert_eq!(
        acc.timing().unwrap().matched_share,
        Some(0.0),
        "10 steps late"
    );
    // Only the first 10 steps are predicted: the bounce at 10 lies past them.
    let mut acc = CollisionAcc::default();
    acc.add(&[wall_track(10, 40)], &[wall_track(10, 40)], 10, &p);
    assert_eq!(acc.timing().unwrap().true_events, 0);
}

#[test]
fn turns_are_found_for_glancing_and_mid_step_bounces_but_not_for_jitter() {
    let p = CollisionParams::default();
    // Glancing: (0.8, 2) turns into (-0.8, 2), a 44 degree turn with a sign flip.
    let glancing: Track = (0..20)
        .map(|t| {
            let x = if t <= 8 {
                0.8 * t as f32
            } else {
                0.8 * (16 - t) as f32
            };
            Some([x, 2.0 * t as f32])
        })
        .collect();
    assert_eq!(collision_events(&glancing, &p), vec![8]);
    // A wall at x = 21 is hit between steps 3 and 4 (19 -> 22 reflected to 20): the
    // mixed step is slow, the event is the first frame after the contact.
    let mid: Track = [10.0, 13.0, 16.0, 19.0, 20.0, 17.0, 14.0, 11.0]
        .iter()
        .map(|&x| Some([x, 0.0]))
        .collect();
    assert_eq!(collision_events(&mid, &p), vec![4]);
    let slow_turn: Track = [10.0, 13.0, 16.0, 19.0, 19.2, 16.2, 13.2, 10.2]
        .iter()
        .map(|&x| Some([x, 0.0]))
        .collect();
    assert_eq!(
        collision_events(&slow_turn, &p),
        vec![4],
        "via the gap check"
    );
    let jitter: Track = (0..20)
        .map(|t| Some([10.0 + 0.1 * (t % 2) as f32, 10.0 - 0.1 * (t % 3) as f32]))
        .collect();
    assert!(collision_events(&jitter, &p).is_empty());
    let absent: Track = vec![None; 10];
    assert!(collision_events(&absent, &p).is_empty());
}

#[test]
fn matching_is_one_to_one_nearest_first() {
    assert_eq!(match_events(&[10, 11], &[11], 8), vec![0]);
    assert_eq!(match_events(&[10, 30], &[12, 29], 8), vec![1, 2]);
    assert_eq!(match_events(&[10], &[19], 8), Vec::<usize>::new());
    let t: Track = vec![Some([0.0, 0.0]), Some([2.0, 0.0])];
    let p: Track = vec![Some([0.0, 0.0]), Some([5.0, 4.0])];
    assert_eq!(velocity_error(&p, &t, 1), Some(5.0));
    assert_eq!(velocity_error(&p, &t, 2), None);
    assert_eq!(velocity_error(&[None, p[1]], &t, 1), None);
}

#[test]
fn physics_against_itself_has_zero_velocity_error_and_every_bounce_on_time() {
    let truth = episode_with(40, |_| true);
    let start = 5;
    let rollout = Rollout {
        truth: &truth,
        start,
        sources: vec![Source {
            name: "model",
            frames: &truth[start * FB..],
        }],
        actions: None,
    };
    let report = evaluate_rollouts(spec(None), config(vec![1, 2, 4, 8]), &[rollout]).unwrap();
    let model = report.method("model").unwrap();
    for s in &model.horizons {
        assert_eq!(s.velocity_error_px.unwrap().mean, 0.0, "h {}", s.horizon);
        assert_eq!(s.count_preserved, Some(1.0));
        assert_eq!(s.centroid_error_m, None, "no scale given");
    }
    let c = model.collision_timing.as_ref().unwrap();
    assert_eq!(c.true_events, 2, "the right wall, then the bottom wall");
    assert_eq!(c.matched_share, Some(1.0));
    assert_eq!(c.timing_error_steps.unwrap().mean, 0.0);

    // Copy-last stands still: its velocity error is the true speed, no bounce.
    let copy = report.method(COPY_LAST).unwrap();
    for s in &copy.horizons {
        let red = s.per_object[0].velocity_error_px.unwrap().mean;
        assert!((red - 5f64.sqrt()).abs() < 0.05, "h {}: {red}", s.horizon);
        assert_eq!(
            s.per_object[2].velocity_error_px.unwrap().mean,
            0.0,
            "blue is still"
        );
        assert_eq!(s.count_preserved, Some(1.0));
    }
    let c = copy.collision_timing.as_ref().unwrap();
    assert_eq!((c.true_events, c.predicted_events), (2, 0));
    assert_eq!(c.matched_share, Some(0.0));
    // Reflected constant velocity bounces where the truth does.
    let cv = report.method(CONSTANT_VELOCITY).unwrap();
    assert_eq!(
        cv.collision_timing.as_ref().unwrap().matched_share,
        Some(1.0)
    );
    let md = report.to_markdown();
    for want in [
        "Velocity error (px/step",
        "Object count preserved",
        "Collision timing",
    ] {
        assert!(md.contains(want), "{want} missing:\n{md}");
    }
    assert!(!md.contains("Position error"), "no scale, no metres table");
}

#[test]
fn an_offset_prediction_at_the_right_speed_has_no_velocity_error_after_the_jump() {
    let truth = episode_with(20, |_| true);
    let start = 3;
    // The same motion 3 px to the right (rendered, not clipped).
    let mut pred = Vec::new();
    for t in start..20 {
        let mut f = filled(H, W, FLOOR);
        let (x, y) = red_centre(t);
        disc(&mut f, H, W, (x + 3.0, y), 4.0, RED, |_, _| 0.9);
        disc(&mut f, H, W, (53.5, 10.5), 3.0, BLUE, |_, _| 0.7);
        pred.extend(f);
    }
    let rollout = Rollout {
        truth: &truth,
        start,
        sources: vec![Source {
            name: "model",
            frames: &pred,
        }],
        actions: None,
    };
    let report = evaluate_rollouts(spec(Some(0.05)), config(vec![1, 2, 4, 8]), &[rollout]).unwrap();
    for s in &report.method("model").unwrap().horizons {
        let e = s.centroid_error_px.unwrap().mean;
        assert!(
            (e - 3.0).abs() < 0.05,
            "h {}: centroid error {e}",
            s.horizon
        );
        let m = s.centroid_error_m.unwrap().mean;
        assert!((m - 0.05 * e).abs() < 1e-6, "metres {m}");
        let v = s.velocity_error_px.unwrap().mean;
        if s.horizon == 1 {
            // From the shared context frame to the first prediction the object jumps.
            assert!((v - 3.0).abs() < 0.05, "h 1: {v}");
        } else {
            assert!(v < 0.05, "h {}: velocity error {v}", s.horizon);
        }
    }
    assert_eq!(report.metres_per_px, Some(0.05));
    assert!(report.to_markdown().contains("Position error (metres"));
}

#[test]
fn erasing_an_object_breaks_the_count_and_old_reports_still_load() {
    let truth = episode_with(16, |_| true);
    let erased = episode_with(16, |_| false);
    let start = 4;
    let mut ev = HorizonEvaluator::new(spec(None), config(vec![1, 2, 4])).unwrap();
    for pred in [&truth, &erased] {
        ev.add(&Rollout {
            truth: &truth,
            start,
            sources: vec![Source {
                name: "model",
                frames: &pred[start * FB..],
            }],
            actions: None,
        })
        .unwrap();
    }
    let report = ev.report();
    for s in &report.method("model").unwrap().horizons {
        assert_eq!(s.count_preserved, Some(0.5), "h {}", s.horizon);
        // Red is gone from the second prediction: only its first rollout measures it.
        assert_eq!(s.per_object[0].velocity_error_px.unwrap().n, 1);
    }
    // JSON written before these measures existed has none of their fields.
    let mut json = serde_json::to_value(&report).unwrap();
    json.as_object_mut().unwrap().remove("metres_per_px");
    for m in json["methods"].as_array_mut().unwrap() {
        m.as_object_mut().unwrap().remove("collision_timing");
        for h in m["horizons"].as_array_mut().unwrap() {
            let h = h.as_object_mut().unwrap();
            for key in ["centroid_error_m", "velocity_error_px", "count_preserved"] {
                h.remove(key);
            }
        }
    }
    let old: EvalReport = serde_json::from_value(json).unwrap();
    assert_eq!(old.methods[0].horizons[0].count_preserved, None);
    assert!(old.to_markdown().contains("Object count preserved"));
}
