//! AdamW exactly as PyTorch's `torch.optim.AdamW` (decoupled weight decay, bias
//! correction), with its whole state exportable as named tensors so that a resumed
//! run continues bit for bit.
//!
//! One step for a parameter `p` with gradient `g`, at step `t` (counted from 1):
//! ```text
//! p <- p * (1 - lr * weight_decay)          (only where decay is enabled)
//! m <- beta1 * m + (1 - beta1) * g
//! v <- beta2 * v + (1 - beta2) * g^2
//! p <- p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//! ```
//! Moments are kept in f32 whatever the parameter's dtype. A parameter without a
//! gradient in the [`GradStore`] is left alone and its moments are not touched.
//! On the CPU the update runs as one fused loop per parameter; on other devices
//! as candle tensor ops (the same formula, f32 throughout).

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};

/// Hyper-parameters of [`AdamW`] (the learning rate is given to each step).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWParams {
    /// Default learning rate (used by [`AdamW::step_default`]).
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay, applied only to parameters marked for decay.
    pub weight_decay: f64,
}

impl Default for AdamWParams {
    /// PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// One parameter with its moments.
struct Slot {
    name: String,
    var: Var,
    /// First moment, f32, same shape as the parameter.
    m: Tensor,
    /// Second moment, f32, same shape as the parameter.
    v: Tensor,
    decay: bool,
}

/// The AdamW optimizer over a named list of variables.
pub struct AdamW {
    slots: Vec<Slot>,
    params: AdamWParams,
    step: u64,
}

/// The per-step scalars of the fused CPU update, in f32.
#[derive(Clone, Copy)]
struct Coefficients {
    decay: f32,
    beta1: f32,
    beta2: f32,
    step_size: f32,
    inv_bias2_sqrt: f32,
    eps: f32,
}

/// One AdamW update of a CPU parameter in a single pass over its elements (the
/// tensor-op path allocates a full-size temporary per operation).
fn fused_cpu_step(slot: &mut Slot, grad: &Tensor, c: Coefficients) -> Result<()> {
    let shape = slot.var.shape().clone();
    let device = slot.var.device().clone();
    let g = grad.flatten_all()?.to_vec1::<f32>()?;
    let mut p = slot
        .var
        .as_tensor()
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let mut m = slot.m.flatten_all()?.to_vec1::<f32>()?;
    let mut v = slot.v.flatten_all()?.to_vec1::<f32>()?;
    for (((p, m), v), g) in p.iter_mut().zip(&mut m).zip(&mut v).zip(&g) {
        *p *= c.decay;
        *m = c.beta1 * *m + (1.0 - c.beta1) * g;
        *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
        *p -= c.step_size * *m / (v.sqrt() * c.inv_bias2_sqrt + c.eps);
    }
    let next = Tensor::from_vec(p, shape.clone(), &device)?.to_dtype(slot.var.dtype())?;
    slot.var.set(&next)?;
    slot.m = Tensor::from_vec(m, shape.clone(), &device)?;
    slot.v = Tensor::from_vec(v, shape, &device)?;
    Ok(())
}

/// Name of the step-count tensor in [`AdamW::state_tensors`].
pub const STEP_TENSOR: &str = "step";

impl AdamW {
    /// Builds the optimizer with zero moments. By default weight decay applies to
    /// parameters of rank 2 or more (matrices, convolution kernels, embeddings) and
    /// not to biases and norm gains; change it with [`AdamW::set_decay`].
    pub fn new(vars: Vec<(String, Var)>, params: AdamWParams) -> Result<Self> {
        let slots = vars
            .into_iter()
            .map(|(name, var)| {
                let m = Tensor::zeros(var.shape(), DType::F32, var.device())?;
                let v = Tensor::zeros(var.shape(), DType::F32, var.device())?;
                let decay = var.rank() >= 2;
                Ok(Slot {
                    name,
                    var,
                    m,
                    v,
                    decay,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            slots,
            params,
            step: 0,
        })
    }

    /// Marks which parameters get weight decay: `decay(name)` is true for those.
    pub fn set_decay(&mut self, decay: impl Fn(&str) -> bool) {
        for slot in &mut self.slots {
            slot.decay = decay(&slot.name);
        }
    }

    /// Turns weight decay off for the listed names (exact matches).
    pub fn set_no_decay(&mut self, no_decay: &[&str]) {
        for slot in &mut self.slots {
            if no_decay.contains(&slot.name.as_str()) {
                slot.decay = false;
            }
        }
    }

    /// Names of the parameters that get weight decay.
    pub fn decayed_names(&self) -> Vec<&str> {
        self.slots
            .iter()
            .filter(|s| s.decay)
            .map(|s| s.name.as_str())
            .collect()
    }

    /// The optimised variables with their names, in the order given to `new`.
    pub fn vars(&self) -> Vec<(String, Var)> {
        self.slots
            .iter()
            .map(|s| (s.name.clone(), s.var.clone()))
            .collect()
    }

    /// The hyper-parameters.
    pub fn params(&self) -> &AdamWParams {
        &self.params
    }

    /// Replaces the hyper-parameters (the moments are kept).
    pub fn set_params(&mut self, params: AdamWParams) {
        self.params = params;
    }

    /// Number of steps taken (restored by [`AdamW::load_state_tensors`]).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Clips the gradients of this optimizer's variables; see [`super::clip_grad_norm`].
    pub fn clip_grad_norm(&self, grads: &mut GradStore, max_norm: f64) -> Result<f32> {
        super::clip_grad_norm(grads, self.slots.iter().map(|s| &s.var), max_norm)
    }

    /// Takes one step with the learning rate in [`AdamWParams::lr`].
    pub fn step_default(&mut self, grads: &GradStore) -> Result<()> {
        self.step(grads, self.params.lr)
    }

    /// Takes one step with learning rate `lr`.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.step += 1;
        let p = self.params;
        let t = self.step as i32;
        let bias1 = 1.0 - p.beta1.powi(t);
        let bias2_sqrt = (1.0 - p.beta2.powi(t)).sqrt();
        let step_size = lr / bias1;
        for slot in &mut self.slots {
            let Some(grad) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            let grad = grad.to_dtype(DType::F32)?;
            if slot.var.device().is_cpu() {
                let decay = if slot.decay {
                    1.0 - lr * p.weight_decay
                } else {
                    1.0
                };
                let coef = Coefficients {
                    decay: decay as f32,
                    beta1: p.beta1 as f32,
                    beta2: p.beta2 as f32,
                    step_size: step_size as f32,
                    inv_bias2_sqrt: (1.0 / bias2_sqrt) as f32,
                    eps: p.eps as f32,
                };
                fused_cpu_step(slot, &grad, coef)?;
                continue;
            }
            let mut param = slot.var.as_tensor().to_dtype(DType::F32)?;
            if slot.decay && p.weight_decay != 0.0 {
                param = (param * (1.0 - lr * p.weight_decay))?;
            }
            let m = ((&slot.m * p.beta1)? + (&grad * (1.0 - p.beta1))?)?;
            let v = ((&slot.v * p.beta2)? + (grad.sqr()? * (1.0 - p.beta2))?)?;
            let denom = ((v.sqrt()? / bias2_sqrt)? + p.eps)?;
            let update = ((&m / denom)? * step_size)?;
            let next = (param - update)?.to_dtype(slot.var.dtype())?;
            slot.var.set(&next)?;
            slot.m = m;
            slot.v = v;
        }
        Ok(())
    }

    /// The optimizer's state as named tensors: `m.{name}` and `v.{name}` (f32, the
    /// parameter's shape) for every parameter, and [`STEP_TENSOR`] (i64 `[1]`).
    pub fn state_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let device = self.slots.first().map(|s| s.var.device().clone());
        let device = device.unwrap_or(candle_core::Device::Cpu);
        let mut out = Vec::with_capacity(2 * self.slots.len() + 1);
        out.push((
            STEP_TENSOR.to_string(),
            Tensor::new(&[self.step as i64], &device)?,
        ));
        for slot in &self.slots {
            out.push((format!("m.{}", slot.name), slot.m.clone()));
            out.push((format!("v.{}", slot.name), slot.v.clone()));
        }
        Ok(out)
    }

