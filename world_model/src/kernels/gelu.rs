//! Fused GELU (tanh approximation) with its backward pass.
//!
//! `0.5 x (1 + tanh(u)) = x * sigmoid(2u)` with `u = sqrt(2/pi) (x + 0.044715 x^3)`,
//! so one vectorised `exp` per element gives the value and, in the backward
//! pass, the derivative `s + x s (1 - s) 2 u'`.

use super::cpu::{cpu_output, cpu_tensor, exp_approx, for_row_chunks, slice_f32, with_f32};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const CUBIC: f32 = 0.044_715;

/// `sigmoid(2u)` and `2u'` for one element.
#[inline(always)]
fn gate_and_slope(x: f32) -> (f32, f32) {
    let x2 = x * x;
    let two_u = 2.0 * SQRT_2_OVER_PI * x * (1.0 + CUBIC * x2);
    let s = 1.0 / (1.0 + exp_approx(-two_u));
    let two_du = 2.0 * SQRT_2_OVER_PI * (1.0 + 3.0 * CUBIC * x2);
    (s, two_du)
}

/// GELU over `xs` in place (one row chunk of a fused op's output).
#[inline]
pub(crate) fn gelu_in_place(xs: &mut [f32]) {
    for v in xs {
        let (s, _) = gate_and_slope(*v);
        *v *= s;
    }
}

fn gelu_forward(x: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    for_row_chunks(&mut out, 1, |first, chunk| {
        let x = &x[first..first + chunk.len()];
        for (o, &v) in chunk.iter_mut().zip(x) {
            let (s, _) = gate_and_slope(v);
            *o = v * s;
        }
    });
    out
}

fn gelu_backward(x: &[f32], grad: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    for_row_chunks(&mut out, 1, |first, chunk| {
        let range = first..first + chunk.len();
        for ((o, &v), &g) in chunk.iter_mut().zip(&x[range.clone()]).zip(&grad[range]) {
            let (s, two_du) = gate_and_slope(v);
            *o = g * (s + v * s * (1.0 - s) * two_du);
        }
    });
    out
}

/// The candle custom op; see [`gelu`].
struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "fused-gelu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice_f32(storage, layout, self.name())?;
        Ok(cpu_output(gelu_forward(x), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let dx = with_f32(arg, "fused-gelu backward", |x| {
            with_f32(grad_res, "fused-gelu backward", |g| Ok(gelu_backward(x, g)))
        })?;
        Ok(Some(cpu_tensor(dx, arg.shape().clone())?))
    }
}

/// Fused GELU on a CPU `f32` tensor of any shape; the output has its shape.
pub(crate) fn gelu(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Gelu)
}

#[cfg(test)]
mod tests {
    use super::super::{reference, testing::*};
    use candle_core::{Device, Result, Tensor};

    #[test]
    fn matches_reference_forward_and_backward() -> Result<()> {
        for shape in [vec![7usize], vec![3, 37, 129], vec![2, 64, 1024]] {
            let x = (random_tensor(&shape, 1)? * 3.0)?;
            assert_same_with_grads(&[x], |t| super::gelu(&t[0]), |t| reference::gelu(&t[0]))?;
        }
        // Strided input: a transposed view.
        let x = (random_tensor(&[33, 17], 2)? * 3.0)?;
        assert_same_with_grads(
            &[x],
            |t| super::gelu(&t[0].t()?),
            |t| reference::gelu(&t[0].t()?),
        )?;
        Ok(())
    }

    #[test]
    fn extreme_inputs_stay_finite() -> Result<()> {
        let x = Tensor::new(&[-1e4f32, -50., 50., 1e4], &Device::Cpu)?;
        let y = super::gelu(&x)?.to_vec1::<f32>()?;
        assert!(y[0].abs() < 1e-30 && y[1].abs() < 1e-30);
        assert_eq!(&y[2..], &[50.0, 1e4]);
        Ok(())
    }
}
