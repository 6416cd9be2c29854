//! The training loop's core: AdamW with warm-up + cosine, gradient clipping, an
//! EMA of the weights, a fixed held-out validation set, and exact resumption.
//!
//! Step `n`'s batch and noise are drawn from a ChaCha8 generator seeded with the
//! run's seed on stream `n`, so a run resumed from a checkpoint at step `n`
//! continues with exactly the batches an uninterrupted run would have seen.
//! The command line (`somnium train`) adds time budgets, progress, metrics and plots.

pub mod checkpointing;
pub mod evaluate;
pub mod self_rollout;
pub mod synthetic;
pub mod windows;

#[cfg(test)]
mod aux_tests;
#[cfg(test)]
mod tests;

use candle_core::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::ModelConfig;
use crate::dit::DiT;
use crate::model_error::{ModelError, ModelResult};
use crate::objective::{draw_noise, loss, Batch, NoiseDraw};
use crate::optim::{lr_at, AdamW, AdamWParams, Ema, LrSchedule};
pub use windows::{background_latent, guess_background, median_background, WindowSource};

/// Optimisation settings of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    pub batch: usize,
    pub lr: f64,
    /// Floor of the cosine decay.
    pub min_lr: f64,
    pub warmup: u64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Largest EMA decay (reached after warm-up of the average).
    pub ema_decay: f64,
    pub seed: u64,
    /// Held-out windows the validation loss is measured on.
    pub val_windows: usize,
    /// Dream this many steps before the target frame in some windows (0: never);
    /// see [`self_rollout`].
    pub self_rollout_steps: usize,
    /// Share of batches whose context ends in dreamed frames.
    pub self_rollout_prob: f64,
    /// First step at which batches may be dreamed (the model must see first).
    pub self_rollout_start: u64,
    /// Euler steps of those dreams.
    pub self_rollout_sampling_steps: usize,
    /// A horizon curriculum: over this many steps from `self_rollout_start`,
    /// the dreamed steps grow from 1 to `self_rollout_steps` (0: all of them
    /// from the start).
    pub self_rollout_ramp: u64,
    /// The checkpoint this run was warm-started from (`train --init-from`), if any;
    /// kept for provenance.
    pub init_from: Option<String>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch: 32,
            lr: 1e-3,
            min_lr: 0.0,
            warmup: 200,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            grad_clip: 1.0,
            ema_decay: 0.999,
            seed: 0,
            val_windows: 256,
            self_rollout_steps: 0,
            self_rollout_prob: 0.5,
            self_rollout_start: 0,
            self_rollout_sampling_steps: 2,
            self_rollout_ramp: 0,
            init_from: None,
        }
    }
}

/// What one optimizer step measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// The step just taken (1 for the first).
    pub step: u64,
    pub lr: f64,
    pub loss: f32,
    pub frame_loss: f32,
    pub reward_loss: f32,
    pub terminated_loss: f32,
    /// The auxiliary state loss (0 without a state head).
    #[serde(default)]
    pub state_loss: f32,
    /// Gradient norm before clipping; a non-finite norm skips the update.
    pub grad_norm: f32,
    /// The batch's context ended in frames the model dreamed.
    #[serde(default)]
    pub self_rollout: bool,
}

/// A model with its optimizer, EMA and data.
pub struct Trainer {
    model: DiT,
    cfg: TrainConfig,
    opt: AdamW,
    ema: Ema,
    background: Tensor,
    train: WindowSource,
    val: Vec<(Batch, NoiseDraw)>,
    step: u64,
    /// Saved with every checkpoint (see [`Trainer::set_provenance`]).
    provenance: Option<crate::checkpoint::Provenance>,
}

/// The generator of step `step` of a run seeded `seed`.
pub fn step_rng(seed: u64, step: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(step);
    rng
}

impl Trainer {
    /// A fresh run: weights from `cfg.seed`; `background` is the background latent
    /// `[C, h, w]`; `val` (held-out episodes) fixes `val_windows` windows and their noise.
    pub fn new(
        model_cfg: &ModelConfig,
        cfg: TrainConfig,
        train: WindowSource,
        val: Option<&WindowSource>,
        background: Tensor,
    ) -> ModelResult<Self> {
        if cfg.batch == 0 {
            return Err(ModelError::InvalidConfig("batch must be positive".into()));
        }
        if train.windows() == 0 {
            return Err(ModelError::InvalidData(format!(
                "no training episode holds a window of {} frames",
                model_cfg.window()
            )));
        }
        if !(0.0..=1.0).contains(&cfg.self_rollout_prob) {
            return Err(ModelError::InvalidConfig(format!(
                "self_rollout_prob {} is not a probability",
                cfg.self_rollout_prob
            )));
        }
        let train = match cfg.self_rollout_steps {
            0 => train,
            n => train.with_window(model_cfg.window() + n)?,
        };
        let device = background.device().clone();
        let model = DiT::new(model_cfg, cfg.seed, &device)?;
        let params = AdamWParams {
            lr: cfg.lr,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: 1e-8,
            weight_decay: cfg.weight_decay,
        };
        let mut opt = AdamW::new(model.params().vars(), params)?;
        opt.set_decay(|name| name.ends_with(".weight"));
        let ema = Ema::new(model.params().vars(), cfg.ema_decay)?;
        let mut val_batches = Vec::new();
        if let Some(val) = val.filter(|v| v.windows() > 0) {
            let mut rng = step_rng(cfg.seed ^ 0x5eed_0f_7a1, u64::MAX);
            let mut left = cfg.val_windows;
            while left > 0 {
                let b = left.min(cfg.batch);
                let batch = val.sample(b, &mut rng)?;
                let noise = draw_noise(model_cfg, b, &mut rng, &device)?;
                val_batches.push((batch, noise));
                left -= b;
            }
        }
        Ok(Self {
            model,
            cfg,
            opt,
            ema,
            background,
            train,
            val: val_batches,
            step: 0,
            provenance: None,
        })
    }

