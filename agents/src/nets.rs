//! The actor-critic networks PPO trains, initialised as CleanRL does (orthogonal
//! weights with gain `sqrt(2)` for hidden layers, `0.01` for the policy head and
//! `1` for the value head, zero biases):
//! - [`Encoder::State`]: separate actor and critic MLPs (`obs -> 64 -> 64`, tanh);
//! - [`Encoder::Frames`]: a Nature-CNN-like trunk shared by both heads, scaled to
//!   small frames (stacked along channels, values in `[0, 1]`).

use candle_core::{DType, Device, Module, Result, Tensor, Var};
use candle_nn::{Conv2d, Conv2dConfig, Linear};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// What the network reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoder {
    /// A state vector of `dim` values.
    State { dim: usize },
    /// `channels x size x size` frames (RGB frames stacked: `3 * stack` channels).
    Frames { channels: usize, size: usize },
}

/// What the policy head outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionHead {
    /// Logits over `n` discrete actions.
    Discrete { n: usize },
    /// The mean of a Gaussian over `dim` values (log std is a learned vector).
    Continuous { dim: usize },
}

impl ActionHead {
    /// Width of the head's output.
    pub fn width(&self) -> usize {
        match self {
            ActionHead::Discrete { n } => *n,
            ActionHead::Continuous { dim } => *dim,
        }
    }
}

/// Shape of an [`ActorCritic`] (saved with its checkpoint).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    pub encoder: Encoder,
    pub head: ActionHead,
    /// Width of the MLP hidden layers (64 in CleanRL).
    pub hidden: usize,
}

/// Orthogonal `[rows, cols]` matrix times `gain` (as `torch.nn.init.orthogonal_`).
pub fn orthogonal(rows: usize, cols: usize, gain: f32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let (r, c) = if rows < cols {
        (cols, rows)
    } else {
        (rows, cols)
    };
    // `c` orthonormal columns of length `r`, by modified Gram-Schmidt.
    let mut cols_v: Vec<Vec<f32>> = (0..c)
        .map(|_| (0..r).map(|_| StandardNormal.sample(rng)).collect())
        .collect();
    for j in 0..c {
        for k in 0..j {
            let dot: f32 = (0..r).map(|i| cols_v[j][i] * cols_v[k][i]).sum();
            for i in 0..r {
                cols_v[j][i] -= dot * cols_v[k][i];
            }
        }
        let norm = cols_v[j]
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(1e-12);
        cols_v[j].iter_mut().for_each(|v| *v /= norm);
    }
    let mut out = vec![0.0; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            // Element (i, j) of the r x c matrix, transposed back when rows < cols.
            let v = if rows >= cols {
                cols_v[j][i]
            } else {
                cols_v[i][j]
            };
            out[i * cols + j] = gain * v;
        }
    }
    out
}

/// Builds named variables with CleanRL's initialisation.
struct Builder<'a> {
    rng: ChaCha8Rng,
    device: &'a Device,
    vars: Vec<(String, Var)>,
}

impl Builder<'_> {
    fn var(&mut self, name: &str, data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
        let var = Var::from_tensor(&Tensor::from_vec(data, shape, self.device)?)?;
        let t = var.as_tensor().clone();
        self.vars.push((name.to_string(), var));
        Ok(t)
    }

    fn linear(&mut self, name: &str, inp: usize, out: usize, gain: f32) -> Result<Linear> {
        let w = orthogonal(out, inp, gain, &mut self.rng);
        let w = self.var(&format!("{name}.weight"), w, &[out, inp])?;
        let b = self.var(&format!("{name}.bias"), vec![0.0; out], &[out])?;
        Ok(Linear::new(w, Some(b)))
    }

    fn conv(&mut self, name: &str, inp: usize, spec: ConvSpec) -> Result<Conv2d> {
        let ConvSpec {
            out,
            kernel,
            stride,
        } = spec;
        let w = orthogonal(out, inp * kernel * kernel, 2f32.sqrt(), &mut self.rng);
        let w = self.var(&format!("{name}.weight"), w, &[out, inp, kernel, kernel])?;
        let b = self.var(&format!("{name}.bias"), vec![0.0; out], &[out])?;
        let cfg = Conv2dConfig {
            stride,
            ..Default::default()
        };
        Ok(Conv2d::new(w, Some(b), cfg))
    }
}

