//! Auxiliary state supervision: privileged labels the simulator gives for free
//! (every dataset stores each episode's state vector: positions, velocities)
//! predicted from the DiT's tokens during training only.
//!
//! A head reads the tokens after block `after_block` of the last context frame
//! and of the target frame, attention-pools each frame's tokens once per state
//! dimension and regresses the normalised state. Its loss, weighted against the
//! frame loss, is meant to make the network represent where each object is and
//! how fast it moves. The sampler never calls the head: a dream is pixels in,
//! pixels out, with or without it.

use candle_core::{Module, Tensor, D};
use serde::{Deserialize, Serialize};

use crate::model_error::{shape_error, ModelError, ModelResult};
use crate::params::ParamStore;

/// Where the head reads and how much its loss weighs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuxStateConfig {
    /// Weight of the state loss against the frame loss.
    pub weight: f64,
    /// The head reads the tokens after this many blocks (1 to `depth`).
    pub after_block: usize,
    /// Per state dimension, the training data's mean; filled from the data by
    /// `somnium train` when empty.
    #[serde(default)]
    pub mean: Vec<f32>,
    /// Per state dimension, 1 / standard deviation; 0 where the dimension never
    /// varies (it is not supervised).
    #[serde(default)]
    pub inv_std: Vec<f32>,
}

impl AuxStateConfig {
    /// State dimensions the head predicts.
    pub fn dims(&self) -> usize {
        self.mean.len()
    }

    /// Checks the fields against a network of `depth` blocks.
    pub fn validate(&self, depth: usize) -> ModelResult<()> {
        let bad = |m: String| Err(ModelError::InvalidConfig(format!("aux_state: {m}")));
        if !self.weight.is_finite() || self.weight < 0.0 {
            return bad(format!("weight {} must be finite and >= 0", self.weight));
        }
        if self.after_block == 0 || self.after_block > depth {
            return bad(format!(
                "after_block {} must be 1 to the depth {depth}",
                self.after_block
            ));
        }
        if self.mean.len() != self.inv_std.len() {
            return bad(format!(
                "{} means but {} inverse deviations",
                self.mean.len(),
                self.inv_std.len()
            ));
        }
        if let Some(v) = self
            .mean
            .iter()
            .chain(&self.inv_std)
            .find(|v| !v.is_finite())
        {
            return bad(format!("normaliser value {v} is not finite"));
        }
        if self.inv_std.iter().any(|&v| v < 0.0) {
            return bad("inv_std values must be >= 0".into());
        }
        Ok(())
    }

    /// Sets the normaliser from `states`, each one episode's `[frames * dims]`
    /// row-major state vectors. Dimensions with a spread below `1e-6` get
    /// `inv_std = 0`.
    pub fn fit_normaliser(&mut self, states: &[&[f32]], dims: usize) -> ModelResult<()> {
        if dims == 0 {
            return Err(ModelError::InvalidData(
                "aux_state: the dataset stores no state vector to supervise".into(),
            ));
        }
        let (mut sum, mut sq, mut n) = (vec![0f64; dims], vec![0f64; dims], 0usize);
        for ep in states {
            if ep.len() % dims != 0 {
                return Err(ModelError::InvalidData(format!(
                    "aux_state: an episode holds {} state values, not a multiple of {dims}",
                    ep.len()
                )));
            }
            for row in ep.chunks_exact(dims) {
                for (k, &v) in row.iter().enumerate() {
                    if !v.is_finite() {
                        return Err(ModelError::InvalidData(format!(
                            "aux_state: state value {v} in dimension {k}"
                        )));
                    }
                    sum[k] += v as f64;
                    sq[k] += (v as f64) * (v as f64);
                }
                n += 1;
            }
        }
        if n == 0 {
            return Err(ModelError::InvalidData(
                "aux_state: no state vectors in the training data".into(),
            ));
        }
        self.mean = sum.iter().map(|s| (s / n as f64) as f32).collect();
        self.inv_std = sum
            .iter()
            .zip(&sq)
            .map(|(s, q)| {
                let m = s / n as f64;
                let std = (q / n as f64 - m * m).max(0.0).sqrt();
                if std < 1e-6 {
                    0.0
                } else {
                    (1.0 / std) as f32
                }
            })
            .collect();
        Ok(())
    }
}

/// The head: per state dimension, attention pooling over a frame's tokens.
pub struct AuxHead {
    logit: candle_nn::Linear,
    value: candle_nn::Linear,
}

