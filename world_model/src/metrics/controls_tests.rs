//! Negative controls on synthetic bouncing discs: predictors that must NOT beat
//! the constant-velocity baseline (blurred truth, the mean frame, the last context
//! frame, the truth one step late, the truth with only its discs blurred), and the
//! truth itself, which must.
//!
//! Two discs move at 1.5 to 3 px/step inside a grey wall 4 px thick and bounce
//! off the arena's walls losing 15% of their speed across the wall (constant
//! velocity reflects without loss, so it drifts after a bounce); they pass over
//! each other without colliding.

use super::baselines::CONSTANT_VELOCITY;
use super::*;
use crate::objects::synth::{colors, disc, filled, gaussian_blur, BG, BLUE, FLOOR, RED};

const S: usize = 64;
const FB: usize = S * S * 3;
const ARENA: [f32; 4] = [8.0, 8.0, 56.0, 56.0];
const EPISODES: u64 = 24;
const CONTEXT: usize = 4;
const HORIZON: usize = 32;
const RESTITUTION: f32 = 0.85;
const WALL: [u8; 3] = [150, 150, 150];

fn spec() -> FrameSpec {
    FrameSpec {
        height: S,
        width: S,
        colors: colors(),
        background: BG,
        arena_px: Some(ARENA),
        metres_per_px: None,
    }
}

/// A uniform number in `[lo, hi)` from a xorshift state.
fn uniform(state: &mut u64, lo: f32, hi: f32) -> f32 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    lo + (hi - lo) * ((*state >> 40) as f32 / (1u64 << 24) as f32)
}

/// A disc: position, velocity (px/step), radius and colour.
type Disc = ([f32; 2], [f32; 2], f32, [u8; 3]);