#[derive(Clone, Copy)]
struct ConvSpec {
    out: usize,
    kernel: usize,
    stride: usize,
}

/// The conv stack for `size x size` frames: Nature-CNN from 52 pixels up, a
/// narrower stack for smaller frames. Returns the specs and the output side.
fn conv_specs(size: usize) -> Option<(Vec<ConvSpec>, usize)> {
    let spec = |out, kernel, stride| ConvSpec {
        out,
        kernel,
        stride,
    };
    let specs = if size >= 52 {
        vec![spec(32, 8, 4), spec(64, 4, 2), spec(64, 3, 1)]
    } else {
        vec![spec(16, 4, 2), spec(32, 4, 2), spec(32, 3, 1)]
    };
    let mut side = size;
    for s in &specs {
        if side < s.kernel {
            return None;
        }
        side = (side - s.kernel) / s.stride + 1;
    }
    Some((specs, side))
}

/// Actor and critic. `forward` maps observations `[B, ...]` to the head's output
/// `[B, A]` (logits or Gaussian mean) and values `[B]`.
pub struct ActorCritic {
    config: NetConfig,
    vars: Vec<(String, Var)>,
    convs: Vec<Conv2d>,
    trunk: Option<Linear>,
    actor: Vec<Linear>,
    critic: Vec<Linear>,
    log_std: Option<Tensor>,
}

impl ActorCritic {
    /// A freshly initialised network (deterministic in `seed`).
    pub fn new(config: NetConfig, seed: u64, device: &Device) -> Result<Self> {
        let mut b = Builder {
            rng: ChaCha8Rng::seed_from_u64(seed),
            device,
            vars: Vec::new(),
        };
        let sqrt2 = 2f32.sqrt();
        let width = config.head.width();
        let h = config.hidden;
        let (convs, trunk, actor, critic);
        match &config.encoder {
            Encoder::State { dim } => {
                convs = Vec::new();
                trunk = None;
                actor = vec![
                    b.linear("actor.0", *dim, h, sqrt2)?,
                    b.linear("actor.1", h, h, sqrt2)?,
                    b.linear("actor.2", h, width, 0.01)?,
                ];
                critic = vec![
                    b.linear("critic.0", *dim, h, sqrt2)?,
                    b.linear("critic.1", h, h, sqrt2)?,
                    b.linear("critic.2", h, 1, 1.0)?,
                ];
            }
            Encoder::Frames { channels, size } => {
                let (specs, side) = conv_specs(*size).ok_or_else(|| {
                    candle_core::Error::Msg(format!("frames of {size} pixels are too small"))
                })?;
                let mut layers = Vec::new();
                let mut inp = *channels;
                for (i, s) in specs.iter().enumerate() {
                    layers.push(b.conv(&format!("conv.{i}"), inp, *s)?);
                    inp = s.out;
                }
                convs = layers;
                let feat = 8 * h;
                trunk = Some(b.linear("trunk", inp * side * side, feat, sqrt2)?);
                actor = vec![b.linear("actor", feat, width, 0.01)?];
                critic = vec![b.linear("critic", feat, 1, 1.0)?];
            }
        }
        let log_std = match config.head {
            ActionHead::Continuous { dim } => Some(b.var("log_std", vec![0.0; dim], &[1, dim])?),
            ActionHead::Discrete { .. } => None,
        };
        Ok(ActorCritic {
            config,
            vars: b.vars,
            convs,
            trunk,
            actor,
            critic,
            log_std,
        })
    }

