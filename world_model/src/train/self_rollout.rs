//! Training on the model's own rollouts, the remedy DIAMOND's CS:GO model uses
//! against drift: the context of some training windows ends in frames the model
//! dreamed itself, so it learns to predict the true next frame from the kind of
//! context it will see when it dreams, slightly off and slightly blurred.
//!
//! A trainer with `self_rollout_steps = n > 0` draws windows of `W + 1 + n`
//! true frames. A dreamed window starts from the first `W` true frames, dreams
//! `n` steps with the windows' own actions (no gradient), and trains on the last
//! `W` frames of that context (its last `min(n, W)` dreamed) followed by the
//! true frame `W + n`. An ordinary window is the last `W + 1` true frames.

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;

use crate::config::ModelConfig;
use crate::dit::DiT;
use crate::model_error::{ModelError, ModelResult};
use crate::objective::Batch;
use crate::sampler::{dream_step, SampleOptions};
use crate::train::TrainConfig;

/// Dreamed steps of a dreamed batch at training step `step`: all
/// `self_rollout_steps`, or under a curriculum (`self_rollout_ramp > 0`) from 1
/// at `self_rollout_start` growing linearly to all of them `ramp` steps later.
pub fn steps_at(cfg: &TrainConfig, step: u64) -> usize {
    let n = cfg.self_rollout_steps;
    if cfg.self_rollout_ramp == 0 || n <= 1 {
        return n;
    }
    let done = step.saturating_sub(cfg.self_rollout_start) as f64 / cfg.self_rollout_ramp as f64;
    1 + ((n - 1) as f64 * done.min(1.0)).floor() as usize
}

/// The last `frames` frames of each window of `full` (latents `[B, T, C, h, w]`,
/// actions `[B, T, A]`); reward and termination are those of the last step.
pub fn tail_window(full: &Batch, frames: usize) -> ModelResult<Batch> {
    let t = full.latents.dim(1)?;
    if frames > t {
        return Err(ModelError::InvalidConfig(format!(
            "a window of {frames} frames cut from one of {t}"
        )));
    }
    Ok(Batch {
        latents: full.latents.narrow(1, t - frames, frames)?,
        actions: full.actions.narrow(1, t - frames, frames)?,
        reward: full.reward.clone(),
        terminated: full.terminated.clone(),
        states: match &full.states {
            Some(s) => Some(s.narrow(1, t - frames, frames)?),
            None => None,
        },
    })
}

