//! One adaLN-Zero transformer block over spacetime tokens: per-frame shift, scale
//! and gate; fused QKV projection; 3D rotary positions; block-causal attention
//! over the window (and an optional cache of earlier frames' keys and values).

use candle_core::{Module, Tensor};

use super::dense::Dense;
use crate::kernels;
use crate::model_error::ModelResult;
use crate::params::ParamStore;

/// Keys and values of earlier frames for one block, each `[B, H, Lc, Dh]`.
pub type BlockKv = (Tensor, Tensor);

/// A DiT block with zero-initialised modulation (so it starts as the identity).
pub struct Block {
    ada: candle_nn::Linear,
    qkv: Dense,
    proj: Dense,
    fc1: Dense,
    fc2: Dense,
    heads: usize,
    width: usize,
}

/// Position tables and attention layout shared by all blocks of one forward.
pub struct AttentionLayout<'a> {
    /// `[L, Dh/2]` rotary tables for this call's tokens.
    pub cos: &'a Tensor,
    pub sin: &'a Tensor,
    pub tokens_per_frame: usize,
    /// Token index of this call's first token in the key sequence (cached tokens first).
    pub q_offset: usize,
    /// Frames each query sees, its own included (0: every earlier frame).
    pub span: usize,
}

impl Block {
    pub fn new(
        name: &str,
        width: usize,
        heads: usize,
        mlp_ratio: usize,
        p: &mut ParamStore,
    ) -> ModelResult<Self> {
        Ok(Self {
            ada: p.linear(&format!("{name}.ada"), width, 6 * width, true)?,
            qkv: p.dense(&format!("{name}.qkv"), width, 3 * width, false)?,
            proj: p.dense(&format!("{name}.proj"), width, width, false)?,
            fc1: p.dense(&format!("{name}.fc1"), width, mlp_ratio * width, false)?,
            fc2: p.dense(&format!("{name}.fc2"), mlp_ratio * width, width, false)?,
            heads,
            width,
        })
    }

    /// `x`: `[B, F, N, D]` tokens, `cond_silu`: `[B, F, D]` SiLU of the per-frame
    /// conditioning, `cache`: keys/values `[B, H, Lc, Dh]` of earlier frames.
    /// Returns the new tokens `[B, F, N, D]` and this call's keys/values `[B, H, F*N, Dh]`.
    pub fn forward(
        &self,
        x: &Tensor,
        cond_silu: &Tensor,
        layout: &AttentionLayout,
        cache: Option<&BlockKv>,
    ) -> ModelResult<(Tensor, BlockKv)> {
        let (b, f, n, d) = x.dims4()?;
        let modulation = self.ada.forward(cond_silu)?; // [B, F, 6D]
        let chunk =
            |i: usize| -> ModelResult<Tensor> { Ok(modulation.narrow(2, i * d, d)?.contiguous()?) };
        let (shift1, scale1, gate1) = (chunk(0)?, chunk(1)?, chunk(2)?);
        let (shift2, scale2, gate2) = (chunk(3)?, chunk(4)?, chunk(5)?);

        let h = kernels::modulated_layer_norm(x, &shift1, &scale1, 1e-6)?;
        // q, k, v: [B, H, L, Dh], q and k rotated
        let (q, k, v) = kernels::split_heads_rope(
            &self.qkv.forward(&h)?.reshape((b, f * n, 3 * d))?,
            self.heads,
            layout.cos,
            layout.sin,
        )?;
        let (k_all, v_all) = match cache {
            Some((ck, cv)) => (Tensor::cat(&[ck, &k], 2)?, Tensor::cat(&[cv, &v], 2)?),
            None => (k.clone(), v.clone()),
        };
        let attn = kernels::block_causal_attention_span(
            &q,
            &k_all,
            &v_all,
            layout.tokens_per_frame,
            layout.q_offset,
            layout.span,
        )?;
        let attn = attn.transpose(1, 2)?.reshape((b, f, n, self.width))?;
        let x = kernels::gated_residual(x, &gate1, &self.proj.forward(&attn)?)?;

        let h = kernels::modulated_layer_norm(&x, &shift2, &scale2, 1e-6)?;
        let m = self.fc2.forward(&self.fc1.forward_gelu(&h)?)?;
        let x = kernels::gated_residual(&x, &gate2, &m)?;
        Ok((x, (k, v)))
    }
}
