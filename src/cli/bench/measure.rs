//! The timed workloads of `somnium bench`: candle's matmul rate, the DiT's
//! forward over a training window, one dream step, and one training step,
//! each as the median wall time of `repeats` runs after a warm-up run.
//!
//! The training step is `Trainer::train_step` itself (batch sampling, noise
//! draw, loss, backward, gradient clipping, AdamW, EMA) on a trainer built on
//! synthetic moving-square windows, so it times exactly what `somnium train`
//! does per step. Forward and dream run on that trainer's model. candle has no
//! no-grad mode: the weights are variables and each op records its inputs, as
//! in every inference somnium runs; nothing walks the graph.

use std::time::Instant;

use anyhow::{bail, Context};
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use somnium_world_model::codec::FrameCodec;
use somnium_world_model::codec::PixelCodec;
use somnium_world_model::config::ContextCache;
use somnium_world_model::config::{ActionKind, CodecKind, ModelConfig};
use somnium_world_model::data::Episode;
use somnium_world_model::sampler::{dream_step, Dreamer, SampleOptions};
use somnium_world_model::train::synthetic::{moving_square_episodes, SQUARE_BACKGROUND};
use somnium_world_model::train::{background_latent, TrainConfig, Trainer, WindowSource};

/// Side of the square of a matmul-rate product (`[n, n] x [n, n]`).
pub const MATMUL_SIZE: usize = 1024;

/// Median wall time in milliseconds of `repeats` calls of `work` after `warmup` calls.
pub fn median_ms(
    warmup: usize,
    repeats: usize,
    mut work: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    for _ in 0..warmup {
        work()?;
    }
    let mut times = Vec::with_capacity(repeats.max(1));
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        work()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let mid = times.len() / 2;
    Ok(if times.len() % 2 == 1 {
        times[mid]
    } else {
        0.5 * (times[mid - 1] + times[mid])
    })
}

/// `shape` filled with values uniform in `[-1, 1)` from `rng` (latents live there).
fn uniform(shape: &[usize], rng: &mut ChaCha8Rng) -> anyhow::Result<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

/// Actions `[batch, frames, A]` inside the config's action space.
fn random_actions(
    cfg: &ModelConfig,
    batch: usize,
    frames: usize,
    rng: &mut ChaCha8Rng,
) -> anyhow::Result<Tensor> {
    let a = cfg.action.width();
    let v: Vec<f32> = (0..batch * frames * a)
        .map(|_| match cfg.action {
            ActionKind::Continuous { .. } => rng.random_range(-1.0f32..1.0),
            ActionKind::Discrete { n } => rng.random_range(0..n) as f32,
        })
        .collect();
    Ok(Tensor::from_vec(v, (batch, frames, a), &Device::Cpu)?)
}

/// Median milliseconds of one f32 `[1024, 1024] x [1024, 1024]` candle matmul on the CPU.
pub fn matmul_ms(repeats: usize) -> anyhow::Result<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let a = uniform(&[MATMUL_SIZE, MATMUL_SIZE], &mut rng)?;
    let b = uniform(&[MATMUL_SIZE, MATMUL_SIZE], &mut rng)?;
    median_ms(3, repeats.max(5), || {
        a.matmul(&b)?;
        Ok(())
    })
}

/// A trainer on synthetic moving-square episodes at the config's frame size,
/// with the training defaults and `batch` windows per step.
pub fn synthetic_trainer(cfg: &ModelConfig, batch: usize) -> anyhow::Result<Trainer> {
    if cfg.codec != CodecKind::Pixel {
        bail!(
            "the bench trains on synthetic frames through the pixel codec; \
             codec {:?} needs trained codec weights (use a config with the pixel codec)",
            cfg.codec
        );
    }
    let [fh, fw] = cfg.frame_size;
    if fh != fw || fh < 8 {
        bail!("the bench's synthetic frames are square of side >= 8, frame_size is {fh}x{fw}");
    }
    let dev = Device::Cpu;
    let codec = PixelCodec::new((fh, fw), (cfg.model_size[0], cfg.model_size[1]))
        .context("building the pixel codec for the bench config")?;
    let steps = 3 * cfg.window();
    let mut episodes: Vec<Episode> = moving_square_episodes(8, steps, fh, (fh / 8).max(2), 7);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for ep in &mut episodes {
        // the squares ignore actions: give them the config's action space
        ep.actions = random_actions(cfg, 1, steps, &mut rng)?
            .flatten_all()?
            .to_vec1()?;
    }
    let train = WindowSource::from_episodes(&episodes, &codec, cfg, false, &dev)?;
    let background = background_latent(&codec, SQUARE_BACKGROUND, &dev)?;
    let tc = TrainConfig {
        batch,
        val_windows: 0,
        ..TrainConfig::default()
    };
    Ok(Trainer::new(cfg, tc, train, None, background)?)
}

