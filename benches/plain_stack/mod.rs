//! The peer baseline: the transformer stack of `/work/shared/peers/candle_plain`
//! (d 256, 6 layers, 4 heads of 64, 4x GELU MLP, pre-norm LayerNorm, an
//! additive block-causal mask, softmax_last_dim / layer_norm fast paths for
//! inference and their differentiable twins for training), copied so that it
//! is timed in the same binary, build and allocator as the fused stack.

use candle_core::{Device, Module, Result, Tensor, D};
use candle_nn::{ops, LayerNorm, Linear, VarBuilder};

const D_MODEL: usize = 256;
const LAYERS: usize = 6;
const HEADS: usize = 4;
const HEAD_DIM: usize = 64;
const TPF: usize = 64;

struct Block {
    ln1: LayerNorm,
    qkv: Linear,
    proj: Linear,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

fn norm(ln: &LayerNorm, x: &Tensor, train: bool) -> Result<Tensor> {
    if train {
        let bias = ln
            .bias()
            .ok_or_else(|| candle_core::Error::Msg("no bias".into()))?;
        ops::layer_norm_slow(x, ln.weight(), bias, ln.eps() as f32)
    } else {
        ln.forward(x)
    }
}

impl Block {
    fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            ln1: candle_nn::layer_norm(D_MODEL, 1e-5, vb.pp("ln1"))?,
            qkv: candle_nn::linear(D_MODEL, 3 * D_MODEL, vb.pp("qkv"))?,
            proj: candle_nn::linear(D_MODEL, D_MODEL, vb.pp("proj"))?,
            ln2: candle_nn::layer_norm(D_MODEL, 1e-5, vb.pp("ln2"))?,
            fc1: candle_nn::linear(D_MODEL, 4 * D_MODEL, vb.pp("fc1"))?,
            fc2: candle_nn::linear(4 * D_MODEL, D_MODEL, vb.pp("fc2"))?,
        })
    }

    /// `x [B, N, D]` -> q (pre-scaled), k, v `[B, H, N, Dh]`, contiguous.
    fn qkv_heads(&self, x: &Tensor, train: bool) -> Result<(Tensor, Tensor, Tensor)> {
        let (b, n, _) = x.dims3()?;
        let qkv = self
            .qkv
            .forward(&norm(&self.ln1, x, train)?)?
            .reshape((b, n, 3, HEADS, HEAD_DIM))?
            .permute((2, 0, 3, 1, 4))?;
        let q = (qkv.get(0)?.contiguous()? * (1.0 / (HEAD_DIM as f64).sqrt()))?;
        Ok((q, qkv.get(1)?.contiguous()?, qkv.get(2)?.contiguous()?))
    }

    fn finish(
        &self,
        x: &Tensor,
        qkv: (Tensor, Tensor, Tensor),
        mask: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor> {
        let (b, n, _) = x.dims3()?;
        let (q, k, v) = qkv;
        let mut att = q.matmul(&k.t()?)?;
        if let Some(m) = mask {
            att = att.broadcast_add(m)?;
        }
        let att = if train {
            ops::softmax(&att, D::Minus1)?
        } else {
            ops::softmax_last_dim(&att)?
        };
        let a = att.matmul(&v)?.transpose(1, 2)?.reshape((b, n, D_MODEL))?;
        let x = (x + self.proj.forward(&a)?)?;
        let h = self.fc1.forward(&norm(&self.ln2, &x, train)?)?.gelu()?;
        x + self.fc2.forward(&h)?
    }
}

/// The peer's stack; `x` is `[B, N, D]`.
pub struct PlainStack {
    blocks: Vec<Block>,
    ln_f: LayerNorm,
}

impl PlainStack {
    pub fn new(vb: VarBuilder) -> Result<Self> {
        let blocks = (0..LAYERS)
            .map(|i| Block::new(vb.pp(format!("blocks.{i}"))))
            .collect::<Result<_>>()?;
        Ok(Self {
            blocks,
            ln_f: candle_nn::layer_norm(D_MODEL, 1e-5, vb.pp("ln_f"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, mask: &Tensor, train: bool) -> Result<Tensor> {
        let mut x = x.clone();
        for blk in &self.blocks {
            let qkv = blk.qkv_heads(&x, train)?;
            x = blk.finish(&x, qkv, Some(mask), train)?;
        }
        norm(&self.ln_f, &x, train)
    }

    /// One new frame `x [B, 64, D]` on per-layer caches `[B, H, 512, Dh]`.
    pub fn step(&self, x: &Tensor, caches: &[(Tensor, Tensor)]) -> Result<Tensor> {
        let mut x = x.clone();
        for (blk, (kc, vc)) in self.blocks.iter().zip(caches) {
            let (q, k, v) = blk.qkv_heads(&x, false)?;
            let k = Tensor::cat(&[kc, &k], 2)?;
            let v = Tensor::cat(&[vc, &v], 2)?;
            x = blk.finish(&x, (q, k, v), None, false)?;
        }
        norm(&self.ln_f, &x, false)
    }

    /// Per-layer k/v of the earlier frames `x_prev [B, N, D]`.
    pub fn build_cache(
        &self,
        x_prev: &Tensor,
        mask_prev: &Tensor,
    ) -> Result<Vec<(Tensor, Tensor)>> {
        let mut x = x_prev.clone();
        let mut caches = Vec::new();
        for blk in &self.blocks {
            let (q, k, v) = blk.qkv_heads(&x, false)?;
            caches.push((k.clone(), v.clone()));
            x = blk.finish(&x, (q, k, v), Some(mask_prev), false)?;
        }
        Ok(caches)
    }
}

/// Additive `[n, n]` mask over `frames` frames: 0 where the key's frame is at
/// most the query's, `-inf` elsewhere.
pub fn block_causal_mask(frames: usize) -> Result<Tensor> {
    let n = frames * TPF;
    let m: Vec<f32> = (0..n * n)
        .map(|i| {
            if (i % n) / TPF <= (i / n) / TPF {
                0.0
            } else {
                f32::NEG_INFINITY
            }
        })
        .collect();
    Tensor::from_vec(m, (n, n), &Device::Cpu)
}
