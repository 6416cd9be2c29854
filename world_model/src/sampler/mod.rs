//! Dreaming: the next frame from the context frames and an action, by K Euler
//! steps of the rectified flow from pure noise, with the context's keys and
//! values computed once and cached; batched over environments.
//!
//! [`dream_step`] is one environment step on latents; [`rollout`] slides the
//! window over a sequence of actions; [`Dreamer`] holds the model, the codec and
//! each environment's context for a Gym-style `step(actions) -> frames`. With
//! [`ContextCache::Rolling`] the context's keys and values roll from step to
//! step instead (see [`rolling`]).

mod dreamer;
pub mod rolling;

pub use dreamer::{DreamFrames, Dreamer};

use candle_core::{DType, Tensor};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::config::{ActionKind, ContextCache};
use crate::dit::DiT;
use crate::model_error::{shape_error, ModelError, ModelResult};
use crate::objective::clean_estimate;

/// Sampling settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleOptions {
    /// Euler steps from `s = 1` to `s = 0` on a uniform grid.
    pub steps: usize,
    /// Noise level put on the context frames (and told to the model); 0 = clean.
    pub context_noise: f64,
    /// Run the context once and reuse its keys/values (false: recompute each pass).
    pub use_cache: bool,
    /// Whether the context's keys and values roll across steps ([`Dreamer`],
    /// [`rollout`] and the env crate's dreams honour it; [`dream_step`] is one
    /// window step either way).
    pub context_cache: ContextCache,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            steps: 4,
            context_noise: 0.0,
            use_cache: true,
            context_cache: ContextCache::Window,
        }
    }
}

impl SampleOptions {
    /// An error unless there is at least one Euler step and the context noise
    /// lies in `[0, 1)`.
    pub fn check(&self) -> ModelResult<()> {
        if self.steps == 0 || !(0.0..1.0).contains(&self.context_noise) {
            return Err(ModelError::InvalidConfig(format!(
                "sampling steps {} / context noise {}",
                self.steps, self.context_noise
            )));
        }
        Ok(())
    }

    /// The sampling settings a model's config records: its `sampling_steps` Euler
    /// steps and its `sampling_context_noise`, with the key/value cache.
    pub fn for_model(cfg: &crate::config::ModelConfig) -> Self {
        Self {
            steps: cfg.sampling_steps.max(1),
            context_noise: cfg.sampling_context_noise,
            use_cache: true,
            context_cache: cfg.sampling_cache,
        }
    }
}

/// One dreamed step for every environment of the batch.
#[derive(Debug)]
pub struct DreamStep {
    /// `[B, C, h, w]` the next latent frame.
    pub next: Tensor,
    /// `[B]` predicted reward of the transition.
    pub reward: Tensor,
    /// `[B]` predicted probability that the episode terminated.
    pub terminated_prob: Tensor,
}

fn gaussian(
    shape: &[usize],
    rng: &mut ChaCha8Rng,
    device: &candle_core::Device,
) -> ModelResult<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
    Ok(Tensor::from_vec(v, shape, device)?)
}

/// Checks actions are finite and inside the action space.
pub fn check_actions(kind: &ActionKind, actions: &Tensor) -> ModelResult<()> {
    let v: Vec<f32> = actions.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    if let Some(bad) = v.iter().find(|a| !a.is_finite()) {
        return Err(ModelError::InvalidAction(format!(
            "action value {bad} is not finite"
        )));
    }
    if let ActionKind::Discrete { n } = kind {
        if let Some(bad) = v
            .iter()
            .find(|&&a| a < 0.0 || a >= *n as f32 || a.fract() != 0.0)
        {
            return Err(ModelError::InvalidAction(format!(
                "discrete action {bad} is not an index below {n}"
            )));
        }
    }
    Ok(())
}

/// Dreams the frame after `context` `[B, W, C, h, w]` given `actions` `[B, W+1, A]`
/// (the action before each window frame; the last one produces the new frame,
/// position 0 is ignored). Draws the starting noise from `rng`.
pub fn dream_step(
    model: &DiT,
    context: &Tensor,
    actions: &Tensor,
    rng: &mut ChaCha8Rng,
    opts: &SampleOptions,
) -> ModelResult<DreamStep> {
    let cfg = model.config();
    let (c, h, w) = cfg.latent_shape();
    let b = context.dim(0)?;
    let noise = gaussian(&[b, cfg.context_frames + 1, c, h, w], rng, context.device())?;
    dream_step_with_noise(model, context, actions, &noise, opts)
}