/// Median milliseconds of `DiT::forward` over a whole `W + 1` window at `batch`,
/// on a forward-only copy of the trainer's model (as dreams run it).
pub fn forward_ms(trainer: &Trainer, batch: usize, repeats: usize) -> anyhow::Result<f64> {
    let model = &trainer.model().inference_copy()?;
    let cfg = model.config();
    let (c, h, w) = cfg.latent_shape();
    let f = cfg.window();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let x = uniform(&[batch, f, c, h, w], &mut rng)?;
    let s_values: Vec<f32> = (0..batch * f).map(|_| rng.random::<f32>()).collect();
    let s = Tensor::from_vec(s_values, (batch, f), &Device::Cpu)?;
    let actions = random_actions(cfg, batch, f, &mut rng)?;
    median_ms(1, repeats, || {
        model.forward(&x, &s, &actions, None, false)?;
        Ok(())
    })
}

/// Median milliseconds of one `sampler::dream_step` (the config's K Euler
/// steps, cached context) at `batch`, on a forward-only copy of the model.
pub fn dream_step_ms(trainer: &Trainer, batch: usize, repeats: usize) -> anyhow::Result<f64> {
    let model = &trainer.model().inference_copy()?;
    let cfg = model.config();
    let (c, h, w) = cfg.latent_shape();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let context = uniform(&[batch, cfg.context_frames, c, h, w], &mut rng)?;
    let actions = random_actions(cfg, batch, cfg.window(), &mut rng)?;
    let opts = SampleOptions {
        steps: cfg.sampling_steps.max(1),
        ..SampleOptions::default()
    };
    median_ms(1, repeats, || {
        dream_step(model, &context, &actions, &mut rng, &opts)?;
        Ok(())
    })
}

/// Median milliseconds of one imagined step of `batch` dreams: a
/// `sampler::Dreamer` step (the config's K Euler steps, frames decoded to u8)
/// with the context kept by `cache`, after one warm-up step that starts it.
pub fn imagine_step_ms(
    trainer: &Trainer,
    batch: usize,
    cache: ContextCache,
    repeats: usize,
) -> anyhow::Result<f64> {
    let model = trainer.model();
    let cfg = model.config().clone();
    let [fh, fw] = cfg.frame_size;
    let codec = PixelCodec::new((fh, fw), (cfg.model_size[0], cfg.model_size[1]))?;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let latents = uniform(
        &[
            batch,
            cfg.context_frames,
            cfg.latent_shape().0,
            cfg.latent_shape().1,
            cfg.latent_shape().2,
        ],
        &mut rng,
    )?;
    let frames = codec.decode(&latents)?;
    let past = random_actions(&cfg, batch, cfg.context_frames - 1, &mut rng)?;
    let opts = SampleOptions {
        steps: cfg.sampling_steps.max(1),
        context_cache: cache,
        ..SampleOptions::default()
    };
    let model = std::sync::Arc::new(model.inference_copy()?);
    let mut dreamer = Dreamer::new(
        model,
        std::sync::Arc::new(codec),
        &frames,
        &past,
        ChaCha8Rng::seed_from_u64(5),
        opts,
    )?;
    median_ms(1, repeats, || {
        let a = random_actions(&cfg, batch, 1, &mut rng)?.squeeze(1)?;
        dreamer.step(&a)?;
        Ok(())
    })
}

/// Median milliseconds of one `Trainer::train_step`.
pub fn train_step_ms(trainer: &mut Trainer, repeats: usize) -> anyhow::Result<f64> {
    median_ms(1, repeats, || {
        let stats = trainer.train_step(1e-4)?;
        if !stats.loss.is_finite() {
            bail!("training loss is {} at step {}", stats.loss, stats.step);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_middle_run_and_errors_propagate() {
        let mut calls = 0;
        let ms = median_ms(2, 3, || {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(calls, 5);
        assert!(ms >= 0.0);
        assert!(median_ms(0, 1, || bail!("boom")).is_err());
    }

    #[test]
    fn synthetic_trainer_steps_on_the_tiny_preset() {
        let cfg = ModelConfig::tiny();
        let mut t = synthetic_trainer(&cfg, 2).unwrap();
        assert!(train_step_ms(&mut t, 1).unwrap() > 0.0);
        assert!(forward_ms(&t, 1, 1).unwrap() > 0.0);
        assert!(dream_step_ms(&t, 2, 1).unwrap() > 0.0);
        for cache in [ContextCache::Window, ContextCache::Rolling] {
            assert!(imagine_step_ms(&t, 2, cache, 2).unwrap() > 0.0);
        }
    }

    #[test]
    fn a_learned_codec_config_is_a_clear_error() {
        let cfg = ModelConfig {
            codec: CodecKind::Autoencoder { channels: 4 },
            ..ModelConfig::tiny()
        };
        let e = synthetic_trainer(&cfg, 2).err().unwrap().to_string();
        assert!(e.contains("pixel codec"), "{e}");
    }
}
