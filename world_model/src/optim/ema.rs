//! Exponential moving average of the model's weights, with the warm-up decay
//! `min(max_decay, (1 + n) / (10 + n))` at update `n`, so that early averages are
//! not dominated by the random initialisation.

use std::collections::HashMap;

use candle_core::{DType, Result, Tensor, Var};

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
            *shadow = ((&*shadow * d)? + (live * (1.0 - d))?)?;
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
