//! Optimisation: [`AdamW`] (PyTorch semantics, exportable state), an [`Ema`] of the
//! weights, global gradient-norm clipping and the learning-rate schedule
//! (linear warm-up, then cosine decay to a floor).

mod adamw;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};

pub use adamw::{AdamW, AdamWParams, STEP_TENSOR};

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

/// Shadow copies of a list of variables, averaged after each optimizer step.
pub struct Ema {
    vars: Vec<(String, Var)>,
    /// f32 shadows, one per variable, with separate storage.
    shadows: Vec<Tensor>,
    max_decay: f64,
}

impl Ema {
    /// Starts the average at the variables' current values.
    pub fn new(vars: Vec<(String, Var)>, max_decay: f64) -> Result<Self> {
        let shadows = vars
            .iter()
            .map(|(_, v)| v.as_tensor().to_dtype(DType::F32)?.copy())
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            vars,
            shadows,
            max_decay,
        })
    }

    /// The decay used at update `step`: `min(max_decay, (1 + step) / (10 + step))`.
    pub fn decay_at(&self, step: u64) -> f64 {
        let n = step as f64;
        self.max_decay.min((1.0 + n) / (10.0 + n))
    }

    /// Folds the variables' current values in: `shadow <- d * shadow + (1 - d) * var`
    /// with `d = decay_at(step)`.
    pub fn update(&mut self, step: u64) -> Result<()> {
        let d = self.decay_at(step);
        for ((_, var), shadow) in self.vars.iter().zip(self.shadows.iter_mut()) {
            let live = var.as_tensor().to_dtype(DType::F32)?;
            if var.device().is_cpu() {
                // One pass instead of three full-size temporaries.
                let (keep, take) = (d as f32, (1.0 - d) as f32);
                let x = live.flatten_all()?.to_vec1::<f32>()?;
                let mut s = shadow.flatten_all()?.to_vec1::<f32>()?;
                s.iter_mut()
                    .zip(&x)
                    .for_each(|(s, x)| *s = keep * *s + take * x);
                *shadow = Tensor::from_vec(s, var.shape(), var.device())?;
            } else {
                *shadow = ((&*shadow * d)? + (live * (1.0 - d))?)?;
            }
        }
        Ok(())
    }

    /// The averaged weights under the variables' names (f32).
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        self.vars
            .iter()
            .zip(&self.shadows)
            .map(|((name, _), t)| (name.clone(), t.clone()))
            .collect()
    }

    /// Restores averages saved by [`Ema::tensors`]; every variable must be present
    /// with its shape (the error names the tensor). Nothing changes on error.
    pub fn load_tensors(&mut self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let mut loaded = Vec::with_capacity(self.vars.len());
        for (name, var) in &self.vars {
            let t = tensors.get(name).ok_or_else(|| {
                candle_core::Error::Msg(format!("EMA state: missing tensor `{name}`"))
            })?;
            if t.dims() != var.dims() {
                return Err(candle_core::Error::Msg(format!(
                    "EMA state: tensor `{name}` has shape {:?}, parameter has {:?}",
                    t.dims(),
                    var.dims()
                )));
            }
            loaded.push(t.to_dtype(DType::F32)?.to_device(var.device())?.copy()?);
        }
        self.shadows = loaded;
        Ok(())
    }

    /// Writes the averages into `targets` (matched by name; names the EMA does not
    /// hold are an error), e.g. the variables of an evaluation copy of the model.
    pub fn copy_to(&self, targets: &[(String, Var)]) -> Result<()> {
        let by_name: HashMap<&str, &Tensor> = self
            .vars
            .iter()
            .zip(&self.shadows)
            .map(|((n, _), t)| (n.as_str(), t))
            .collect();
        for (name, var) in targets {
            let t = by_name
                .get(name.as_str())
                .ok_or_else(|| candle_core::Error::Msg(format!("EMA holds no tensor `{name}`")))?;
            var.set(&t.to_dtype(var.dtype())?.to_device(var.device())?)?;
        }
        Ok(())
    }

    /// Exchanges the live weights and the averages: after one call the model holds
    /// the EMA weights (for evaluation), after a second call it is as before.
    pub fn swap(&mut self) -> Result<()> {
        for ((_, var), shadow) in self.vars.iter().zip(self.shadows.iter_mut()) {
            let live = var.as_tensor().to_dtype(DType::F32)?.copy()?;
            var.set(&shadow.to_dtype(var.dtype())?)?;
            *shadow = live;
        }
        Ok(())
    }
}
