//! The training objective: rectified flow with independent per-frame noise
//! levels (diffusion forcing), foreground-weighted loss on the predicted frame,
//! and the reward / termination heads.
//!
//! `x_s = (1 - s) x0 + s eps`, `s = 1` is pure noise. The target frame's level is
//! drawn from `ModelConfig::target_noise`; context frames get augmentation noise
//! `s ~ U(0, context_noise_max)`, which the model is told through its embedding.

use candle_core::{Device, Tensor, D};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::aux_state::state_loss;
use crate::config::{ForegroundFrom, ModelConfig, NoiseDistribution, PredictionTarget};
use crate::dit::DiT;
use crate::model_error::{shape_error, ModelResult};

/// A batch of training windows.
pub struct Batch {
    /// `[B, W+1, C, h, w]` clean latents; the last frame is the target.
    pub latents: Tensor,
    /// `[B, W+1, A]`: the action taken just before each frame (position 0 unused).
    pub actions: Tensor,
    /// `[B]`: reward of the transition into the target frame.
    pub reward: Tensor,
    /// `[B]`: 1 where the episode terminated on reaching the target frame.
    pub terminated: Tensor,
    /// `[B, W+1, S]`: the simulator's state at each frame, when the data holds
    /// one (the auxiliary state head's labels).
    pub states: Option<Tensor>,
}

/// The noise of one batch: levels `[B, W+1]` and Gaussian noise `[B, W+1, C, h, w]`.
pub struct NoiseDraw {
    pub levels: Tensor,
    pub eps: Tensor,
}

/// One draw of the target frame's noise level.
pub fn sample_target_level(dist: NoiseDistribution, rng: &mut ChaCha8Rng) -> f64 {
    match dist {
        NoiseDistribution::HighBiased => {
            let u: f64 = rng.random();
            1.0 - (1.0 - u) * (1.0 - u)
        }
        NoiseDistribution::Uniform => rng.random(),
        NoiseDistribution::LogitNormal { mean, std } => {
            let n: f64 = StandardNormal.sample(rng);
            1.0 / (1.0 + (-(mean + std * n)).exp())
        }
    }
}

