//! Fused gated residual `x + gate * y` with its backward pass.
//!
//! The gate `[B, F, D]` is broadcast over the `N` tokens of each frame. The
//! backward pass hands `grad` through to `x` and, per (batch, frame) group,
//! writes `dy = grad * gate` and `dgate = sum over N of grad * y` in one sweep.

use super::cpu::{cpu_output, cpu_tensor, for_row_chunks, slice_f32, with_f32, PAR_MIN_ELEMS};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// The candle custom op over `(x [B,F,N,D], gate [B,F,D], y [B,F,N,D])`.
struct GatedResidual;

fn forward(x: &[f32], gate: &[f32], y: &[f32], n: usize, d: usize) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    for_row_chunks(&mut out, d, |first_row, chunk| {
        for (i, out_row) in chunk.chunks_exact_mut(d).enumerate() {
            let row = first_row + i;
            let group = row / n;
            let at = row * d;
            let gate = &gate[group * d..(group + 1) * d];
            for (((o, &xv), &yv), &gv) in out_row
                .iter_mut()
                .zip(&x[at..at + d])
                .zip(&y[at..at + d])
                .zip(gate)
            {
                *o = xv + gv * yv;
            }
        }
    });
    out
}

/// Returns `(dgate [B,F,D], dy [B,F,N,D])` as flat buffers.
fn backward(gate: &[f32], y: &[f32], grad: &[f32], n: usize, d: usize) -> (Vec<f32>, Vec<f32>) {
    let mut dgate = vec![0f32; gate.len()];
    let mut dy = vec![0f32; y.len()];
    let group_work = |(group, (dgate, dy)): (usize, (&mut [f32], &mut [f32]))| {
        let gate = &gate[group * d..(group + 1) * d];
        for (r, dy_row) in dy.chunks_exact_mut(d).enumerate() {
            let at = (group * n + r) * d;
            let (g_row, y_row) = (&grad[at..at + d], &y[at..at + d]);
            for j in 0..d {
                dy_row[j] = g_row[j] * gate[j];
                dgate[j] += g_row[j] * y_row[j];
            }
        }
    };
    if y.len() < PAR_MIN_ELEMS {
        dgate
            .chunks_mut(d)
            .zip(dy.chunks_mut(n * d))
            .enumerate()
            .for_each(group_work);
    } else {
        dgate
            .par_chunks_mut(d)
            .zip(dy.par_chunks_mut(n * d))
            .enumerate()
            .for_each(group_work);
    }
    (dgate, dy)
}

impl CustomOp3 for GatedResidual {
    fn name(&self) -> &'static str {
        "fused-gated-residual"
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
        let (_, _, n, d) = l1.shape().dims4()?;
        let x = slice_f32(s1, l1, self.name())?;
        let gate = slice_f32(s2, l2, self.name())?;
        let y = slice_f32(s3, l3, self.name())?;
        Ok(cpu_output(forward(x, gate, y, n, d), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        gate: &Tensor,
        y: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (_, _, n, d) = y.dims4()?;
        let name = "fused-gated-residual backward";
        let (dgate, dy) = with_f32(gate, name, |ga| {
            with_f32(y, name, |yv| {
                with_f32(grad, name, |g| Ok(backward(ga, yv, g, n, d)))
            })
        })?;
        Ok((
            Some(grad.clone()),
            Some(cpu_tensor(dgate, gate.shape().clone())?),
            Some(cpu_tensor(dy, y.shape().clone())?),
        ))
    }
}

/// Fused path of [`super::gated_residual`]; shapes already checked.
pub(crate) fn gated_residual(x: &Tensor, gate: &Tensor, y: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&gate.contiguous()?, &y.contiguous()?, GatedResidual)
}

#[cfg(test)]
mod tests {
    use super::super::{reference, testing::*};
    use candle_core::Result;

    fn check(dims: [usize; 4], seed: u64) -> Result<()> {
        let [b, f, _, d] = dims;
        let x = random_tensor(&dims, seed)?;
        let gate = random_tensor(&[b, f, d], seed + 1)?;
        let y = random_tensor(&dims, seed + 2)?;
        assert_same_with_grads(
            &[x, gate, y],
            |t| super::gated_residual(&t[0], &t[1], &t[2]),
            |t| reference::gated_residual(&t[0], &t[1], &t[2]),
        )
    }

    #[test]
    fn matches_reference_on_model_and_odd_shapes() -> Result<()> {
        check([2, 9, 64, 256], 1)?;
        check([1, 3, 7, 5], 2)?;
        check([3, 2, 1, 33], 3)
    }

    #[test]
    fn accepts_strided_inputs() -> Result<()> {
        let x = random_tensor(&[2, 3, 8, 5], 4)?;
        let gate = random_tensor(&[2, 3, 8], 5)?;
        let y = random_tensor(&[2, 3, 8, 5], 6)?;
        assert_same_with_grads(
            &[x, gate, y],
            |t| super::gated_residual(&t[0].transpose(2, 3)?, &t[1], &t[2].transpose(2, 3)?),
            |t| reference::gated_residual(&t[0].transpose(2, 3)?, &t[1], &t[2].transpose(2, 3)?),
        )
    }
}
