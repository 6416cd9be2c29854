//! Dreaming with a rolling key/value cache ([`ContextCache::Rolling`]): the
//! context is kept between steps as the keys and values of its older frames,
//! so a step runs only the newest context frame and the new frame (`2 N`
//! tokens) instead of the whole window (`(W + 1) N`).
//!
//! The state between steps is a [`RollingContext`]: the cache of the `W - 1`
//! frames before the newest, and the newest frame itself ("pending": dreamed
//! last step, not yet run as context). A step runs the pending frame (at the
//! context's noise level) and the new frame's first denoising pass in one
//! forward; block-causal attention keeps the pending frame from seeing the
//! noisy one, so its keys and values are those of a clean context frame. The
//! remaining `K - 1` passes run the new frame alone on the cache. Then the
//! oldest frame is dropped, and the new frame becomes pending.
//!
//! Rotary time is relative, so the cache needs no re-rotation as it rolls. The
//! first step equals [`super::dream_step`]; later ones differ in what the
//! cached frames saw: each attended to the `W` frames before it, where a
//! window's first frame sees nothing before itself.
//!
//! [`ContextCache::Rolling`]: crate::config::ContextCache::Rolling

use candle_core::{DType, Tensor};

use super::{check_actions, noised, DreamStep, SampleOptions};
use crate::dit::{DiT, KvCache};
use crate::model_error::{shape_error, ModelError, ModelResult};
use crate::objective::clean_estimate;

/// A batch of dreams' context between steps.
#[derive(Clone, Debug)]
pub struct RollingContext {
    /// Keys and values of the frames before the newest (`W - 1` of them).
    pub cache: KvCache,
    /// `[B, C, h, w]` the newest context frame, clean.
    pub pending: Tensor,
    /// `[B, 1, A]` the action taken just before the newest frame.
    pub pending_action: Tensor,
}

impl RollingContext {
    /// Batch member `i` (views).
    pub fn member(&self, i: usize) -> ModelResult<Self> {
        Ok(Self {
            cache: self.cache.member(i)?,
            pending: self.pending.narrow(0, i, 1)?,
            pending_action: self.pending_action.narrow(0, i, 1)?,
        })
    }

    /// Batch-1 contexts (from [`RollingContext::member`]) joined into one batch.
    pub fn concat(members: &[&RollingContext]) -> ModelResult<Self> {
        let caches: Vec<&KvCache> = members.iter().map(|m| &m.cache).collect();
        let pending: Vec<&Tensor> = members.iter().map(|m| &m.pending).collect();
        let actions: Vec<&Tensor> = members.iter().map(|m| &m.pending_action).collect();
        Ok(Self {
            cache: KvCache::concat(&caches)?,
            pending: Tensor::cat(&pending, 0)?,
            pending_action: Tensor::cat(&actions, 0)?,
        })
    }
}

/// Starts rolling dreams from `W` true frames.
///
/// `context`: `[B, W, C, h, w]` latents; `actions`: `[B, W, A]`, the action
/// before each frame (position 0 ignored); `noise`: `[B, W - 1, C, h, w]`, the
/// augmentation noise of the frames that enter the cache (used when the
/// options' context noise is above 0).
pub fn rolling_start(
    model: &DiT,
    context: &Tensor,
    actions: &Tensor,
    noise: &Tensor,
    opts: &SampleOptions,
) -> ModelResult<RollingContext> {
    let cfg = model.config();
    let (c, h, w) = cfg.latent_shape();
    let wn = cfg.context_frames;
    let b = context.dim(0)?;
    if wn < 2 {
        return Err(ModelError::InvalidConfig(
            "a rolling context needs context_frames >= 2".into(),
        ));
    }
    if context.dims() != [b, wn, c, h, w] {
        return Err(shape_error(
            "rolling context",
            [b, wn, c, h, w],
            context.dims(),
        ));
    }
    let a = cfg.action.width();
    if actions.dims() != [b, wn, a] {
        return Err(shape_error(
            "rolling context actions",
            [b, wn, a],
            actions.dims(),
        ));
    }
    if noise.dims() != [b, wn - 1, c, h, w] {
        return Err(shape_error(
            "rolling context noise",
            [b, wn - 1, c, h, w],
            noise.dims(),
        ));
    }
    check_actions(&cfg.action, &actions.narrow(1, 1, wn - 1)?)?;
    let cs = opts.context_noise;
    let older = noised(&context.narrow(1, 0, wn - 1)?, noise, cs)?;
    let levels = Tensor::full(cs as f32, (b, wn - 1), context.device())?;
    let cache = model
        .forward_from_time(&older, &levels, &actions.narrow(1, 0, wn - 1)?, 0, true)?
        .cache
        .ok_or_else(|| ModelError::InvalidConfig("the forward kept no cache".into()))?;
    // with an attention span, only the frames the next ones can see
    let cache = cache
        .drop_oldest(cache.frames.saturating_sub(cfg.rolling_keep()))?
        .detach();
    Ok(RollingContext {
        cache,
        pending: context.narrow(1, wn - 1, 1)?.squeeze(1)?.contiguous()?,
        pending_action: actions.narrow(1, wn - 1, 1)?.to_dtype(DType::F32)?,
    })
}

