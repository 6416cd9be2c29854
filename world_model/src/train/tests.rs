//! Trainer tests on the synthetic moving square: learning, determinism, exact
//! resumption, bit-identical save/load, and a model that predicts where the
//! square goes next.

use std::sync::Arc;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::checkpointing::load_model;
use super::synthetic::{moving_square_episodes, square_centroid, SQUARE_BACKGROUND};
use super::*;
use crate::codec::{FrameCodec, PixelCodec};
use crate::sampler::{Dreamer, SampleOptions};

fn setup(seed: u64, train_cfg: TrainConfig) -> Trainer {
    let cfg = ModelConfig::tiny();
    let codec = PixelCodec::new((32, 32), (16, 16)).unwrap();
    let dev = Device::Cpu;
    let train = WindowSource::from_episodes(
        &moving_square_episodes(24, 16, 32, 6, 1),
        &codec,
        &cfg,
        false,
        &dev,
    )
    .unwrap();
    let val = WindowSource::from_episodes(
        &moving_square_episodes(4, 16, 32, 6, 2),
        &codec,
        &cfg,
        false,
        &dev,
    )
    .unwrap();
    let bg = background_latent(&codec, SQUARE_BACKGROUND, &dev).unwrap();
    Trainer::new(
        &cfg,
        TrainConfig {
            seed,
            batch: 8,
            warmup: 10,
            val_windows: 32,
            ..train_cfg
        },
        train,
        Some(&val),
        bg,
    )
    .unwrap()
}

fn run(t: &mut Trainer, until: u64, total: u64) -> Vec<f32> {
    let mut losses = Vec::new();
    while t.step() < until {
        let lr = t.lr_for_steps(total);
        losses.push(t.train_step(lr).unwrap().loss);
    }
    losses
}

#[test]
fn training_lowers_validation_loss_and_is_deterministic() {
    let mut a = setup(0, TrainConfig::default());
    let start = a.validation_loss().unwrap().unwrap();
    let curve_a = run(&mut a, 60, 60);
    let end = a.validation_loss().unwrap().unwrap();
    assert!(end < 0.5 * start, "validation loss {start} -> {end}");
    let mut b = setup(0, TrainConfig::default());
    assert_eq!(
        run(&mut b, 60, 60),
        curve_a,
        "same seed, different loss curve"
    );
    let mut c = setup(1, TrainConfig::default());
    assert_ne!(run(&mut c, 5, 60), curve_a[..5].to_vec());
}

#[test]
fn stop_and_resume_gives_the_uninterrupted_curve() {
    let dir = tempfile::tempdir().unwrap();
    let mut full = setup(3, TrainConfig::default());
    let curve = run(&mut full, 20, 20);
    let mut first = setup(3, TrainConfig::default());
    let mut resumed_curve = run(&mut first, 8, 20);
    first
        .save(dir.path(), "synthetic", serde_json::json!({"note": "test"}))
        .unwrap();
    drop(first);
    let mut second = setup(3, TrainConfig::default());
    let extra = second.resume(dir.path()).unwrap();
    assert_eq!(extra["note"], "test");
    assert_eq!(second.step(), 8);
    resumed_curve.extend(run(&mut second, 20, 20));
    assert_eq!(resumed_curve, curve);
    // a different seed refuses the checkpoint
    assert!(setup(4, TrainConfig::default()).resume(dir.path()).is_err());
}

#[test]
fn saved_model_gives_bit_identical_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = setup(5, TrainConfig::default());
    run(&mut t, 5, 5);
    t.save(dir.path(), "", serde_json::Value::Null).unwrap();
    let loaded = load_model(dir.path(), false, &Device::Cpu).unwrap();
    let cfg = ModelConfig::tiny();
    let (c, h, w) = cfg.latent_shape();
    let x = Tensor::ones(
        (2, cfg.window(), c, h, w),
        candle_core::DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let s = Tensor::full(0.5f32, (2, cfg.window()), &Device::Cpu).unwrap();
    let a = Tensor::full(0.1f32, (2, cfg.window(), 2), &Device::Cpu).unwrap();
    let p1 = t
        .model()
        .forward(&x, &s, &a, None, false)
        .unwrap()
        .prediction;
    let p2 = loaded.forward(&x, &s, &a, None, false).unwrap().prediction;
    let v1: Vec<f32> = p1.flatten_all().unwrap().to_vec1().unwrap();
    let v2: Vec<f32> = p2.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(v1, v2);
}