/// [`dream_step`] with its Gaussian noise given: `noise` `[B, W+1, C, h, w]` (the
/// context's augmentation noise, then the new frame's starting noise). Lets a
/// caller give each environment of a batch its own noise stream, so a batched
/// dream samples what one environment alone would.
pub fn dream_step_with_noise(
    model: &DiT,
    context: &Tensor,
    actions: &Tensor,
    noise: &Tensor,
    opts: &SampleOptions,
) -> ModelResult<DreamStep> {
    // run the whole step on candle's CPU pool: the many small ops of a batch-1
    // step then skip the hand-off from this thread to the pool on every op
    context
        .device()
        .with_context(|| dream_step_in_pool(model, context, actions, noise, opts))
}

fn dream_step_in_pool(
    model: &DiT,
    context: &Tensor,
    actions: &Tensor,
    noise: &Tensor,
    opts: &SampleOptions,
) -> ModelResult<DreamStep> {
    let cfg = model.config();
    let (c, h, w) = cfg.latent_shape();
    let wn = cfg.context_frames;
    let b = context.dim(0)?;
    if noise.dims() != [b, wn + 1, c, h, w] {
        return Err(shape_error(
            "dream noise",
            [b, wn + 1, c, h, w],
            noise.dims(),
        ));
    }
    if context.dims() != [b, wn, c, h, w] {
        return Err(shape_error(
            "dream context",
            [b, wn, c, h, w],
            context.dims(),
        ));
    }
    if actions.dims() != [b, wn + 1, cfg.action.width()] {
        return Err(shape_error(
            "dream actions",
            [b, wn + 1, cfg.action.width()],
            actions.dims(),
        ));
    }
    check_actions(&cfg.action, &actions.narrow(1, 1, wn)?)?;
    opts.check()?;
    let dev = context.device();
    let cs = opts.context_noise;
    let ctx = noised(context, &noise.narrow(1, 0, wn)?, cs)?;
    let s_ctx = Tensor::full(cs as f32, (b, wn), dev)?;
    let last_ctx = ctx.narrow(1, wn - 1, 1)?.squeeze(1)?;
    let new_action = actions.narrow(1, wn, 1)?;
    let cache = if opts.use_cache {
        model
            .forward(&ctx, &s_ctx, &actions.narrow(1, 0, wn)?, None, true)?
            .cache
    } else {
        None
    };
    let mut x = noise.narrow(1, wn, 1)?.squeeze(1)?;
    let (mut reward, mut term) = (None, None);
    let k = opts.steps;
    for i in 0..k {
        let s = 1.0 - i as f64 / k as f64;
        let s_next = 1.0 - (i + 1) as f64 / k as f64;
        let sv = Tensor::full(s as f32, (b, 1), dev)?;
        let out = match &cache {
            Some(cache) => model.forward(&x.unsqueeze(1)?, &sv, &new_action, Some(cache), false)?,
            None => {
                let all = Tensor::cat(&[&ctx, &x.unsqueeze(1)?], 1)?;
                let levels = Tensor::cat(&[&s_ctx, &sv], 1)?;
                model.forward(&all, &levels, actions, None, false)?
            }
        };
        let last = out.prediction.dim(1)? - 1;
        let pred = out.prediction.narrow(1, last, 1)?.squeeze(1)?;
        let x0 = clean_estimate(cfg, &pred, &x, &sv.squeeze(1)?, &last_ctx)?;
        // detach: the weights are autograd variables, and a rollout would otherwise
        // keep every earlier step's graph alive (it ran out of memory at 24 GB)
        x = (&x0 + ((&x - &x0)? * (s_next / s))?)?.detach();
        reward = Some(out.reward.narrow(1, last, 1)?.squeeze(1)?);
        term = Some(candle_nn::ops::sigmoid(
            &out.terminated_logit.narrow(1, last, 1)?.squeeze(1)?,
        )?);
    }
    Ok(DreamStep {
        next: x,
        reward: reward.ok_or_else(|| ModelError::InvalidConfig("no sampling steps".into()))?,
        terminated_prob: term
            .ok_or_else(|| ModelError::InvalidConfig("no sampling steps".into()))?,
    })
}