    /// The network's shape.
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// Named trainable variables (the checkpoint's tensors).
    pub fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// The Gaussian's log std `[1, A]` (continuous heads only).
    pub fn log_std(&self) -> Option<&Tensor> {
        self.log_std.as_ref()
    }

    /// `obs`: `[B, dim]` states or `[B, C, S, S]` frames in `[0, 1]` ->
    /// (head output `[B, A]`, values `[B]`).
    pub fn forward(&self, obs: &Tensor) -> Result<(Tensor, Tensor)> {
        let mlp = |layers: &[Linear], x: &Tensor| -> Result<Tensor> {
            let mut x = x.clone();
            for (i, l) in layers.iter().enumerate() {
                x = l.forward(&x)?;
                if i + 1 < layers.len() {
                    x = x.tanh()?;
                }
            }
            Ok(x)
        };
        match &self.trunk {
            None => {
                let head = mlp(&self.actor, obs)?;
                let value = mlp(&self.critic, obs)?.squeeze(1)?;
                Ok((head, value))
            }
            Some(trunk) => {
                let mut x = obs.clone();
                for c in &self.convs {
                    x = c.forward(&x)?.relu()?;
                }
                let x = trunk.forward(&x.flatten_from(1)?)?.relu()?;
                let head = self.actor[0].forward(&x)?;
                let value = self.critic[0].forward(&x)?.squeeze(1)?;
                Ok((head, value))
            }
        }
    }

    /// Copy `tensors` (by name) into the variables; every variable must be given
    /// with its shape.
    pub fn load(&self, tensors: &std::collections::HashMap<String, Tensor>) -> Result<()> {
        for (name, var) in &self.vars {
            let t = tensors
                .get(name)
                .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor '{name}'")))?;
            if t.dims() != var.dims() {
                return Err(candle_core::Error::Msg(format!(
                    "tensor '{name}' has shape {:?}, expected {:?}",
                    t.dims(),
                    var.dims()
                )));
            }
            var.set(&t.to_dtype(DType::F32)?.to_device(var.device())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal_times_gain() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for (r, c) in [(64, 4), (2, 64), (8, 8)] {
            let m = orthogonal(r, c, 2.0, &mut rng);
            let (n, len) = if r >= c { (c, r) } else { (r, c) };
            let get = |k: usize, i: usize| if r >= c { m[i * c + k] } else { m[k * c + i] };
            for a in 0..n {
                for b in 0..n {
                    let dot: f32 = (0..len).map(|i| get(a, i) * get(b, i)).sum();
                    let want = if a == b { 4.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-3, "{r}x{c} ({a},{b}) {dot}");
                }
            }
        }
    }

    #[test]
    fn shapes_of_the_mlp_and_cnn() {
        let dev = Device::Cpu;
        let mlp = ActorCritic::new(
            NetConfig {
                encoder: Encoder::State { dim: 4 },
                head: ActionHead::Discrete { n: 2 },
                hidden: 64,
            },
            0,
            &dev,
        )
        .unwrap();
        let (h, v) = mlp
            .forward(&Tensor::zeros((5, 4), DType::F32, &dev).unwrap())
            .unwrap();
        assert_eq!((h.dims(), v.dims()), (&[5, 2][..], &[5][..]));
        for size in [64, 32] {
            let cnn = ActorCritic::new(
                NetConfig {
                    encoder: Encoder::Frames { channels: 6, size },
                    head: ActionHead::Continuous { dim: 2 },
                    hidden: 64,
                },
                0,
                &dev,
            )
            .unwrap();
            let x = Tensor::zeros((3, 6, size, size), DType::F32, &dev).unwrap();
            let (h, v) = cnn.forward(&x).unwrap();
            assert_eq!((h.dims(), v.dims()), (&[3, 2][..], &[3][..]));
        }
    }
}
