//! Per-frame conditioning (noise level + action) and position tables (3D rotary
//! over (t, y, x)) for the DiT.

use candle_core::{DType, Device, Module, Tensor, D};

use crate::config::{ActionKind, ModelConfig};
use crate::model_error::{shape_error, ModelResult};
use crate::params::{Init, ParamStore};

/// Sinusoidal features of `1000 s` as DiT's timestep embedding.
///
/// `s`: `[B, F]` noise levels in [0, 1]; returns `[B, F, dim]` (cos half, then sin half).
pub fn sinusoidal(s: &Tensor, dim: usize) -> ModelResult<Tensor> {
    let half = dim / 2;
    let freqs: Vec<f32> = (0..half)
        .map(|i| (-(10000f64.ln()) * i as f64 / half as f64).exp() as f32 * 1000.0)
        .collect();
    let freqs = Tensor::from_vec(freqs, (1, 1, half), s.device())?;
    let angles = s
        .to_dtype(DType::F32)?
        .unsqueeze(2)?
        .broadcast_mul(&freqs)?;
    Ok(Tensor::cat(&[angles.cos()?, angles.sin()?], D::Minus1)?)
}

/// How many rotary pairs go to (t, y, x) for a head of `head_dim` values:
/// y and x get 3/8 of the pairs each, t the rest (8/12/12 dims for a head of 32).
pub fn rope_split(head_dim: usize) -> [usize; 3] {
    let pairs = head_dim / 2;
    let yx = 3 * pairs / 8;
    [pairs - 2 * yx, yx, yx]
}

/// Rotary tables for frames `t0..t0+frames` of a `grid` of patches.
///
/// Returns `(cos, sin)`, each `[frames * gy * gx, head_dim / 2]`, tokens in
/// frame-major, row, column order; pair `i` of an axis with `n` pairs turns by
/// `pos * base^(-i/n)`.
pub fn rope_tables(
    t0: usize,
    frames: usize,
    grid: (usize, usize),
    head_dim: usize,
    base: f64,
    device: &Device,
) -> ModelResult<(Tensor, Tensor)> {
    let split = rope_split(head_dim);
    let half = head_dim / 2;
    let (gy, gx) = grid;
    let l = frames * gy * gx;
    let inv: Vec<Vec<f64>> = split
        .iter()
        .map(|&n| (0..n).map(|i| base.powf(-(i as f64) / n as f64)).collect())
        .collect();
    let (mut cos, mut sin) = (Vec::with_capacity(l * half), Vec::with_capacity(l * half));
    for f in 0..frames {
        for y in 0..gy {
            for x in 0..gx {
                let pos = [(t0 + f) as f64, y as f64, x as f64];
                for (axis, freqs) in inv.iter().enumerate() {
                    for fr in freqs {
                        let a = pos[axis] * fr;
                        cos.push(a.cos() as f32);
                        sin.push(a.sin() as f32);
                    }
                }
            }
        }
    }
    Ok((
        Tensor::from_vec(cos, (l, half), device)?,
        Tensor::from_vec(sin, (l, half), device)?,
    ))
}

/// Embeds an action vector or index into the token width.
pub enum ActionEmbed {
    Continuous {
        fc1: candle_nn::Linear,
        fc2: candle_nn::Linear,
    },
    Discrete {
        table: candle_nn::Embedding,
        n: usize,
    },
}

/// Noise-level and action embeddings summed into one vector per frame.
pub struct Conditioning {
    noise_fc1: candle_nn::Linear,
    noise_fc2: candle_nn::Linear,
    action: ActionEmbed,
    no_action: Tensor,
    noise_features: usize,
    action_width: usize,
}

impl Conditioning {
    pub fn new(cfg: &ModelConfig, p: &mut ParamStore) -> ModelResult<Self> {
        let d = cfg.width;
        let action = match cfg.action {
            ActionKind::Continuous { dim } => ActionEmbed::Continuous {
                fc1: p.linear("action.fc1", dim, d, false)?,
                fc2: p.linear("action.fc2", d, d, false)?,
            },
            ActionKind::Discrete { n } => ActionEmbed::Discrete {
                table: candle_nn::Embedding::new(
                    p.tensor("action.table", &[n, d], Init::Normal(0.02))?,
                    d,
                ),
                n,
            },
        };
        Ok(Self {
            noise_fc1: p.linear("noise.fc1", cfg.noise_features, d, false)?,
            noise_fc2: p.linear("noise.fc2", d, d, false)?,
            action,
            no_action: p.tensor("no_action", &[d], Init::Zeros)?,
            noise_features: cfg.noise_features,
            action_width: cfg.action.width(),
        })
    }

    /// `s`: `[B, F]` noise levels, `actions`: `[B, F, A]` (the action taken just
    /// before each frame; a discrete action is its index as f32). When `t0 == 0`
    /// window position 0 gets the learned "no action" vector instead.
    /// Returns `[B, F, D]`.
    pub fn forward(&self, s: &Tensor, actions: &Tensor, t0: usize) -> ModelResult<Tensor> {
        let (b, f) = s.dims2()?;
        if actions.dims() != [b, f, self.action_width] {
            return Err(shape_error(
                "actions",
                [b, f, self.action_width],
                actions.dims(),
            ));
        }
        let noise = sinusoidal(s, self.noise_features)?;
        let noise = self
            .noise_fc2
            .forward(&self.noise_fc1.forward(&noise)?.silu()?)?;
        let act = match &self.action {
            ActionEmbed::Continuous { fc1, fc2 } => fc2.forward(&fc1.forward(actions)?.silu()?)?,
            ActionEmbed::Discrete { table, n } => {
                let idx = actions
                    .squeeze(2)?
                    .clamp(0f32, (*n - 1) as f32)?
                    .to_dtype(DType::U32)?;
                table.forward(&idx)?
            }
        };
        let act = if t0 == 0 {
            let d = self.no_action.dim(0)?;
            let none = self.no_action.reshape((1, 1, d))?.broadcast_as((b, 1, d))?;
            if f == 1 {
                none.contiguous()?
            } else {
                Tensor::cat(&[none, act.narrow(1, 1, f - 1)?], 1)?
            }
        } else {
            act
        };
        Ok((noise + act)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_split_matches_the_recipe() {
        assert_eq!(rope_split(32), [4, 6, 6]);
        assert_eq!(rope_split(64), [8, 12, 12]);
        assert_eq!(rope_split(16), [2, 3, 3]);
    }

    #[test]
    fn rope_tables_turn_by_position() {
        let (cos, sin) = rope_tables(2, 1, (2, 2), 32, 100.0, &Device::Cpu).unwrap();
        assert_eq!(cos.dims(), &[4, 16]);
        let c: Vec<Vec<f32>> = cos.to_vec2().unwrap();
        let s: Vec<Vec<f32>> = sin.to_vec2().unwrap();
        // pair 0 is the t axis at full frequency: angle = t = 2
        assert!((c[0][0] - 2f32.cos()).abs() < 1e-6 && (s[0][0] - 2f32.sin()).abs() < 1e-6);
        // token 1 is (y 0, x 1): first x pair (index 10) turns by 1
        assert!((s[1][10] - 1f32.sin()).abs() < 1e-6);
        assert!(s[1][4].abs() < 1e-6); // y pair at y = 0
    }
}