/// `x * (1 - s) + noise * s` (the flow's interpolation at level `s`), or `x`
/// itself when `s == 0`.
fn noised(x: &Tensor, noise: &Tensor, s: f64) -> ModelResult<Tensor> {
    if s > 0.0 {
        Ok(((x * (1.0 - s))? + (noise * s)?)?)
    } else {
        Ok(x.clone())
    }
}

/// The window actions `[B, F+1, A]` for `F` frames' actions `recent`
/// `[B, F, A]`: zeros (the ignored position 0) first.
pub fn window_actions(recent: &Tensor) -> ModelResult<Tensor> {
    let (b, _, a) = recent.dims3()?;
    let zero = Tensor::zeros((b, 1, a), DType::F32, recent.device())?;
    Ok(Tensor::cat(&[&zero, recent], 1)?)
}

/// A batch of dreams in latents: the window of the latest frames and the
/// actions between them, and with [`ContextCache::Rolling`] the rolling keys
/// and values (made on the first step).
struct LatentDreams {
    /// `[B, W, C, h, w]` the latest frames.
    window: Tensor,
    /// `[B, W-1, A]` the actions between them.
    past_actions: Tensor,
    rolling: Option<rolling::RollingContext>,
}

impl LatentDreams {
    /// One step for every dream with `action` `[B, A]` (f32); noise from `rng`.
    fn step(
        &mut self,
        model: &DiT,
        action: &Tensor,
        rng: &mut ChaCha8Rng,
        opts: &SampleOptions,
    ) -> ModelResult<DreamStep> {
        let cfg = model.config();
        let (c, h, w) = cfg.latent_shape();
        let wn = cfg.context_frames;
        let b = self.window.dim(0)?;
        let recent = Tensor::cat(&[&self.past_actions, &action.unsqueeze(1)?], 1)?;
        let out = if opts.context_cache == ContextCache::Rolling {
            let ctx = match self.rolling.take() {
                Some(ctx) => ctx,
                None => {
                    let noise = gaussian(&[b, wn - 1, c, h, w], rng, self.window.device())?;
                    let acts = window_actions(&self.past_actions)?;
                    rolling::rolling_start(model, &self.window, &acts, &noise, opts)?
                }
            };
            let noise = gaussian(&[b, 2, c, h, w], rng, self.window.device())?;
            let (out, next) = rolling::rolling_step(
                model,
                &ctx,
                &action.unsqueeze(1)?,
                &noise,
                opts,
                cfg.rolling_keep(),
            )?;
            self.rolling = Some(next);
            out
        } else {
            dream_step(model, &self.window, &window_actions(&recent)?, rng, opts)?
        };
        self.window = Tensor::cat(
            &[&self.window.narrow(1, 1, wn - 1)?, &out.next.unsqueeze(1)?],
            1,
        )?;
        self.past_actions = recent.narrow(1, 1, wn - 1)?;
        Ok(out)
    }
}

/// Autoregressive dream. `context` `[B, W, C, h, w]` true first frames; `actions`
/// `[B, W-1+H, A]` where `actions[:, j]` acts between frame `j` and `j+1`.
/// Returns the `H` dreamed frames `[B, H, C, h, w]`. Honours the options'
/// context cache.
pub fn rollout(
    model: &DiT,
    context: &Tensor,
    actions: &Tensor,
    rng: &mut ChaCha8Rng,
    opts: &SampleOptions,
) -> ModelResult<Tensor> {
    let wn = model.config().context_frames;
    let total = actions.dim(1)?;
    if total < wn {
        return Err(shape_error(
            "rollout actions (at least W)",
            [wn],
            actions.dims(),
        ));
    }
    let actions = actions.to_dtype(DType::F32)?;
    let mut dreams = LatentDreams {
        window: context.clone(),
        past_actions: actions.narrow(1, 0, wn - 1)?,
        rolling: None,
    };
    let mut out = Vec::with_capacity(total + 1 - wn);
    for j in (wn - 1)..total {
        let a = actions.narrow(1, j, 1)?.squeeze(1)?;
        out.push(dreams.step(model, &a, rng, opts)?.next.unsqueeze(1)?);
    }
    Ok(Tensor::cat(&out, 1)?)
}