/// A training window whose context ends in `n` frames dreamed by `model` from
/// the first `W` true frames of `full` (`[B, W + 1 + n, ...]`), with
/// `sampling_steps` Euler steps each; the target stays the true last frame.
/// Returns `[B, W + 1, ...]` latents and actions, all without gradient.
pub fn dreamed_window(
    model: &DiT,
    full: &Batch,
    n: usize,
    sampling_steps: usize,
    rng: &mut ChaCha8Rng,
) -> ModelResult<Batch> {
    let cfg: &ModelConfig = model.config();
    let w = cfg.context_frames;
    let t = full.latents.dim(1)?;
    if t != w + 1 + n {
        return Err(ModelError::InvalidConfig(format!(
            "self-rollout of {n} steps needs windows of {} frames, got {t}",
            w + 1 + n
        )));
    }
    let opts = SampleOptions {
        steps: sampling_steps.max(1),
        context_noise: 0.0,
        ..SampleOptions::default()
    };
    let mut context = full.latents.narrow(1, 0, w)?.detach();
    for j in 0..n {
        // window frames j..j+W: the action before each, the last makes frame j+W
        let actions = full.actions.narrow(1, j, w + 1)?;
        let next = dream_step(model, &context, &actions, rng, &opts)?.next;
        context = Tensor::cat(&[&context.narrow(1, 1, w - 1)?, &next.unsqueeze(1)?], 1)?.detach();
    }
    let target = full.latents.narrow(1, t - 1, 1)?;
    Ok(Batch {
        latents: Tensor::cat(&[&context, &target], 1)?,
        actions: full.actions.narrow(1, n, w + 1)?,
        reward: full.reward.clone(),
        terminated: full.terminated.clone(),
        // the true states at the frames' times, dreamed frames included
        states: match &full.states {
            Some(s) => Some(s.narrow(1, n, w + 1)?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use rand::SeedableRng;

    fn full_batch(cfg: &ModelConfig, n: usize) -> Batch {
        let (c, h, w) = cfg.latent_shape();
        let t = cfg.window() + n;
        let dev = Device::Cpu;
        let steps: Vec<f32> = (0..2 * t * c * h * w)
            .map(|i| (i / (c * h * w)) as f32)
            .collect();
        Batch {
            latents: Tensor::from_vec(steps, (2, t, c, h, w), &dev).unwrap(),
            actions: Tensor::arange(0f32, (2 * t * 2) as f32, &dev)
                .unwrap()
                .reshape((2, t, 2))
                .unwrap(),
            reward: Tensor::zeros(2, DType::F32, &dev).unwrap(),
            terminated: Tensor::zeros(2, DType::F32, &dev).unwrap(),
            states: None,
        }
    }

    #[test]
    fn the_curriculum_grows_from_one_step_to_all() {
        let cfg = TrainConfig {
            self_rollout_steps: 5,
            self_rollout_start: 100,
            self_rollout_ramp: 400,
            ..TrainConfig::default()
        };
        let at = |s| steps_at(&cfg, s);
        assert_eq!([at(0), at(100), at(199), at(200)], [1, 1, 1, 2]);
        assert_eq!([at(400), at(499), at(500), at(9999)], [4, 4, 5, 5]);
        let flat = TrainConfig {
            self_rollout_ramp: 0,
            ..cfg
        };
        assert_eq!(steps_at(&flat, 0), 5);
    }

    #[test]
    fn tail_window_keeps_the_last_frames_and_their_actions() {
        let cfg = ModelConfig::tiny();
        let full = full_batch(&cfg, 2);
        let tail = tail_window(&full, cfg.window()).unwrap();
        assert_eq!(tail.latents.dims()[1], cfg.window());
        let first: f32 = tail
            .latents
            .get(0)
            .unwrap()
            .get(0)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()[0];
        assert_eq!(first, 2.0, "the window starts at frame n = 2");
        assert!(tail_window(&full, 99).is_err());
    }

    #[test]
    fn dreamed_window_replaces_the_last_context_frames_and_keeps_the_target() {
        let cfg = ModelConfig::tiny();
        let model = DiT::new(&cfg, 0, &Device::Cpu).unwrap();
        let n = 1;
        let full = full_batch(&cfg, n);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let out = dreamed_window(&model, &full, n, 2, &mut rng).unwrap();
        let w = cfg.context_frames;
        assert_eq!(out.latents.dims()[1], w + 1);
        let frame = |b: &Batch, i: usize| -> Vec<f32> {
            b.latents
                .get(0)
                .unwrap()
                .get(i)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        // true frames 1..W-1 shift to the front, the dreamed one is new, the target is frame W+n
        assert_eq!(frame(&out, 0)[0], 1.0);
        assert!(frame(&out, w - 1).iter().any(|&v| v != w as f32));
        assert!(frame(&out, w).iter().all(|&v| v == (w + n) as f32));
        let acts: Vec<Vec<f32>> = out.actions.get(0).unwrap().to_vec2().unwrap();
        assert_eq!(
            acts[0][0],
            (2 * n) as f32,
            "actions shift by n like the frames"
        );
        // the same seed dreams the same frames
        let again = dreamed_window(&model, &full, n, 2, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        assert_eq!(frame(&out, w - 1), frame(&again, w - 1));
        assert!(dreamed_window(&model, &full, 2, 2, &mut rng).is_err());
    }
}
