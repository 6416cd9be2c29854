//! Fused inference split of a packed q/k/v projection into heads, with the
//! rotary embedding applied to q and k on the way: one pass over the
//! projection instead of a permute copy and two rope ops.
//!
//! Forward only, like [`super::linear`]: [`super::split_heads_rope`] takes it
//! when no input records an autograd graph.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::cpu::{cpu_output, slice_f32, PAR_MIN_ELEMS};

struct SplitHeadsRope {
    heads: usize,
}

/// `qkv [B, L, 3, H, Dh]` -> `[3, B, H, L, Dh]`, pairs of q and k rotated by
/// position `l`'s angles (`cos`/`sin` `[L, Dh/2]`), v copied.
fn split(
    qkv: &[f32],
    cos: &[f32],
    sin: &[f32],
    (b, l, h, dh): (usize, usize, usize, usize),
) -> Vec<f32> {
    let half = dh / 2;
    let plane = b * h * l * dh;
    let mut out = vec![0f32; 3 * plane];
    // one task per (part, batch, head): a contiguous [L, Dh] block of the output
    let work = |(idx, block): (usize, &mut [f32])| {
        let (part, rest) = (idx / (b * h), idx % (b * h));
        let (bi, hi) = (rest / h, rest % h);
        for (li, out_row) in block.chunks_exact_mut(dh).enumerate() {
            let src = ((bi * l + li) * 3 + part) * h * dh + hi * dh;
            let x = &qkv[src..src + dh];
            if part == 2 {
                out_row.copy_from_slice(x);
                continue;
            }
            let (c, s) = (
                &cos[li * half..(li + 1) * half],
                &sin[li * half..(li + 1) * half],
            );
            for (((o, xp), &c), &s) in out_row
                .chunks_exact_mut(2)
                .zip(x.chunks_exact(2))
                .zip(c)
                .zip(s)
            {
                o[0] = xp[0] * c - xp[1] * s;
                o[1] = xp[0] * s + xp[1] * c;
            }
        }
    };
    if out.len() < PAR_MIN_ELEMS || rayon::current_num_threads() == 1 {
        out.chunks_exact_mut(l * dh).enumerate().for_each(work);
    } else {
        out.par_chunks_exact_mut(l * dh).enumerate().for_each(work);
    }
    out
}

impl CustomOp3 for SplitHeadsRope {
    fn name(&self) -> &'static str {
        "fused-split-heads-rope"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, l, three_d) = l1.shape().dims3()?;
        let h = self.heads;
        let dh = three_d / 3 / h;
        if three_d != 3 * h * dh || dh % 2 != 0 {
            bail!(
                "{}: width {three_d} is not 3 x {h} heads of an even size",
                self.name()
            );
        }
        let qkv = slice_f32(s1, l1, self.name())?;
        let cos = slice_f32(s2, l2, self.name())?;
        let sin = slice_f32(s3, l3, self.name())?;
        if cos.len() != l * dh / 2 || sin.len() != cos.len() {
            bail!("{}: rotary tables do not cover {l} positions", self.name());
        }
        Ok(cpu_output(
            split(qkv, cos, sin, (b, l, h, dh)),
            (3, b, h, l, dh),
        ))
    }
}

/// The fused op on CPU `f32` tensors: `qkv` `[B, L, 3D]` -> `[3, B, H, L, Dh]`.
pub(crate) fn split_heads_rope(
    qkv: &Tensor,
    heads: usize,
    cos: &Tensor,
    sin: &Tensor,
) -> Result<Tensor> {
    qkv.contiguous()?.apply_op3_no_bwd(
        &cos.contiguous()?,
        &sin.contiguous()?,
        &SplitHeadsRope { heads },
    )
}