/// One episode of `CONTEXT + HORIZON` frames.
fn bouncing(seed: u64) -> Vec<u8> {
    let mut state = (seed + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut discs: Vec<Disc> = [(RED, 4.0), (BLUE, 3.5)]
        .iter()
        .map(|&(rgb, r)| {
            let p = [
                uniform(&mut state, 14.0, 50.0),
                uniform(&mut state, 14.0, 50.0),
            ];
            let (speed, heading) = (
                uniform(&mut state, 1.5, 3.0),
                uniform(&mut state, 0.0, std::f32::consts::TAU),
            );
            (p, [speed * heading.cos(), speed * heading.sin()], r, rgb)
        })
        .collect();
    let mut out = Vec::with_capacity((CONTEXT + HORIZON) * FB);
    for _ in 0..CONTEXT + HORIZON {
        let mut f = filled(S, S, FLOOR);
        for i in 0..S * S {
            let (x, y) = (i % S, i / S);
            if x < 4 || y < 4 || x >= S - 4 || y >= S - 4 {
                f[i * 3..i * 3 + 3].copy_from_slice(&WALL);
            }
        }
        for (p, _, r, rgb) in &discs {
            disc(&mut f, S, S, (p[0], p[1]), *r, *rgb, |_, _| 0.9);
        }
        out.extend(f);
        for (p, v, _, _) in &mut discs {
            for a in 0..2 {
                p[a] += v[a];
                let (lo, hi) = (ARENA[a], ARENA[a + 2]);
                if p[a] > hi || p[a] < lo {
                    let wall = if p[a] > hi { hi } else { lo };
                    p[a] = wall - RESTITUTION * (p[a] - wall);
                    v[a] *= -RESTITUTION;
                }
            }
        }
    }
    out
}

/// What one control scored: its summary, constant velocity's, and the comparison.
struct Outcome {
    model: Summary,
    cv: Summary,
    comparison: Comparison,
}

/// Scores the source `make(episode index, truth)` on every episode.
fn control(name: &str, episodes: &[Vec<u8>], make: impl Fn(usize, &[u8]) -> Vec<u8>) -> Outcome {
    let mut ev = HorizonEvaluator::new(spec(), EvalConfig::default()).unwrap();
    for (i, truth) in episodes.iter().enumerate() {
        let frames = make(i, truth);
        ev.add(&Rollout {
            truth,
            start: CONTEXT,
            sources: vec![Source {
                name,
                frames: &frames,
            }],
            actions: None,
        })
        .unwrap();
    }
    let report = ev.report();
    let comparison = report.comparison(name, CONSTANT_VELOCITY).unwrap().clone();
    let summary = |m: &str| report.method(m).unwrap().summary.clone();
    let out = Outcome {
        model: summary(name),
        cv: summary(CONSTANT_VELOCITY),
        comparison,
    };
    let stat = |s: &Summary| {
        format!(
            "error {:.2} px, kept {:.3}, miss {:.3}, sharpness {:.2}",
            s.centroid_error_px.unwrap().mean,
            s.kept_share.unwrap(),
            s.miss_rate.unwrap(),
            s.sharpness.map_or(f64::NAN, |x| x.mean)
        )
    };
    eprintln!(
        "synthetic control {name}: h1-{} {} | constant_velocity {} | beats: {} ({})",
        out.model.steps,
        stat(&out.model),
        stat(&out.cv),
        out.comparison.verdict.beats,
        out.comparison.verdict.why
    );
    out
}

fn episodes() -> Vec<Vec<u8>> {
    (0..EPISODES).map(bouncing).collect()
}

fn future(truth: &[u8]) -> &[u8] {
    &truth[CONTEXT * FB..]
}

#[test]
fn the_truth_beats_constant_velocity() {
    let eps = episodes();
    let o = control("truth", &eps, |_, t| future(t).to_vec());
    assert!(o.comparison.verdict.beats, "{}", o.comparison.verdict.why);
    assert_eq!(o.model.centroid_error_px.unwrap().mean, 0.0);
    assert!(
        o.cv.centroid_error_px.unwrap().mean > 0.3,
        "the bounces lose speed"
    );
    assert_eq!(o.model.steps, HORIZON);
}

#[test]
fn blurred_truth_does_not_beat_constant_velocity() {
    let eps = episodes();
    let o = control("blurred", &eps, |_, t| {
        future(t)
            .chunks_exact(FB)
            .flat_map(|f| gaussian_blur(f, S, S, 1.5))
            .collect()
    });
    assert!(!o.comparison.verdict.beats, "{}", o.comparison.verdict.why);
    assert!(o.model.sharpness.unwrap().mean < paired::SHARP_RANGE.0);
}

#[test]
fn the_mean_frame_does_not_beat_constant_velocity() {
    let eps = episodes();
    let mut acc = vec![0u64; FB];
    let mut n = 0u64;
    for f in eps.iter().flat_map(|e| e.chunks_exact(FB)) {
        acc.iter_mut().zip(f).for_each(|(a, &v)| *a += u64::from(v));
        n += 1;
    }
    let mean: Vec<u8> = acc.iter().map(|&a| ((a + n / 2) / n) as u8).collect();
    let o = control("mean_frame", &eps, |_, _| mean.repeat(HORIZON));
    assert!(!o.comparison.verdict.beats, "{}", o.comparison.verdict.why);
}

#[test]
fn copy_last_does_not_beat_constant_velocity() {
    let eps = episodes();
    let o = control("last_frame", &eps, |_, t| {
        t[(CONTEXT - 1) * FB..CONTEXT * FB].repeat(HORIZON)
    });
    assert!(!o.comparison.verdict.beats, "{}", o.comparison.verdict.why);
}

#[test]
fn the_truth_one_step_late_does_not_beat_constant_velocity() {
    let eps = episodes();
    let o = control("late", &eps, |_, t| {
        t[(CONTEXT - 1) * FB..(CONTEXT - 1 + HORIZON) * FB].to_vec()
    });
    assert!(!o.comparison.verdict.beats, "{}", o.comparison.verdict.why);
}

#[test]
fn truth_with_blurred_discs_and_sharp_walls_does_not_beat_constant_velocity() {
    let eps = episodes();
    // Blurred within 3 px of a disc pixel, the walls and floor left sharp.
    let soft_discs = |f: &[u8]| -> Vec<u8> {
        let blurred = gaussian_blur(f, S, S, 1.5);
        let is_disc = |x: usize, y: usize| {
            let p = &f[(y * S + x) * 3..(y * S + x) * 3 + 3];
            p != FLOOR && p != WALL
        };
        let near = |i: usize| {
            let (x, y) = (i % S, i / S);
            (y.saturating_sub(3)..(y + 4).min(S))
                .any(|yy| (x.saturating_sub(3)..(x + 4).min(S)).any(|xx| is_disc(xx, yy)))
        };
        (0..S * S)
            .flat_map(|i| {
                if near(i) {
                    &blurred[i * 3..i * 3 + 3]
                } else {
                    &f[i * 3..i * 3 + 3]
                }
            })
            .copied()
            .collect()
    };
    let o = control("blurred_discs", &eps, |_, t| {
        future(t).chunks_exact(FB).flat_map(soft_discs).collect()
    });
    // Over the whole frame, the sharp walls hide the soft discs.
    let ratios: Vec<f64> = eps
        .iter()
        .flat_map(|e| future(e).chunks_exact(FB))
        .map(|f| scoring::gradient_energy(&soft_discs(f), S, S) / scoring::gradient_energy(f, S, S))
        .collect();
    eprintln!(
        "blurred discs: whole-frame sharpness ratio {:.2}",
        ratios.iter().sum::<f64>() / ratios.len() as f64
    );
    assert!(!o.comparison.verdict.beats, "{}", o.comparison.verdict.why);
    assert!(
        o.comparison.verdict.why.contains("not sharp"),
        "{}",
        o.comparison.verdict.why
    );
}