    /// Restores the state written by [`AdamW::state_tensors`]. Every parameter's
    /// moments must be present with its shape; the error names the missing or
    /// mismatched tensor. Nothing is changed if any check fails.
    pub fn load_state_tensors(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
        let step = state
            .get(STEP_TENSOR)
            .ok_or_else(|| {
                candle_core::Error::Msg(format!("optimizer state: missing tensor `{STEP_TENSOR}`"))
            })?
            .flatten_all()?
            .to_dtype(DType::I64)?
            .to_vec1::<i64>()?;
        let step = match step.as_slice() {
            [s] if *s >= 0 => *s as u64,
            other => {
                return Err(candle_core::Error::Msg(format!(
                "optimizer state: `{STEP_TENSOR}` must hold one non-negative count, got {other:?}"
            )))
            }
        };
        let mut moments = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let mut pair = Vec::with_capacity(2);
            for kind in ["m", "v"] {
                let key = format!("{kind}.{}", slot.name);
                let t = state.get(&key).ok_or_else(|| {
                    candle_core::Error::Msg(format!("optimizer state: missing tensor `{key}`"))
                })?;
                if t.dims() != slot.var.dims() {
                    return Err(candle_core::Error::Msg(format!(
                        "optimizer state: tensor `{key}` has shape {:?}, parameter has {:?}",
                        t.dims(),
                        slot.var.dims()
                    )));
                }
                pair.push(
                    t.to_dtype(DType::F32)?
                        .to_device(slot.var.device())?
                        .copy()?,
                );
            }
            moments.push(pair);
        }
        for (slot, mut pair) in self.slots.iter_mut().zip(moments) {
            slot.v = pair.pop().expect("two moments");
            slot.m = pair.pop().expect("two moments");
        }
        self.step = step;
        Ok(())
    }
}