/// One rolling dream step: the frame after `ctx` given `action` `[B, 1, A]`.
///
/// `noise`: `[B, 2, C, h, w]`, the pending frame's augmentation noise and the
/// new frame's starting noise. `keep`: the frames the returned cache holds
/// (`ModelConfig::rolling_keep`, to attend as training did; more to attend
/// further back when the model has no span).
/// Returns the step and the context for the next one.
pub fn rolling_step(
    model: &DiT,
    ctx: &RollingContext,
    action: &Tensor,
    noise: &Tensor,
    opts: &SampleOptions,
    keep: usize,
) -> ModelResult<(DreamStep, RollingContext)> {
    let cfg = model.config();
    let (c, h, w) = cfg.latent_shape();
    let b = ctx.pending.dim(0)?;
    let a = cfg.action.width();
    if action.dims() != [b, 1, a] {
        return Err(shape_error("rolling step action", [b, 1, a], action.dims()));
    }
    if noise.dims() != [b, 2, c, h, w] {
        return Err(shape_error(
            "rolling step noise",
            [b, 2, c, h, w],
            noise.dims(),
        ));
    }
    check_actions(&cfg.action, action)?;
    opts.check()?;
    let dev = ctx.pending.device();
    let cs = opts.context_noise;
    let action = action.to_dtype(DType::F32)?;
    let last_ctx = noised(&ctx.pending, &noise.narrow(1, 0, 1)?.squeeze(1)?, cs)?;
    let mut x = noise.narrow(1, 1, 1)?.squeeze(1)?;
    // pass 1: the pending frame as context beside the new frame at s = 1
    let both = Tensor::stack(&[&last_ctx, &x], 1)?;
    let levels = Tensor::cat(
        &[
            &Tensor::full(cs as f32, (b, 1), dev)?,
            &Tensor::ones((b, 1), DType::F32, dev)?,
        ],
        1,
    )?;
    let acts = Tensor::cat(&[&ctx.pending_action, &action], 1)?;
    let out = model.forward(&both, &levels, &acts, Some(&ctx.cache), true)?;
    let full = out
        .cache
        .as_ref()
        .ok_or_else(|| ModelError::InvalidConfig("the forward kept no cache".into()))?
        .first_frames(ctx.cache.frames + 1)?;
    let k = opts.steps;
    let (mut pred, mut reward, mut logit) = (
        out.prediction.narrow(1, 1, 1)?.squeeze(1)?,
        out.reward.narrow(1, 1, 1)?.squeeze(1)?,
        out.terminated_logit.narrow(1, 1, 1)?.squeeze(1)?,
    );
    for i in 0..k {
        let s = 1.0 - i as f64 / k as f64;
        let s_next = 1.0 - (i + 1) as f64 / k as f64;
        let sv = Tensor::full(s as f32, (b, 1), dev)?;
        if i > 0 {
            let o = model.forward(&x.unsqueeze(1)?, &sv, &action, Some(&full), false)?;
            pred = o.prediction.squeeze(1)?;
            reward = o.reward.squeeze(1)?;
            logit = o.terminated_logit.squeeze(1)?;
        }
        let x0 = clean_estimate(cfg, &pred, &x, &sv.squeeze(1)?, &last_ctx)?;
        x = (&x0 + ((&x - &x0)? * (s_next / s))?)?.detach();
    }
    let cache = full
        .drop_oldest(full.frames.saturating_sub(keep.max(1)))?
        .detach();
    let step = DreamStep {
        next: x.clone(),
        reward: reward.detach(),
        terminated_prob: candle_nn::ops::sigmoid(&logit.detach())?,
    };
    Ok((
        step,
        RollingContext {
            cache,
            pending: x,
            pending_action: action,
        },
    ))
}

#[cfg(test)]
#[path = "rolling_tests.rs"]
mod tests;
