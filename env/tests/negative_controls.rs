//! Negative controls of benchmark v2 on real `bounce-v0` physics: frame sources
//! that must NOT beat the constant-velocity baseline (physics blurred, the mean
//! frame of the episodes, the last context frame repeated, physics one step late,
//! physics with only the balls blurred and the walls left sharp),
//! physics itself, which must, and physics nudged by 1e-4 of the arena after the
//! context, which must sit at the ceiling (near-zero error, every object kept).
//!
//! Public APIs only: the scenario's reset/step/render, the env's frame spec of a
//! scenario, and the world model's `HorizonEvaluator`; the episodes are run here,
//! not by the benchmark's task generator, so the measure is checked on its own.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium_scenarios::{make, Action, Scenario, Space};
use somnium_world_model::metrics::{
    EvalConfig, FrameSpec, HorizonEvaluator, Rollout, Source, Summary,
};
use somnium_world_model::objects::{ClassifyParams, Extractor};

const SIZE: usize = 64;
const FB: usize = SIZE * SIZE * 3;
const EPISODES: u64 = 24;
const FIRST_SEED: u64 = 10_000;
const CONTEXT: usize = 4;
const HORIZON: usize = 32;
const PERTURBATION: f32 = 1e-4;
const CV: &str = "constant_velocity";

/// The evaluator's view of the scenario's 64x64 frames.
fn frame_spec(s: &dyn Scenario) -> FrameSpec {
    somnium_env::consistency::score::frame_spec(s, (SIZE, SIZE))
}

fn zero_action(space: &Space) -> Action {
    match space {
        Space::Box { low, high, .. } => Action::Continuous(
            low.iter()
                .zip(high)
                .map(|(l, h)| 0.0f32.clamp(*l, h.max(*l)))
                .collect(),
        ),
        Space::Discrete(_) => Action::Discrete(0),
    }
}

/// One episode: the physics frames `[CONTEXT + HORIZON]` (the context after
/// `reset(seed)` and zero-action warm-up steps, then random actions), and the
/// `HORIZON` frames of a twin nudged at the end of the context.
fn episode(seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut twin = make("bounce-v0", "id").unwrap();
    let mut nudged = make("bounce-v0", "id").unwrap();
    let space = twin.action_space();
    let warmup = zero_action(&space);
    let mut frames = Vec::with_capacity((CONTEXT + HORIZON) * FB);
    for s in [&mut twin, &mut nudged] {
        s.reset(seed);
    }
    frames.extend(twin.render(SIZE, SIZE).data);
    for _ in 1..CONTEXT {
        twin.step(&warmup).unwrap();
        nudged.step(&warmup).unwrap();
        frames.extend(twin.render(SIZE, SIZE).data);
    }
    assert_eq!(
        twin.render(SIZE, SIZE).data,
        nudged.render(SIZE, SIZE).data,
        "the same seed gives the same frames"
    );
    let arena_m = nudged.arena_size().unwrap_or(1.0);
    assert!(
        nudged.nudge(PERTURBATION * arena_m, seed ^ 0xBADC_0FFE),
        "bounce-v0 can be nudged"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut perturbed = Vec::with_capacity(HORIZON * FB);
    for _ in 0..HORIZON {
        let a = space.sample(&mut rng);
        twin.step(&a).unwrap();
        nudged.step(&a).unwrap();
        frames.extend(twin.render(SIZE, SIZE).data);
        perturbed.extend(nudged.render(SIZE, SIZE).data);
    }
    (frames, perturbed)
}

/// A Gaussian blur of one frame (separable, radius `ceil(3 sigma)`, weights
/// renormalised at the edges).
fn gaussian_blur(frame: &[u8], sigma: f32) -> Vec<u8> {
    let r = (3.0 * sigma).ceil() as i64;
    let wts: Vec<f32> = (-r..=r)
        .map(|d| (-((d * d) as f32) / (2.0 * sigma * sigma)).exp())
        .collect();
    let n = SIZE as i64;
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0.0f32; src.len()];
        for y in 0..n {
            for x in 0..n {
                let (mut acc, mut total) = ([0.0f32; 3], 0.0f32);
                for (k, &w) in wts.iter().enumerate() {
                    let d = k as i64 - r;
                    let (xx, yy) = if horizontal { (x + d, y) } else { (x, y + d) };
                    if (0..n).contains(&xx) && (0..n).contains(&yy) {
                        let j = (yy * n + xx) as usize * 3;
                        (0..3).for_each(|c| acc[c] += w * src[j + c]);
                        total += w;
                    }
                }
                let i = (y * n + x) as usize * 3;
                (0..3).for_each(|c| out[i + c] = acc[c] / total);
            }
        }
        out
    };
    let src: Vec<f32> = frame.iter().map(|&v| f32::from(v)).collect();
    pass(&pass(&src, true), false)
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// `frame` blurred (sigma 1.5 px) within 3 px of a pixel the extractor labels as
/// a dynamic object; the walls and floor elsewhere left sharp.
fn blur_objects_only(spec: &FrameSpec, frame: &[u8]) -> Vec<u8> {
    let ex = Extractor::new(
        SIZE,
        SIZE,
        &spec.colors,
        spec.background,
        ClassifyParams::default(),
    );
    let labels = ex.labels(frame).unwrap();
    let dynamic = |l: u16| l > 0 && spec.colors.get(l as usize - 1).is_some_and(|c| c.dynamic);
    let blurred = gaussian_blur(frame, 1.5);
    let near = |i: usize| {
        let (x, y) = (i % SIZE, i / SIZE);
        (y.saturating_sub(3)..(y + 4).min(SIZE)).any(|yy| {
            (x.saturating_sub(3)..(x + 4).min(SIZE)).any(|xx| dynamic(labels[yy * SIZE + xx]))
        })
    };
    (0..SIZE * SIZE)
        .flat_map(|i| {
            if near(i) {
                &blurred[i * 3..i * 3 + 3]
            } else {
                &frame[i * 3..i * 3 + 3]
            }
        })
        .copied()
        .collect()
}

