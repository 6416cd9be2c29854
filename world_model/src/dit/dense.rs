//! A linear layer whose bias gradient is cheap.
//!
//! `candle_nn::Linear` adds its bias by broadcasting over every leading dim, and
//! candle's backward of that broadcast is a strided reduction over those dims:
//! at the DiT's training shapes it cost more than the matmul itself. Here the
//! bias enters as the rank-1 product `ones[M, 1] @ bias[1, out]`, so its gradient
//! is one matmul (`ones^T @ grad`) and the add needs no reduction.
//!
//! A model built for inference (its weights record no graph) takes the fused
//! forward-only kernel instead ([`crate::kernels::linear`]): bias, and GELU
//! for the MLP's first layer, inside the matmul's output pass.

use candle_core::{Module, Tensor};

use crate::kernels::{self, Activation};

/// `y = x W^T + b` over the last dim of `x` (any number of leading dims).
#[derive(Clone, Debug)]
pub struct Dense {
    weight: Tensor,
    bias: Tensor,
}

impl Dense {
    /// `weight`: `[out, in]`, `bias`: `[out]`.
    pub fn new(weight: Tensor, bias: Tensor) -> Self {
        Self { weight, bias }
    }

    /// `GELU(x W^T + b)`: one fused pass at inference, the composition in training.
    pub fn forward_gelu(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if !self.tracks_graph(x) {
            return kernels::linear(x, &self.weight, &self.bias, Activation::Gelu);
        }
        kernels::gelu(&self.forward(x)?)
    }

    fn tracks_graph(&self, x: &Tensor) -> bool {
        x.track_op() || self.weight.track_op() || self.bias.track_op()
    }
}

impl Module for Dense {
    /// `x`: `[..., in]` -> `[..., out]`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if !self.tracks_graph(x) {
            return kernels::linear(x, &self.weight, &self.bias, Activation::None);
        }
        let dims = x.dims().to_vec();
        let inp = *dims.last().unwrap_or(&0);
        let m = x.elem_count() / inp.max(1);
        let out = self.weight.dim(0)?;
        let y = x.reshape((m, inp))?.matmul(&self.weight.t()?)?;
        let ones = Tensor::ones((m, 1), y.dtype(), y.device())?;
        let y = (y + ones.matmul(&self.bias.reshape((1, out))?)?)?;
        let mut shape = dims;
        if let Some(last) = shape.last_mut() {
            *last = out;
        }
        y.reshape(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs()?.max_all()?.to_scalar::<f32>())
            .unwrap()
    }

    #[test]
    fn matches_candle_linear_and_its_gradients() {
        let dev = Device::Cpu;
        let w = Var::from_tensor(
            &Tensor::arange(0f32, 12.0, &dev)
                .unwrap()
                .reshape((4, 3))
                .unwrap()
                .affine(0.1, -0.5)
                .unwrap(),
        )
        .unwrap();
        let b = Var::from_tensor(&Tensor::new(&[0.1f32, -0.2, 0.3, 0.4], &dev).unwrap()).unwrap();
        let x = Tensor::arange(0f32, 18.0, &dev)
            .unwrap()
            .reshape((2, 3, 3))
            .unwrap()
            .affine(0.05, 0.0)
            .unwrap();
        let lin = candle_nn::Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
        let dense = Dense::new(w.as_tensor().clone(), b.as_tensor().clone());
        let y1 = lin.forward(&x).unwrap();
        let y2 = dense.forward(&x).unwrap();
        assert_eq!(y2.dims(), &[2, 3, 4]);
        assert!(max_abs_diff(&y1, &y2) < 1e-6);
        // weights that record no graph take the fused inference kernel: same values
        let frozen = Dense::new(w.as_tensor().detach(), b.as_tensor().detach());
        let y3 = frozen.forward(&x).unwrap();
        assert!(!y3.track_op(), "the inference path records no graph");
        assert!(max_abs_diff(&y1, &y3) < 1e-6);
        let g1 = y1.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = y2.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&w, &b] {
            let a = g1.get(v.as_tensor()).unwrap();
            let c = g2.get(v.as_tensor()).unwrap();
            assert!(max_abs_diff(a, c) < 1e-4);
        }
    }
}
