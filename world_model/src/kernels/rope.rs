//! Fused rotary embedding on interleaved pairs, like candle's `rope_i`, with
//! its backward pass (the same rotation by the opposite angle).

use super::cpu::{cpu_output, cpu_tensor, for_row_chunks, slice_f32, with_f32};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

/// Rotates each pair `(x[2i], x[2i+1])` of every row by the angle of row
/// position `l = row % seq_len`; `sign = -1` rotates backwards.
fn rotate(
    x: &[f32],
    cos: &[f32],
    sin: &[f32],
    seq_len: usize,
    head_dim: usize,
    sign: f32,
) -> Vec<f32> {
    let half = head_dim / 2;
    let mut out = vec![0f32; x.len()];
    for_row_chunks(&mut out, head_dim, |first_row, chunk| {
        for (i, out_row) in chunk.chunks_exact_mut(head_dim).enumerate() {
            let row = first_row + i;
            let pos = row % seq_len;
            let x_row = &x[row * head_dim..(row + 1) * head_dim];
            let cos = &cos[pos * half..(pos + 1) * half];
            let sin = &sin[pos * half..(pos + 1) * half];
            for (((o, xp), &c), &s) in out_row
                .chunks_exact_mut(2)
                .zip(x_row.chunks_exact(2))
                .zip(cos)
                .zip(sin)
            {
                let s = sign * s;
                o[0] = xp[0] * c - xp[1] * s;
                o[1] = xp[0] * s + xp[1] * c;
            }
        }
    });
    out
}

/// The candle custom op over `(x [B,H,L,Dh], cos [L,Dh/2], sin [L,Dh/2])`.
struct RopeInterleaved;

impl CustomOp3 for RopeInterleaved {
    fn name(&self) -> &'static str {
        "fused-rope-interleaved"
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
        let (_, _, l, dh) = l1.shape().dims4()?;
        let x = slice_f32(s1, l1, self.name())?;
        let cos = slice_f32(s2, l2, self.name())?;
        let sin = slice_f32(s3, l3, self.name())?;
        Ok(cpu_output(
            rotate(x, cos, sin, l, dh, 1.0),
            l1.shape().clone(),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (_, _, l, dh) = x.dims4()?;
        let name = "fused-rope-interleaved backward";
        let dx = with_f32(cos, name, |c| {
            with_f32(sin, name, |s| {
                with_f32(grad, name, |g| Ok(rotate(g, c, s, l, dh, -1.0)))
            })
        })?;
        Ok((Some(cpu_tensor(dx, x.shape().clone())?), None, None))
    }
}

/// Fused path of [`super::rope`]; shapes already checked. No gradient flows
/// to `cos`/`sin` (they are fixed tables).
pub(crate) fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&cos.contiguous()?, &sin.contiguous()?, RopeInterleaved)
}

#[cfg(test)]
mod tests {
    use super::super::{reference, testing::*};
    use candle_core::{Result, Tensor};

    /// Checks value and the gradient to `x` (cos/sin are constants, not variables).
    fn check(dims: [usize; 4], seed: u64, transpose: bool) -> Result<()> {
        let [_, h, l, dh] = dims;
        // A transposed view swaps heads and positions.
        let l = if transpose { h } else { l };
        let angles = (random_tensor(&[l, dh / 2], seed + 1)? * 3.0)?;
        let (cos, sin) = (angles.cos()?, angles.sin()?);
        let view = |t: &Tensor| {
            if transpose {
                t.transpose(1, 2)
            } else {
                Ok(t.clone())
            }
        };
        let x = random_tensor(&dims, seed)?;
        assert_same_with_grads(
            &[x],
            |t| super::rope(&view(&t[0])?, &cos, &sin),
            |t| reference::rope(&view(&t[0])?, &cos, &sin),
        )?;
        // The fused op must agree with candle's own rope_i too.
        let x = view(&random_tensor(&dims, seed + 2)?)?.contiguous()?;
        let ours = super::rope(&x, &cos, &sin)?;
        let candle = candle_nn::rotary_emb::rope_i(&x, &cos, &sin)?;
        assert!(max_rel_diff(&ours, &candle)? <= FORWARD_TOL);
        Ok(())
    }

    #[test]
    fn matches_reference_and_candle() -> Result<()> {
        check([2, 4, 64, 64], 1, false)?;
        check([1, 3, 5, 6], 2, false)?;
        check([2, 3, 7, 8], 3, true)
    }
}
