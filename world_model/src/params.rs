//! Named trainable tensors with a seeded initialisation.
//!
//! candle's `VarBuilder` initialises from an unseeded generator on the CPU, so
//! the model builds its parameters here from a `ChaCha8Rng`: the same seed gives
//! the same weights. Names are kept in a sorted map so that every export, the
//! optimiser's state and the checkpoint list them in one order.

use std::collections::{BTreeMap, HashMap};

use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::dit::dense::Dense;
use crate::model_error::{ModelError, ModelResult};

/// How a parameter starts.
#[derive(Clone, Copy, Debug)]
pub enum Init {
    Zeros,
    /// Normal with this standard deviation.
    Normal(f64),
    /// Uniform in `[-bound, bound]` (PyTorch's default for linear layers).
    Uniform(f64),
}

/// The trainable tensors of one model, by name.
#[derive(Clone)]
pub struct ParamStore {
    vars: BTreeMap<String, Var>,
    rng: ChaCha8Rng,
    device: Device,
    /// Hand out tensors detached from autograd.
    inference: bool,
}

impl ParamStore {
    /// An empty store whose initialisations draw from `seed`.
    pub fn new(seed: u64, device: &Device) -> Self {
        Self {
            vars: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            device: device.clone(),
            inference: false,
        }
    }

    /// Like [`ParamStore::new`], for a model that only runs forward: the
    /// tensors it hands out record no autograd graph.
    pub fn for_inference(seed: u64, device: &Device) -> Self {
        Self {
            inference: true,
            ..Self::new(seed, device)
        }
    }

    /// Whether the tensors it hands out are detached from autograd.
    pub fn is_inference(&self) -> bool {
        self.inference
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Creates the parameter `name` of `shape`; returns its tensor (tracked by
    /// autograd, unless the store is for inference).
    pub fn tensor(&mut self, name: &str, shape: &[usize], init: Init) -> ModelResult<Tensor> {
        if self.vars.contains_key(name) {
            return Err(ModelError::InvalidConfig(format!(
                "parameter {name} defined twice"
            )));
        }
        let n: usize = shape.iter().product();
        let values: Vec<f32> = match init {
            Init::Zeros => vec![0.0; n],
            Init::Normal(std) => {
                let dist =
                    Normal::new(0.0, std).map_err(|e| ModelError::InvalidConfig(e.to_string()))?;
                (0..n).map(|_| dist.sample(&mut self.rng) as f32).collect()
            }
            Init::Uniform(bound) => (0..n)
                .map(|_| self.rng.random_range(-bound..=bound) as f32)
                .collect(),
        };
        let var = Var::from_tensor(&Tensor::from_vec(values, shape, &self.device)?)?;
        let t = if self.inference {
            var.as_tensor().detach()
        } else {
            var.as_tensor().clone()
        };
        self.vars.insert(name.to_string(), var);
        Ok(t)
    }

    /// A linear layer `in -> out` with PyTorch's default initialisation, or zeros.
    pub fn linear(
        &mut self,
        name: &str,
        inp: usize,
        out: usize,
        zero: bool,
    ) -> ModelResult<candle_nn::Linear> {
        let bound = 1.0 / (inp as f64).sqrt();
        let init = if zero {
            Init::Zeros
        } else {
            Init::Uniform(bound)
        };
        let w = self.tensor(&format!("{name}.weight"), &[out, inp], init)?;
        let b = self.tensor(&format!("{name}.bias"), &[out], init)?;
        Ok(candle_nn::Linear::new(w, Some(b)))
    }

    /// Like [`ParamStore::linear`], as a [`Dense`] (cheap bias gradient at large batch).
    pub fn dense(&mut self, name: &str, inp: usize, out: usize, zero: bool) -> ModelResult<Dense> {
        let l = self.linear(name, inp, out, zero)?;
        let bias = l
            .bias()
            .cloned()
            .ok_or_else(|| ModelError::InvalidConfig(format!("{name} has no bias")))?;
        Ok(Dense::new(l.weight().clone(), bias))
    }

    /// All parameters, sorted by name.
    pub fn vars(&self) -> Vec<(String, Var)> {
        self.vars
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    }

    /// Number of trainable scalars.
    pub fn count(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    /// A copy of every parameter's current value, sorted by name.
    pub fn snapshot(&self) -> ModelResult<Vec<(String, Tensor)>> {
        self.vars
            .iter()
            .map(|(n, v)| Ok((n.clone(), v.as_tensor().copy()?)))
            .collect()
    }

    /// Overwrites every parameter from `values`; a missing name or a wrong shape is an error.
    pub fn load(&self, values: &HashMap<String, Tensor>) -> ModelResult<()> {
        for (name, var) in &self.vars {
            let t = values
                .get(name)
                .ok_or_else(|| ModelError::Checkpoint(format!("tensor {name} is missing")))?;
            if t.dims() != var.dims() {
                return Err(ModelError::Checkpoint(format!(
                    "tensor {name} has shape {:?}, the model needs {:?}",
                    t.dims(),
                    var.dims()
                )));
            }
            var.set(&t.to_dtype(DType::F32)?.to_device(&self.device)?)?;
        }
        Ok(())
    }
}
