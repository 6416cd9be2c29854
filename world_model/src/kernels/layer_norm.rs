//! Fused modulated layer norm `LN(x) * (1 + scale) + shift` with its backward.
//!
//! Forward: one pass per row of `D` for mean and variance, one to write the
//! output. Backward recomputes the row statistics from `x` and, per (batch,
//! frame) group of `N` rows, produces `dx` and the summed `dshift`/`dscale`.

use super::cpu::{
    cpu_output, cpu_tensor, dot, for_row_chunks, slice_f32, sum_map, with_f32, PAR_MIN_ELEMS,
};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Mean and reciprocal standard deviation of one row.
#[inline]
fn row_stats(row: &[f32], eps: f32) -> (f32, f32) {
    let d = row.len() as f32;
    let mean = sum_map(row, |v| v) / d;
    let var = sum_map(row, |v| (v - mean) * (v - mean)) / d;
    (mean, 1.0 / (var + eps).sqrt())
}

/// The candle custom op over `(x [B,F,N,D], shift [B,F,D], scale [B,F,D])`.
struct ModulatedLayerNorm {
    eps: f32,
}

impl ModulatedLayerNorm {
    fn forward(&self, x: &[f32], shift: &[f32], scale: &[f32], n: usize, d: usize) -> Vec<f32> {
        let mut out = vec![0f32; x.len()];
        for_row_chunks(&mut out, d, |first_row, chunk| {
            for (i, out_row) in chunk.chunks_exact_mut(d).enumerate() {
                let row = first_row + i;
                let group = row / n;
                let x_row = &x[row * d..(row + 1) * d];
                let shift = &shift[group * d..(group + 1) * d];
                let scale = &scale[group * d..(group + 1) * d];
                let (mean, rstd) = row_stats(x_row, self.eps);
                for (((o, &v), &sh), &sc) in out_row.iter_mut().zip(x_row).zip(shift).zip(scale) {
                    *o = (v - mean) * rstd * (1.0 + sc) + sh;
                }
            }
        });
        out
    }

    /// Returns `(dx [B,F,N,D], dshift [B,F,D], dscale [B,F,D])` as flat buffers.
    fn backward(
        &self,
        x: &[f32],
        scale: &[f32],
        grad: &[f32],
        n: usize,
        d: usize,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let groups = x.len() / (n * d);
        let mut dx = vec![0f32; x.len()];
        let mut dshift = vec![0f32; groups * d];
        let mut dscale = vec![0f32; groups * d];
        let group_work =
            |(group, ((dx, dshift), dscale)): (usize, ((&mut [f32], &mut [f32]), &mut [f32]))| {
                let scale = &scale[group * d..(group + 1) * d];
                let mut gh = vec![0f32; d];
                let mut xhat = vec![0f32; d];
                for (r, dx_row) in dx.chunks_exact_mut(d).enumerate() {
                    let at = (group * n + r) * d;
                    let x_row = &x[at..at + d];
                    let g_row = &grad[at..at + d];
                    let (mean, rstd) = row_stats(x_row, self.eps);
                    for (xh, &v) in xhat.iter_mut().zip(x_row) {
                        *xh = (v - mean) * rstd;
                    }
                    for j in 0..d {
                        dshift[j] += g_row[j];
                        dscale[j] += g_row[j] * xhat[j];
                        gh[j] = g_row[j] * (1.0 + scale[j]);
                    }
                    let mean_gh = sum_map(&gh, |v| v) / d as f32;
                    let mean_gh_xhat = dot(&gh, &xhat) / d as f32;
                    for ((o, &g), &xh) in dx_row.iter_mut().zip(&gh).zip(&xhat) {
                        *o = rstd * (g - mean_gh - xh * mean_gh_xhat);
                    }
                }
            };
        if x.len() < PAR_MIN_ELEMS {
            dx.chunks_mut(n * d)
                .zip(dshift.chunks_mut(d))
                .zip(dscale.chunks_mut(d))
                .enumerate()
                .for_each(group_work);
        } else {
            dx.par_chunks_mut(n * d)
                .zip(dshift.par_chunks_mut(d))
                .zip(dscale.par_chunks_mut(d))
                .enumerate()
                .for_each(group_work);
        }
        (dx, dshift, dscale)
    }
}

impl CustomOp3 for ModulatedLayerNorm {
    fn name(&self) -> &'static str {
        "fused-modulated-layer-norm"
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
        let shift = slice_f32(s2, l2, self.name())?;
        let scale = slice_f32(s3, l3, self.name())?;
        Ok(cpu_output(
            self.forward(x, shift, scale, n, d),
            l1.shape().clone(),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        shift: &Tensor,
        scale: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (_, _, n, d) = x.dims4()?;
        let name = "fused-modulated-layer-norm backward";
        let (dx, dshift, dscale) = with_f32(x, name, |x| {
            with_f32(scale, name, |sc| {
                with_f32(grad, name, |g| Ok(self.backward(x, sc, g, n, d)))
            })
        })?;
        Ok((
            Some(cpu_tensor(dx, x.shape().clone())?),
            Some(cpu_tensor(dshift, shift.shape().clone())?),
            Some(cpu_tensor(dscale, scale.shape().clone())?),
        ))
    }
}

/// Fused path of [`super::modulated_layer_norm`]; shapes already checked.
pub(crate) fn modulated_layer_norm(
    x: &Tensor,
    shift: &Tensor,
    scale: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    let op = ModulatedLayerNorm { eps: eps as f32 };
    x.contiguous()?
        .apply_op3(&shift.contiguous()?, &scale.contiguous()?, op)
}

#[cfg(test)]
mod tests {
    use super::super::{reference, testing::*};
    use candle_core::Result;

    fn check(b: usize, f: usize, n: usize, d: usize, seed: u64) -> Result<()> {
        let x = (random_tensor(&[b, f, n, d], seed)? * 3.0)?;
        let shift = random_tensor(&[b, f, d], seed + 1)?;
        let scale = random_tensor(&[b, f, d], seed + 2)?;
        assert_same_with_grads(
            &[x, shift, scale],
            |t| super::modulated_layer_norm(&t[0], &t[1], &t[2], 1e-5),
            |t| reference::modulated_layer_norm(&t[0], &t[1], &t[2], 1e-5),
        )
    }

    #[test]
    fn matches_reference_on_model_and_odd_shapes() -> Result<()> {
        check(2, 3, 64, 256, 10)?;
        check(1, 2, 5, 7, 20)?;
        check(3, 1, 33, 65, 30)
    }

    #[test]
    fn accepts_strided_inputs() -> Result<()> {
        // x given as a transposed view of a [B, F, D, N] variable.
        let x = random_tensor(&[2, 2, 16, 9], 40)?;
        let shift = random_tensor(&[2, 2, 16], 41)?;
        let scale = random_tensor(&[2, 2, 16], 42)?;
        assert_same_with_grads(
            &[x, shift, scale],
            |t| super::modulated_layer_norm(&t[0].transpose(2, 3)?, &t[1], &t[2], 1e-5),
            |t| reference::modulated_layer_norm(&t[0].transpose(2, 3)?, &t[1], &t[2], 1e-5),
        )
    }
}