/// What one control scored over h1-32.
struct Outcome {
    name: String,
    model: Summary,
    cv: Summary,
    beats: bool,
    why: String,
}

/// Scores the source `make(truth, perturbed)` of every episode.
fn control(
    spec: &FrameSpec,
    name: &str,
    episodes: &[(Vec<u8>, Vec<u8>)],
    make: impl Fn(&[u8], &[u8]) -> Vec<u8>,
) -> Outcome {
    let mut ev = HorizonEvaluator::new(spec.clone(), EvalConfig::default()).unwrap();
    for (truth, perturbed) in episodes {
        let frames = make(truth, perturbed);
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
    let c = report
        .comparison(name, CV)
        .expect("compared with constant velocity");
    let summary = |m: &str| report.method(m).unwrap().summary.clone();
    let out = Outcome {
        name: name.into(),
        model: summary(name),
        cv: summary(CV),
        beats: c.verdict.beats,
        why: c.verdict.why.clone(),
    };
    let show = |s: &Summary| {
        format!(
            "error {:.3} px, kept {:.3}, IoU {:.3}, miss {:.3}, sharpness {:.2}",
            s.centroid_error_px.map_or(f64::NAN, |e| e.mean),
            s.kept_share.unwrap_or(f64::NAN),
            s.mean_iou.unwrap_or(f64::NAN),
            s.miss_rate.unwrap_or(f64::NAN),
            s.sharpness.map_or(f64::NAN, |x| x.mean)
        )
    };
    let h1 = &report.method(name).unwrap().horizons[0];
    let cv_h1 = &report.method(CV).unwrap().horizons[0];
    eprintln!(
        "{name}: h1-{} {} | {CV} {} | h1 error {:.3} vs {:.3} | beats {CV}: {} ({})",
        out.model.steps,
        show(&out.model),
        show(&out.cv),
        h1.centroid_error_px.map_or(f64::NAN, |e| e.mean),
        cv_h1.centroid_error_px.map_or(f64::NAN, |e| e.mean),
        out.beats,
        out.why
    );
    out
}

#[test]
fn negative_controls_fail_physics_passes_and_nudged_physics_is_the_ceiling() {
    let scenario = make("bounce-v0", "id").unwrap();
    let spec = frame_spec(scenario.as_ref());
    eprintln!(
        "bounce-v0 {SIZE}x{SIZE}: arena_px {:?}, {:?} m/px; {EPISODES} episodes from seed {FIRST_SEED}, context {CONTEXT}, horizon {HORIZON}",
        spec.arena_px, spec.metres_per_px
    );
    let episodes: Vec<(Vec<u8>, Vec<u8>)> =
        (FIRST_SEED..FIRST_SEED + EPISODES).map(episode).collect();
    let future = |t: &[u8]| t[CONTEXT * FB..].to_vec();
    let mut mean_acc = vec![0u64; FB];
    let mut n = 0u64;
    for f in episodes.iter().flat_map(|(t, _)| t.chunks_exact(FB)) {
        mean_acc
            .iter_mut()
            .zip(f)
            .for_each(|(a, &v)| *a += u64::from(v));
        n += 1;
    }
    let mean_frame: Vec<u8> = mean_acc.iter().map(|&a| ((a + n / 2) / n) as u8).collect();

    let physics = control(&spec, "physics", &episodes, |t, _| future(t));
    let nudged = control(&spec, "physics_perturbed", &episodes, |_, p| p.to_vec());
    let negatives = [
        control(&spec, "physics_blurred", &episodes, |t, _| {
            future(t)
                .chunks_exact(FB)
                .flat_map(|f| gaussian_blur(f, 1.5))
                .collect()
        }),
        control(&spec, "mean_frame", &episodes, |_, _| {
            mean_frame.repeat(HORIZON)
        }),
        control(&spec, "last_context_frame", &episodes, |t, _| {
            t[(CONTEXT - 1) * FB..CONTEXT * FB].repeat(HORIZON)
        }),
        control(&spec, "physics_one_step_late", &episodes, |t, _| {
            t[(CONTEXT - 1) * FB..(CONTEXT - 1 + HORIZON) * FB].to_vec()
        }),
        control(&spec, "physics_balls_blurred", &episodes, |t, _| {
            future(t)
                .chunks_exact(FB)
                .flat_map(|f| blur_objects_only(&spec, f))
                .collect()
        }),
    ];

    let mut failures = Vec::new();
    for o in &negatives {
        if o.beats {
            failures.push(format!("negative control {} beats {CV}: {}", o.name, o.why));
        }
    }
    if !physics.beats {
        failures.push(format!("physics does not beat {CV}: {}", physics.why));
    }
    let ceiling_error = nudged.model.centroid_error_px.unwrap().mean;
    let ceiling_kept = nudged.model.kept_share.unwrap();
    if ceiling_error >= 0.25 || ceiling_kept < 0.98 {
        failures.push(format!(
            "nudged physics is not at the ceiling: error {ceiling_error:.3} px (< 0.25), kept {ceiling_kept:.3} (>= 0.98)"
        ));
    }
    assert_eq!(physics.model.centroid_error_px.unwrap().mean, 0.0);
    assert!(physics.cv.centroid_error_px.unwrap().mean > 0.0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
