//! Optimisation: [`AdamW`] (PyTorch semantics, exportable state), an [`Ema`] of the
//! weights, global gradient-norm clipping and the learning-rate schedule
//! (linear warm-up, then cosine decay to a floor).

mod adamw;
mod ema;

#[cfg(test)]
mod tests;

use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};

pub use adamw::{AdamW, AdamWParams, STEP_TENSOR};
pub use ema::Ema;

/// Scales all gradients of `vars` together so that their global L2 norm is at most
/// `max_norm` (as `torch.nn.utils.clip_grad_norm_`, scale `max_norm / (norm + 1e-6)`).
/// Returns the norm before clipping. When the norm is not finite the gradients are
/// left as they are and the NaN or infinity is returned, so the caller can skip the
/// step. Variables without a gradient are ignored.
pub fn clip_grad_norm<'a>(
    grads: &mut GradStore,
    vars: impl IntoIterator<Item = &'a Var>,
    max_norm: f64,
) -> Result<f32> {
    let vars: Vec<&Var> = vars.into_iter().collect();
    let mut total: Option<Tensor> = None;
    for var in &vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            let sq = g.to_dtype(DType::F32)?.sqr()?.sum_all()?;
            total = Some(match total {
                Some(t) => (t + sq)?,
                None => sq,
            });
        }
    }
    let Some(total) = total else {
        return Ok(0.0);
    };
    let norm = total.to_scalar::<f32>()?.sqrt();
    if !norm.is_finite() {
        return Ok(norm);
    }
    let scale = max_norm / (norm as f64 + 1e-6);
    if scale < 1.0 {
        for var in &vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                let clipped = (g * scale)?;
                grads.insert(var.as_tensor(), clipped);
            }
        }
    }
    Ok(norm)
}

/// Learning-rate schedule: linear warm-up to `base` over `warmup` steps, then a
/// cosine from `base` down to `min` at step `total` (and `min` after it).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LrSchedule {
    pub base: f64,
    pub warmup: u64,
    pub total: u64,
    pub min: f64,
}

/// The learning rate at `step` (counted from 0): `base * (step + 1) / warmup` during
/// warm-up, then `min + (base - min) * (1 + cos(pi * progress)) / 2`.
pub fn lr_at(step: u64, schedule: LrSchedule) -> f64 {
    let LrSchedule {
        base,
        warmup,
        total,
        min,
    } = schedule;
    if step < warmup {
        return base * (step + 1) as f64 / warmup as f64;
    }
    if total <= warmup {
        return min;
    }
    let progress = ((step - warmup) as f64 / (total - warmup) as f64).min(1.0);
    min + (base - min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}