#[test]
fn overfit_model_predicts_the_next_square_position() {
    let cfg = ModelConfig::tiny();
    let codec = PixelCodec::new((32, 32), (16, 16)).unwrap();
    let dev = Device::Cpu;
    let episodes = moving_square_episodes(6, 12, 32, 6, 7);
    let train = WindowSource::from_episodes(&episodes, &codec, &cfg, false, &dev).unwrap();
    let bg = background_latent(&codec, SQUARE_BACKGROUND, &dev).unwrap();
    let tc = TrainConfig {
        seed: 0,
        batch: 16,
        warmup: 20,
        lr: 3e-3,
        val_windows: 0,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(&cfg, tc, train, None, bg).unwrap();
    let total = 800;
    while t.step() < total {
        let lr = t.lr_for_steps(total);
        t.train_step(lr).unwrap();
    }
    // dream the next frame of every window of episode 0 and compare centroids
    let ep = &episodes[0];
    let frame = |i: usize| &ep.frames[i * 32 * 32 * 3..(i + 1) * 32 * 32 * 3];
    let model = Arc::new(load_in_memory(&t));
    let codec: Arc<dyn FrameCodec> = Arc::new(codec);
    let (mut err_model, mut err_copy) = (0f32, 0f32);
    let windows = ep.len() + 1 - cfg.context_frames;
    for start in 0..windows {
        let ctx_frames: Vec<u8> = (start..start + cfg.context_frames)
            .flat_map(|i| frame(i).to_vec())
            .collect();
        let ctx = crate::codec::frames_tensor(&ctx_frames, 32, 32, &dev).unwrap();
        let past = Tensor::from_slice(
            &ep.actions[start * 2..(start + cfg.context_frames - 1) * 2],
            (1, cfg.context_frames - 1, 2),
            &dev,
        )
        .unwrap();
        let mut dreamer = Dreamer::new(
            model.clone(),
            codec.clone(),
            &ctx,
            &past,
            ChaCha8Rng::seed_from_u64(0),
            SampleOptions::default(),
        )
        .unwrap();
        let a_idx = start + cfg.context_frames - 1;
        let act = Tensor::from_slice(&ep.actions[a_idx * 2..a_idx * 2 + 2], (1, 2), &dev).unwrap();
        let out = dreamer.step(&act).unwrap();
        let pred: Vec<u8> = out.frames.flatten_all().unwrap().to_vec1().unwrap();
        let truth = square_centroid(frame(start + cfg.context_frames), 32).unwrap();
        let last = square_centroid(frame(start + cfg.context_frames - 1), 32).unwrap();
        let got = square_centroid(&pred, 32).expect("the square vanished");
        let dist =
            |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        err_model += dist(got, truth) / windows as f32;
        err_copy += dist(last, truth) / windows as f32;
    }
    assert!(
        err_model < 1.0 && err_model < 0.5 * err_copy,
        "model {err_model} px, copy-last {err_copy} px"
    );
}

fn load_in_memory(t: &Trainer) -> crate::dit::DiT {
    let m = crate::dit::DiT::new(t.model().config(), 0, &Device::Cpu).unwrap();
    m.load_weights(&t.model().params().snapshot().unwrap().into_iter().collect())
        .unwrap();
    m
}

/// Prints the training and dreaming speed of the `small` preset (no assertion;
/// run with `cargo test --release -p somnium-world-model -- --ignored --nocapture speed`).
#[test]
#[ignore]
fn speed_of_small_training_and_dreaming() {
    let cfg = ModelConfig::small();
    let codec = PixelCodec::new((64, 64), (32, 32)).unwrap();
    let dev = Device::Cpu;
    let train = WindowSource::from_episodes(
        &moving_square_episodes(16, 20, 64, 8, 1),
        &codec,
        &cfg,
        false,
        &dev,
    )
    .unwrap();
    let bg = background_latent(&codec, SQUARE_BACKGROUND, &dev).unwrap();
    let mut t = Trainer::new(
        &cfg,
        TrainConfig {
            val_windows: 0,
            ..TrainConfig::default()
        },
        train,
        None,
        bg,
    )
    .unwrap();
    t.train_step(1e-3).unwrap();
    let start = std::time::Instant::now();
    let steps = 5;
    for _ in 0..steps {
        t.train_step(1e-3).unwrap();
    }
    let s = start.elapsed().as_secs_f64() / steps as f64;
    println!(
        "small: {:.3} s per step of 32 windows = {:.1} windows/s",
        s,
        32.0 / s
    );
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let batch = t.train_windows().sample(32, &mut rng).unwrap();
    let noise = crate::objective::draw_noise(&cfg, 32, &mut rng, &dev).unwrap();
    let bg = background_latent(&codec, SQUARE_BACKGROUND, &dev).unwrap();
    let start = std::time::Instant::now();
    let l = crate::objective::loss(t.model(), &batch, &noise, &bg).unwrap();
    let fwd = start.elapsed().as_secs_f64();
    let g = l.total.backward().unwrap();
    let bwd = start.elapsed().as_secs_f64() - fwd;
    drop(g);
    println!("small: forward {fwd:.3} s, backward {bwd:.3} s at batch 32");
    let (c, h, w) = cfg.latent_shape();
    for b in [1usize, 32] {
        let ctx = Tensor::zeros(
            (b, cfg.context_frames, c, h, w),
            candle_core::DType::F32,
            &dev,
        )
        .unwrap();
        let a = Tensor::zeros((b, cfg.window(), 2), candle_core::DType::F32, &dev).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        crate::sampler::dream_step(t.model(), &ctx, &a, &mut rng, &SampleOptions::default())
            .unwrap();
        let start = std::time::Instant::now();
        for _ in 0..5 {
            crate::sampler::dream_step(t.model(), &ctx, &a, &mut rng, &SampleOptions::default())
                .unwrap();
        }
        println!(
            "small: dream step at batch {b}: {:.1} ms",
            start.elapsed().as_secs_f64() * 200.0
        );
    }
}

/// Forward outputs of `model` on a fixed input (for bit-exact comparisons).
fn fixed_outputs(model: &crate::dit::DiT) -> Vec<f32> {
    let cfg = ModelConfig::tiny();
    let (c, h, w) = cfg.latent_shape();
    let dev = Device::Cpu;
    let x = Tensor::ones((1, cfg.window(), c, h, w), candle_core::DType::F32, &dev).unwrap();
    let s = Tensor::full(0.5f32, (1, cfg.window()), &dev).unwrap();
    let a = Tensor::full(0.1f32, (1, cfg.window(), 2), &dev).unwrap();
    let p = model.forward(&x, &s, &a, None, false).unwrap().prediction;
    p.flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn warm_start_begins_from_the_ema_weights_with_a_fresh_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut source = setup(6, TrainConfig::default());
    run(&mut source, 12, 12);
    source
        .save(dir.path(), "", serde_json::Value::Null)
        .unwrap();
    let ema_outputs = source.with_ema(fixed_outputs).unwrap();

    // A sampling-only field may differ; the weights are the source's EMA.
    let path = dir.path().join(crate::checkpoint::CONFIG_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["model_config"]["sampling_steps"] = serde_json::json!(3);
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let mut tuned = setup(7, TrainConfig::default());
    assert_eq!(tuned.warm_start(dir.path()).unwrap(), 12);
    assert_eq!(tuned.step(), 0, "the fine-tuning run starts at step 0");
    assert_eq!(fixed_outputs(tuned.model()), ema_outputs);
    assert_eq!(tuned.with_ema(fixed_outputs).unwrap(), ema_outputs);
    let before = tuned.validation_loss().unwrap().unwrap();
    run(&mut tuned, 10, 10);
    assert!(tuned.validation_loss().unwrap().unwrap().is_finite());
    assert!(before.is_finite());

    // A model-shaping field may not: the error names it.
    json["model_config"]["depth"] = serde_json::json!(7);
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let err = setup(7, TrainConfig::default())
        .warm_start(dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("depth"), "{err}");
}
