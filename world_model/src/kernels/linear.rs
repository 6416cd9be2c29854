//! Fused inference linear layer: `y = x W^T + b`, optionally followed by GELU,
//! in one pass over the output.
//!
//! The output buffer is filled with the bias rows and gemm accumulates the
//! product into it, so the bias costs no extra pass, allocation or broadcast;
//! GELU (tanh form, as [`super::gelu`]) runs on each row chunk right after.
//! Forward only: the op has no backward, and [`super::linear`] takes it only
//! when no input records an autograd graph (a model built for inference).

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use gemm::Parallelism;

use super::cpu::{cpu_output, for_row_chunks, slice_f32, PAR_MIN_ELEMS};
use super::gelu::gelu_in_place;

/// What follows the affine map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    None,
    Gelu,
}

struct Linear {
    activation: Activation,
}

/// `x [m, k] @ w[n, k]^T + b[n]` into a fresh `[m, n]` buffer, then the activation.
fn linear_forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    activation: Activation,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(m * n);
    for _ in 0..m {
        out.extend_from_slice(b);
    }
    let threads = if m * n * k >= 64 * PAR_MIN_ELEMS {
        rayon::current_num_threads()
    } else {
        1
    };
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: out is [m, n] row-major, x is [m, k] row-major, w is [n, k]
    // row-major read as its transpose [k, n] (column stride k, row stride 1);
    // the caller checked every length.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            true,
            x.as_ptr(),
            1,
            k as isize,
            w.as_ptr(),
            k as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
    if activation == Activation::Gelu {
        for_row_chunks(&mut out, n, |_, chunk| gelu_in_place(chunk));
    }
    out
}

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        match self.activation {
            Activation::None => "fused-linear",
            Activation::Gelu => "fused-linear-gelu",
        }
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, w, b) = (
            slice_f32(xs, xl, self.name())?,
            slice_f32(ws, wl, self.name())?,
            slice_f32(bs, bl, self.name())?,
        );
        let (n, k) = wl.shape().dims2()?;
        let m = x.len() / k.max(1);
        if x.len() != m * k || b.len() != n || w.len() != n * k {
            bail!(
                "{}: x {:?}, weight {:?}, bias {:?} do not fit",
                self.name(),
                xl.shape(),
                wl.shape(),
                bl.shape()
            );
        }
        let mut dims = xl.shape().dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = n;
        }
        Ok(cpu_output(
            linear_forward(x, w, b, (m, k, n), self.activation),
            dims,
        ))
    }
}

/// The fused op on CPU `f32` tensors; `x` `[..., k]`, `w` `[n, k]`, `b` `[n]`.
pub(crate) fn linear(x: &Tensor, w: &Tensor, b: &Tensor, activation: Activation) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3_no_bwd(&w.contiguous()?, &b.contiguous()?, &Linear { activation })
}

#[cfg(test)]
mod tests {
    use super::super::{reference, testing::*};
    use super::*;
    use candle_core::Module;

    #[test]
    fn matches_matmul_plus_bias_and_gelu() -> Result<()> {
        for (shape, n) in [
            (vec![1usize, 3], 5usize),
            (vec![2, 64, 128], 384),
            (vec![3, 7, 33], 512),
        ] {
            let x = random_tensor(&shape, 1)?;
            let k = *shape.last().unwrap();
            let w = random_tensor(&[n, k], 2)?;
            let b = random_tensor(&[n], 3)?;
            let plain = candle_nn::Linear::new(w.clone(), Some(b.clone())).forward(&x)?;
            let fused = linear(&x, &w, &b, Activation::None)?;
            assert_eq!(fused.dims(), plain.dims());
            assert!(max_rel_diff(&fused, &plain)? < 1e-5);
            let fused = linear(&x, &w, &b, Activation::Gelu)?;
            assert!(max_rel_diff(&fused, &reference::gelu(&plain)?)? < FORWARD_TOL);
        }
        // forward only: a graph-recording input gets an error, not a silent detach
        let v = candle_core::Var::from_tensor(&random_tensor(&[2, 3], 4)?)?;
        let (w, b) = (random_tensor(&[4, 3], 5)?, random_tensor(&[4], 6)?);
        let y = linear(v.as_tensor(), &w, &b, Activation::None)?;
        assert!(y.sum_all()?.backward().is_err() || !y.track_op());
        Ok(())
    }
}