/// Draws the noise for `batch` windows from `rng` (the same rng state gives the same draw).
pub fn draw_noise(
    cfg: &ModelConfig,
    batch: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> ModelResult<NoiseDraw> {
    let f = cfg.window();
    let (c, h, w) = cfg.latent_shape();
    let mut levels = Vec::with_capacity(batch * f);
    for _ in 0..batch {
        for _ in 0..cfg.context_frames {
            levels.push((rng.random::<f64>() * cfg.context_noise_max) as f32);
        }
        levels.push(sample_target_level(cfg.target_noise, rng) as f32);
    }
    let n = batch * f * c * h * w;
    let eps: Vec<f32> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
    Ok(NoiseDraw {
        levels: Tensor::from_vec(levels, (batch, f), device)?,
        eps: Tensor::from_vec(eps, (batch, f, c, h, w), device)?,
    })
}

/// `x_s = (1 - s) x0 + s eps` per frame. `x0`, `eps`: `[B, F, C, h, w]`, `s`: `[B, F]`.
pub fn noised(x0: &Tensor, eps: &Tensor, s: &Tensor) -> ModelResult<Tensor> {
    let s = s.unsqueeze(2)?.unsqueeze(3)?.unsqueeze(4)?;
    Ok((x0.broadcast_mul(&(1.0 - &s)?)? + eps.broadcast_mul(&s)?)?)
}

/// The network output for the frame at noise `s` turned into an estimate of the
/// clean frame. `out`, `x_s`: `[B, C, h, w]`, `s`: `[B]`, `last_context`: the
/// (noised) context frame before it `[B, C, h, w]`, used when predicting a delta.
pub fn clean_estimate(
    cfg: &ModelConfig,
    out: &Tensor,
    x_s: &Tensor,
    s: &Tensor,
    last_context: &Tensor,
) -> ModelResult<Tensor> {
    Ok(match cfg.target {
        PredictionTarget::X0 if cfg.predict_delta => (out + last_context)?,
        PredictionTarget::X0 => out.clone(),
        PredictionTarget::Velocity => {
            let s = s.unsqueeze(1)?.unsqueeze(2)?.unsqueeze(3)?;
            (x_s - out.broadcast_mul(&s)?)?
        }
    })
}

/// Per-pixel loss weights `[B, 1, h, w]`: `foreground_weight` where a frame
/// (chosen by `foreground_from`) is off the `background` latent `[C, h, w]` by
/// more than `foreground_threshold` in some channel, 1 elsewhere. `estimate`
/// `[B, C, h, w]` is the model's clean-frame estimate, used (detached) by
/// [`ForegroundFrom::Predicted`].
pub fn foreground_weights(
    cfg: &ModelConfig,
    target: &Tensor,
    last_context: &Tensor,
    estimate: Option<&Tensor>,
    background: &Tensor,
) -> ModelResult<Tensor> {
    let mask = |x: &Tensor| -> ModelResult<Tensor> {
        let off = x.broadcast_sub(background)?.abs()?.max_keepdim(1)?;
        Ok(off
            .gt(cfg.foreground_threshold)?
            .to_dtype(candle_core::DType::F32)?)
    };
    let fg = match cfg.foreground_from {
        ForegroundFrom::Target => mask(target)?,
        ForegroundFrom::Context => mask(last_context)?,
        ForegroundFrom::Both => mask(target)?.maximum(&mask(last_context)?)?,
        ForegroundFrom::Predicted => {
            let both = mask(target)?.maximum(&mask(last_context)?)?;
            match estimate {
                Some(e) => both.maximum(&mask(&e.detach())?)?,
                None => both,
            }
        }
    };
    Ok(fg.affine(cfg.foreground_weight - 1.0, 1.0)?)
}

/// The loss and its parts (scalars).
pub struct LossParts {
    pub total: Tensor,
    pub frame: Tensor,
    pub reward: Tensor,
    pub terminated: Tensor,
    /// The auxiliary state loss (unweighted; 0 without a head or labels).
    pub state: Tensor,
}

/// `log(1 + e^z)`, stable for large `|z|`, differentiable.
fn softplus(z: &Tensor) -> ModelResult<Tensor> {
    Ok((z.relu()? + (z.abs()?.neg()?.exp()? + 1.0)?.log()?)?)
}

/// The training loss of `model` on `batch` with `noise`; `background` `[C, h, w]`.
pub fn loss(
    model: &DiT,
    batch: &Batch,
    noise: &NoiseDraw,
    background: &Tensor,
) -> ModelResult<LossParts> {
    let cfg = model.config();
    let w = cfg.context_frames;
    let x0 = &batch.latents;
    let (b, f) = (x0.dim(0)?, x0.dim(1)?);
    if f != cfg.window() || noise.eps.dims() != x0.dims() || noise.levels.dims() != [b, f] {
        return Err(shape_error("training window", [b, cfg.window()], x0.dims()));
    }
    let xs = noised(x0, &noise.eps, &noise.levels)?;
    let aux = cfg.aux_state.as_ref().zip(batch.states.as_ref());
    let out = match aux {
        Some(_) => model.forward_with_state(&xs, &noise.levels, &batch.actions)?,
        None => model.forward(&xs, &noise.levels, &batch.actions, None, false)?,
    };
    let pred = out.prediction.narrow(1, w, 1)?.squeeze(1)?;
    let target = x0.narrow(1, w, 1)?.squeeze(1)?;
    let x_s = xs.narrow(1, w, 1)?.squeeze(1)?;
    let s = noise.levels.narrow(1, w, 1)?.squeeze(1)?;
    let last_ctx = xs.narrow(1, w - 1, 1)?.squeeze(1)?;
    let clean_last = x0.narrow(1, w - 1, 1)?.squeeze(1)?;
    let estimate = clean_estimate(cfg, &pred, &x_s, &s, &last_ctx)?;
    let weights = foreground_weights(cfg, &target, &clean_last, Some(&estimate), background)?;
    let err = match cfg.target {
        PredictionTarget::X0 => (estimate - &target)?,
        PredictionTarget::Velocity => {
            let eps = noise.eps.narrow(1, w, 1)?.squeeze(1)?;
            (pred - (eps - &target)?)?
        }
    };
    let frame = err.sqr()?.broadcast_mul(&weights)?.mean_all()?;
    let reward_hat = out.reward.narrow(1, w, 1)?.squeeze(1)?;
    let reward = (reward_hat - &batch.reward)?.sqr()?.mean_all()?;
    let z = out.terminated_logit.narrow(1, w, 1)?.squeeze(1)?;
    let terminated = (softplus(&z)? - (&batch.terminated * &z)?)?.mean(D::Minus1)?;
    let mut total = (&frame + ((&reward + &terminated)? * cfg.reward_loss_weight)?)?;
    // the head's labels: the last context frame's state and the target frame's
    let state = match (aux, &out.state) {
        (Some((a, states)), Some(pred)) => {
            let l = state_loss(&pred.narrow(1, w - 1, 2)?, &states.narrow(1, w - 1, 2)?, a)?;
            total = (total + (&l * a.weight)?)?;
            l
        }
        _ => Tensor::zeros((), candle_core::DType::F32, x0.device())?,
    };
    Ok(LossParts {
        total,
        frame,
        reward,
        terminated,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn high_biased_levels_put_most_mass_above_half() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let n = 20_000;
        let above = (0..n)
            .filter(|_| sample_target_level(NoiseDistribution::HighBiased, &mut rng) > 0.5)
            .count();
        let share = above as f64 / n as f64;
        assert!((share - 0.707).abs() < 0.02, "{share}");
    }

    #[test]
    fn noise_draw_is_seeded_and_context_levels_are_bounded() {
        let cfg = ModelConfig::tiny();
        let a = draw_noise(&cfg, 3, &mut ChaCha8Rng::seed_from_u64(5), &Device::Cpu).unwrap();
        let b = draw_noise(&cfg, 3, &mut ChaCha8Rng::seed_from_u64(5), &Device::Cpu).unwrap();
        let la: Vec<Vec<f32>> = a.levels.to_vec2().unwrap();
        assert_eq!(la, b.levels.to_vec2::<f32>().unwrap());
        for row in &la {
            assert!(row[..cfg.context_frames]
                .iter()
                .all(|&s| (0.0..=0.1).contains(&s)));
        }
    }

    #[test]
    fn foreground_weights_mark_both_frames() {
        let cfg = ModelConfig::tiny();
        let dev = Device::Cpu;
        let bg = Tensor::full(-0.5f32, (3, 2, 2), &dev).unwrap();
        let mut t = vec![-0.5f32; 12];
        t[0] = 0.9; // channel 0, pixel (0,0) in the target
        let mut c = vec![-0.5f32; 12];
        c[4 + 3] = 0.9; // channel 1, pixel (1,1) in the context
        let target = Tensor::from_vec(t, (1, 3, 2, 2), &dev).unwrap();
        let ctx = Tensor::from_vec(c, (1, 3, 2, 2), &dev).unwrap();
        let mut e = vec![-0.5f32; 12];
        e[8 + 1] = 0.9; // channel 2, pixel (0,1) in the model's estimate: a ghost
        let estimate = Tensor::from_vec(e, (1, 3, 2, 2), &dev).unwrap();
        let w = foreground_weights(&cfg, &target, &ctx, Some(&estimate), &bg).unwrap();
        let w: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(w, vec![10.0, 1.0, 1.0, 10.0], "Both ignores the estimate");
        let cfg = ModelConfig {
            foreground_from: ForegroundFrom::Predicted,
            ..cfg
        };
        let w = foreground_weights(&cfg, &target, &ctx, Some(&estimate), &bg).unwrap();
        let w: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(
            w,
            vec![10.0, 10.0, 1.0, 10.0],
            "the ghost costs as much as a miss"
        );
    }
}
