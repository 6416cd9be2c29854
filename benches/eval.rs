//! Speed of the evaluation side of the world model: object extraction on one
//! 64x64 frame, the horizon evaluator on one 64-frame rollout (model and three
//! baselines at horizons 1..32), one AdamW step + EMA update over 1M parameters,
//! and a checkpoint save + load of 1M parameters with EMA and optimizer state.
//!
//! Run: `cargo bench -p somnium --bench eval`.

use candle_core::{Device, Tensor, Var};
use criterion::{criterion_group, criterion_main, Criterion};
use somnium_world_model::checkpoint::{self, Checkpoint, CheckpointMeta};
use somnium_world_model::data::ManifestColor;
use somnium_world_model::metrics::{EvalConfig, FrameSpec, HorizonEvaluator, Rollout, Source};
use somnium_world_model::objects::{ClassifyParams, Extractor};
use somnium_world_model::optim::{AdamW, AdamWParams, Ema};
use std::hint::black_box;
use std::time::Duration;

const SIDE: usize = 64;
const FLOOR: [u8; 3] = [60, 60, 64];

fn colors() -> Vec<ManifestColor> {
    let c = |name: &str, rgb, dynamic| ManifestColor {
        name: name.into(),
        rgb,
        dynamic,
    };
    vec![
        c("floor", FLOOR, false),
        c("ball0", [230, 30, 30], true),
        c("ball1", [30, 200, 40], true),
        c("ball2", [40, 80, 240], true),
    ]
}

/// A 64x64 frame with three shaded balls moving at different velocities.
fn frame(t: usize) -> Vec<u8> {
    let mut f: Vec<u8> = FLOOR
        .iter()
        .copied()
        .cycle()
        .take(SIDE * SIDE * 3)
        .collect();
    for (k, c) in colors().iter().skip(1).enumerate() {
        let cx = 10.0 + ((t * (k + 1)) % 44) as f32;
        let cy = 12.0 + 14.0 * k as f32;
        for y in 0..SIDE {
            for x in 0..SIDE {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                if dx.hypot(dy) <= 5.0 {
                    let shade = 0.6 + 0.4 * (-dx / 5.0).max(0.0);
                    for ch in 0..3 {
                        f[(y * SIDE + x) * 3 + ch] = (f32::from(c.rgb[ch]) * shade) as u8;
                    }
                }
            }
        }
    }
    f
}

fn params(n_mats: usize, side: usize) -> Vec<(String, Var)> {
    (0..n_mats)
        .map(|i| {
            let t = Tensor::randn(0f32, 0.02, (side, side), &Device::Cpu).expect("randn");
            (
                format!("layer{i}.weight"),
                Var::from_tensor(&t).expect("var"),
            )
        })
        .collect()
}

fn eval_bench(c: &mut Criterion) {
    let extractor = Extractor::new(
        SIDE,
        SIDE,
        &colors(),
        [16, 16, 20],
        ClassifyParams::default(),
    );
    let f = frame(3);
    c.bench_function("objects/extract_64x64", |b| {
        b.iter(|| black_box(extractor.extract(black_box(&f)).expect("extract")))
    });

    let truth: Vec<u8> = (0..64).flat_map(frame).collect();
    let predicted = truth[4 * SIDE * SIDE * 3..].to_vec();
    let spec = FrameSpec {
        height: SIDE,
        width: SIDE,
        colors: colors(),
        background: [16, 16, 20],
        arena_px: Some([5.0, 5.0, 59.0, 59.0]),
        metres_per_px: None,
    };
    c.bench_function(
        "metrics/rollout_64_frames_model_and_3_drawn_baselines",
        |b| {
            b.iter(|| {
                let mut ev =
                    HorizonEvaluator::new(spec.clone(), EvalConfig::default()).expect("evaluator");
                ev.add(&Rollout {
                    truth: &truth,
                    start: 4,
                    sources: vec![Source {
                        name: "model",
                        frames: &predicted,
                    }],
                    actions: None,
                })
                .expect("add");
                black_box(ev.report())
            })
        },
    );

    // 4 matrices of 512x512 = 1,048,576 parameters.
    let vars = params(4, 512);
    let mut opt = AdamW::new(vars.clone(), AdamWParams::default()).expect("adamw");
    let mut ema = Ema::new(vars.clone(), 0.999).expect("ema");
    let loss = vars
        .iter()
        .map(|(_, v)| v.as_tensor().sqr().expect("sqr").sum_all().expect("sum"))
        .reduce(|a, b| (a + b).expect("add"))
        .expect("loss");
    let grads = loss.backward().expect("backward");
    let mut step = 0u64;
    c.bench_function("optim/adamw_step_plus_ema_1M", |b| {
        b.iter(|| {
            opt.step(&grads, 1e-3).expect("step");
            ema.update(step).expect("ema");
            step += 1;
        })
    });

    let ckpt = Checkpoint::capture(
        serde_json::json!({"preset": "bench"}),
        CheckpointMeta::default(),
        &vars,
        Some(&ema),
        Some(&opt),
    )
    .expect("capture");
    let dir = tempfile::tempdir().expect("tempdir");
    c.bench_function("checkpoint/save_load_1M_with_ema_and_adam", |b| {
        b.iter(|| {
            checkpoint::save(dir.path(), &ckpt).expect("save");
            black_box(checkpoint::load(dir.path()).expect("load"))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = eval_bench
}
criterion_main!(benches);