    /// Records where this run's data and command come from; every checkpoint
    /// it saves carries it. Set it before [`Trainer::warm_start`] so a
    /// fine-tune also records its parent's provenance; a resumed run without
    /// one takes the checkpoint's.
    pub fn set_provenance(&mut self, provenance: crate::checkpoint::Provenance) {
        self.provenance = Some(provenance);
    }

    /// Where this run's data and command come from, when known.
    pub fn provenance(&self) -> Option<&crate::checkpoint::Provenance> {
        self.provenance.as_ref()
    }

    pub fn model(&self) -> &DiT {
        &self.model
    }

    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// Steps taken so far.
    pub fn step(&self) -> u64 {
        self.step
    }

    pub fn train_windows(&self) -> &WindowSource {
        &self.train
    }

    /// The learning rate at the current step when the run lasts `total` steps.
    pub fn lr_for_steps(&self, total: u64) -> f64 {
        lr_at(
            self.step,
            LrSchedule {
                base: self.cfg.lr,
                warmup: self.cfg.warmup,
                total,
                min: self.cfg.min_lr,
            },
        )
    }

    /// The learning rate at the current step when `progress` (0..1) of a time
    /// budget has passed: warm-up by steps, cosine over the budget.
    pub fn lr_for_progress(&self, progress: f64) -> f64 {
        let warm = ((self.step + 1) as f64 / self.cfg.warmup.max(1) as f64).min(1.0);
        let cos = 0.5 * (1.0 + (std::f64::consts::PI * progress.clamp(0.0, 1.0)).cos());
        self.cfg.min_lr + (self.cfg.lr * warm - self.cfg.min_lr).max(0.0) * cos
    }

    /// One optimizer step at learning rate `lr` on batch `self.step()` of the run.
    pub fn train_step(&mut self, lr: f64) -> ModelResult<StepStats> {
        // on candle's CPU pool, so element-wise ops skip a thread hand-off each
        let device = self.background.device().clone();
        device.with_context(|| self.train_step_in_pool(lr))
    }

    fn train_step_in_pool(&mut self, lr: f64) -> ModelResult<StepStats> {
        let cfg = self.model.config().clone();
        let mut rng = step_rng(self.cfg.seed, self.step);
        let mut batch = self.train.sample(self.cfg.batch, &mut rng)?;
        let mut dreamed = false;
        let n = self.cfg.self_rollout_steps;
        if n > 0 {
            dreamed = self.step >= self.cfg.self_rollout_start
                && rng.random::<f64>() < self.cfg.self_rollout_prob;
            batch = if dreamed {
                let steps = self.cfg.self_rollout_sampling_steps;
                let k = self_rollout::steps_at(&self.cfg, self.step);
                let full = self_rollout::tail_window(&batch, cfg.window() + k)?;
                self_rollout::dreamed_window(&self.model, &full, k, steps, &mut rng)?
            } else {
                self_rollout::tail_window(&batch, cfg.window())?
            };
        }
        let noise = draw_noise(&cfg, self.cfg.batch, &mut rng, self.background.device())?;
        let parts = loss(&self.model, &batch, &noise, &self.background)?;
        let mut grads = parts.total.backward()?;
        let grad_norm = self.opt.clip_grad_norm(&mut grads, self.cfg.grad_clip)?;
        if grad_norm.is_finite() {
            self.opt.step(&grads, lr)?;
            self.ema.update(self.step)?;
        }
        self.step += 1;
        let scalar = |t: &Tensor| -> ModelResult<f32> { Ok(t.to_scalar::<f32>()?) };
        Ok(StepStats {
            step: self.step,
            lr,
            loss: scalar(&parts.total)?,
            frame_loss: scalar(&parts.frame)?,
            reward_loss: scalar(&parts.reward)?,
            terminated_loss: scalar(&parts.terminated)?,
            state_loss: scalar(&parts.state)?,
            grad_norm,
            self_rollout: dreamed,
        })
    }

    /// Mean frame loss on the fixed held-out windows (with the live weights);
    /// `None` without held-out data.
    pub fn validation_loss(&self) -> ModelResult<Option<f32>> {
        if self.val.is_empty() {
            return Ok(None);
        }
        let (mut sum, mut n) = (0f64, 0usize);
        for (batch, noise) in &self.val {
            let b = batch.latents.dim(0)?;
            let parts = loss(&self.model, batch, noise, &self.background)?;
            sum += parts.frame.to_scalar::<f32>()? as f64 * b as f64;
            n += b;
        }
        Ok(Some((sum / n as f64) as f32))
    }

    /// Runs `f` with the EMA weights in the model, then puts the live weights back.
    pub fn with_ema<T>(&mut self, f: impl FnOnce(&DiT) -> T) -> ModelResult<T> {
        self.ema.swap()?;
        let out = f(&self.model);
        self.ema.swap()?;
        Ok(out)
    }
}