impl AuxHead {
    /// Creates `aux_state.logit` and `aux_state.value` (`width -> dims` each).
    pub fn new(cfg: &AuxStateConfig, width: usize, p: &mut ParamStore) -> ModelResult<Self> {
        let dims = cfg.dims();
        if dims == 0 {
            return Err(ModelError::InvalidConfig(
                "aux_state has no normaliser (mean / inv_std); `somnium train` sets it from the data"
                    .into(),
            ));
        }
        Ok(Self {
            logit: p.linear("aux_state.logit", width, dims, false)?,
            value: p.linear("aux_state.value", width, dims, false)?,
        })
    }

    /// `tokens` `[B, F, N, D]` -> predicted normalised states `[B, F, S]`.
    pub fn forward(&self, tokens: &Tensor) -> ModelResult<Tensor> {
        let weights = candle_nn::ops::softmax(&self.logit.forward(tokens)?, 2)?; // [B, F, N, S]
        let values = self.value.forward(tokens)?;
        Ok((weights * values)?.sum(2)?)
    }
}

/// Mean squared error of `pred` `[B, F, S]` (normalised) against the true
/// `states` `[B, F, S]`, over the supervised dimensions (`inv_std > 0`).
pub fn state_loss(pred: &Tensor, states: &Tensor, cfg: &AuxStateConfig) -> ModelResult<Tensor> {
    let s = cfg.dims();
    if pred.dims() != states.dims() || pred.dim(D::Minus1)? != s {
        return Err(shape_error("state vectors", pred.dims(), states.dims()));
    }
    let device = pred.device();
    let mean = Tensor::from_slice(&cfg.mean, s, device)?;
    let inv_std = Tensor::from_slice(&cfg.inv_std, s, device)?;
    let target = states.broadcast_sub(&mean)?.broadcast_mul(&inv_std)?;
    let supervised: Vec<f32> = cfg
        .inv_std
        .iter()
        .map(|&v| if v > 0.0 { 1.0 } else { 0.0 })
        .collect();
    let count = supervised.iter().sum::<f32>().max(1.0);
    let mask = Tensor::from_vec(supervised, s, device)?;
    let per_row = (pred - target)?
        .sqr()?
        .broadcast_mul(&mask)?
        .sum(D::Minus1)?;
    Ok((per_row.mean_all()? / count as f64)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AuxStateConfig {
        AuxStateConfig {
            weight: 0.1,
            after_block: 1,
            mean: Vec::new(),
            inv_std: Vec::new(),
        }
    }

    #[test]
    fn the_normaliser_standardises_and_skips_constant_dimensions() {
        let mut c = cfg();
        // two dims: the first 1, 3, 5, 7 (mean 4, std sqrt 5); the second constant
        let a = [1.0, 2.0, 3.0, 2.0];
        let b = [5.0, 2.0, 7.0, 2.0];
        c.fit_normaliser(&[&a, &b], 2).unwrap();
        assert_eq!(c.mean, vec![4.0, 2.0]);
        assert!((c.inv_std[0] - 1.0 / 5f32.sqrt()).abs() < 1e-6);
        assert_eq!(c.inv_std[1], 0.0);
        assert!(c.validate(2).is_ok());
        assert!(c.fit_normaliser(&[&[1.0, 2.0, 3.0]], 2).is_err());
        assert!(c.fit_normaliser(&[&[f32::NAN, 1.0]], 2).is_err());
        assert!(c.fit_normaliser(&[], 0).is_err());
    }

    #[test]
    fn validation_names_the_bad_field() {
        let mut c = cfg();
        c.fit_normaliser(&[&[0.0, 1.0]], 1).unwrap();
        c.after_block = 3;
        let e = c.validate(2).unwrap_err().to_string();
        assert!(e.contains("after_block"), "{e}");
        c.after_block = 1;
        c.weight = f64::NAN;
        assert!(c.validate(2).unwrap_err().to_string().contains("weight"));
    }

    #[test]
    fn the_loss_is_zero_at_the_truth_and_ignores_unsupervised_dimensions() {
        let dev = candle_core::Device::Cpu;
        let c = AuxStateConfig {
            weight: 1.0,
            after_block: 1,
            mean: vec![1.0, 0.0],
            inv_std: vec![0.5, 0.0],
        };
        let states = Tensor::from_vec(vec![3.0f32, 9.0], (1, 1, 2), &dev).unwrap();
        // normalised truth of dim 0 is (3 - 1) * 0.5 = 1; dim 1 is anything
        let exact = Tensor::from_vec(vec![1.0f32, -40.0], (1, 1, 2), &dev).unwrap();
        let l = state_loss(&exact, &states, &c).unwrap();
        assert_eq!(l.to_scalar::<f32>().unwrap(), 0.0);
        let off = Tensor::from_vec(vec![3.0f32, 0.0], (1, 1, 2), &dev).unwrap();
        let l = state_loss(&off, &states, &c).unwrap();
        assert_eq!(l.to_scalar::<f32>().unwrap(), 4.0);
    }
}
