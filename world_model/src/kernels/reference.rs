//! Plain, differentiable candle compositions of the DiT's hot operations.
//!
//! These are the ground truth the fused kernels are tested against, and the
//! path taken for tensors that are not on the CPU (or not `f32`). Every
//! function here is built from ordinary candle ops, so autograd records it.

use candle_core::{DType, Device, Result, Tensor, D};

/// Layer norm without affine parameters, then modulation.
///
/// `x`: `[B, F, N, D]`, `shift`/`scale`: `[B, F, D]`; returns `[B, F, N, D]`
/// equal to `LN(x) * (1 + scale) + shift` with the statistics taken over `D`.
pub fn modulated_layer_norm(
    x: &Tensor,
    shift: &Tensor,
    scale: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    let x = x.contiguous()?;
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centred.broadcast_div(&(var + eps)?.sqrt()?)?;
    let scale = (scale.unsqueeze(2)? + 1.0)?;
    let shift = shift.unsqueeze(2)?;
    normed.broadcast_mul(&scale)?.broadcast_add(&shift)
}

/// GELU, tanh approximation: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
///
/// Any shape; the output has the input's shape.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    let inner = ((x + x.powf(3.0)?.affine(0.044715, 0.0)?)? * (2.0 / std::f64::consts::PI).sqrt())?;
    let gate = (inner.tanh()? + 1.0)?;
    (x * gate)? * 0.5
}

/// Additive block-causal mask `[Lq, Lk]`: 0 where the key's frame is at most
/// the query's frame, `-inf` elsewhere.
pub fn block_causal_mask(
    lq: usize,
    lk: usize,
    tokens_per_frame: usize,
    q_offset: usize,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    block_causal_mask_span(lq, lk, tokens_per_frame, q_offset, 0, dtype, device)
}

/// [`block_causal_mask`] where each query sees only `span` frames, its own
/// included (0: every earlier frame).
pub fn block_causal_mask_span(
    lq: usize,
    lk: usize,
    tokens_per_frame: usize,
    q_offset: usize,
    span: usize,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    let mut mask = Vec::with_capacity(lq * lk);
    for i in 0..lq {
        let q_frame = (q_offset + i) / tokens_per_frame;
        let first = if span == 0 {
            0
        } else {
            (q_frame + 1).saturating_sub(span)
        };
        mask.extend((0..lk).map(|j| {
            let k_frame = j / tokens_per_frame;
            if k_frame <= q_frame && k_frame >= first {
                0f32
            } else {
                f32::NEG_INFINITY
            }
        }));
    }
    Tensor::from_vec(mask, (lq, lk), device)?.to_dtype(dtype)
}

/// Block-causal scaled dot-product attention with an explicit additive mask.
///
/// `q`: `[B, H, Lq, Dh]`, `k`/`v`: `[B, H, Lk, Dh]`; returns `[B, H, Lq, Dh]`.
/// Query row `i` sits at token `q_offset + i` and attends to every key whose
/// frame (`token / tokens_per_frame`) is not after its own.
pub fn block_causal_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    tokens_per_frame: usize,
    q_offset: usize,
) -> Result<Tensor> {
    block_causal_attention_span(q, k, v, tokens_per_frame, q_offset, 0)
}

/// [`block_causal_attention`] where each query sees only `span` frames, its
/// own included (0: every earlier frame).
pub fn block_causal_attention_span(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    tokens_per_frame: usize,
    q_offset: usize,
    span: usize,
) -> Result<Tensor> {
    let (_, _, lq, dh) = q.dims4()?;
    let lk = k.dim(2)?;
    let scale = 1.0 / (dh as f64).sqrt();
    let scores = (q.contiguous()?.matmul(&k.t()?.contiguous()?)? * scale)?;
    let mask = block_causal_mask_span(
        lq,
        lk,
        tokens_per_frame,
        q_offset,
        span,
        scores.dtype(),
        scores.device(),
    )?;
    let probs = candle_nn::ops::softmax(&scores.broadcast_add(&mask)?, D::Minus1)?;
    probs.matmul(&v.contiguous()?)
}

/// Gated residual `x + gate * y`.
///
/// `x`, `y`: `[B, F, N, D]`, `gate`: `[B, F, D]` broadcast over `N`.
pub fn gated_residual(x: &Tensor, gate: &Tensor, y: &Tensor) -> Result<Tensor> {
    x + y.broadcast_mul(&gate.unsqueeze(2)?)?
}

/// Rotary embedding on interleaved pairs `(x[2i], x[2i+1])`, like candle's `rope_i`.
///
/// `x`: `[B, H, L, Dh]`, `cos`/`sin`: `[L, Dh/2]`; returns `[B, H, L, Dh]`.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let (b, h, l, dh) = x.dims4()?;
    let half = dh / 2;
    let cos = cos.reshape((l, half, 1))?;
    let sin = sin.reshape((l, half, 1))?;
    let x = x.contiguous()?.reshape((b, h, l, half, 2))?;
    let x0 = x.narrow(D::Minus1, 0, 1)?;
    let x1 = x.narrow(D::Minus1, 1, 1)?;
    let y0 = (x0.broadcast_mul(&cos)? - x1.broadcast_mul(&sin)?)?;
    let y1 = (x0.broadcast_mul(&sin)? + x1.broadcast_mul(&cos)?)?;
    Tensor::cat(&[y0, y1], D::Minus1)?.reshape((b, h, l, dh))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "element {i}: {x} vs {y}"
            );
        }
    }

    #[test]
    fn layer_norm_matches_hand_computation() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::new(&[1f32, 2., 3., 6.], &dev)?.reshape((1, 1, 1, 4))?;
        let shift = Tensor::new(&[0f32, 1., 0., 0.], &dev)?.reshape((1, 1, 4))?;
        let scale = Tensor::new(&[1f32, 0., 0., -1.], &dev)?.reshape((1, 1, 4))?;
        let y = modulated_layer_norm(&x, &shift, &scale, 0.0)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        // mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5
        let s = 3.5f32.sqrt();
        close(&y, &[-2.0 / s * 2.0, -1.0 / s + 1.0, 0.0, 0.0], 1e-6);
        Ok(())
    }

    #[test]
    fn gelu_matches_known_values() -> Result<()> {
        let x = Tensor::new(&[-3f32, -1., 0., 0.5, 2.], &Device::Cpu)?;
        let y = gelu(&x)?.to_vec1::<f32>()?;
        let want: Vec<f32> = [-3f64, -1., 0., 0.5, 2.]
            .iter()
            .map(|&v| {
                0.5 * v
                    * (1.0
                        + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh())
            })
            .map(|v| v as f32)
            .collect();
        close(&y, &want, 1e-6);
        close(&y[..3], &[-0.0036373, -0.158808, 0.0], 1e-5);
        Ok(())
    }

    #[test]
    fn attention_sees_only_its_frame_and_earlier() -> Result<()> {
        let dev = Device::Cpu;
        // 2 frames of 2 tokens, Dh = 1, all scores equal: each row averages its visible values.
        let q = Tensor::zeros((1, 1, 4, 1), DType::F32, &dev)?;
        let k = Tensor::zeros((1, 1, 4, 1), DType::F32, &dev)?;
        let v = Tensor::new(&[1f32, 2., 3., 10.], &dev)?.reshape((1, 1, 4, 1))?;
        let y = block_causal_attention(&q, &k, &v, 2, 0)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        close(&y, &[1.5, 1.5, 4.0, 4.0], 1e-6);
        // One query row at token 1 (frame 0) sees only keys 0 and 1.
        let q1 = Tensor::zeros((1, 1, 1, 1), DType::F32, &dev)?;
        let y1 = block_causal_attention(&q1, &k, &v, 2, 1)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        close(&y1, &[1.5], 1e-6);
        Ok(())
    }

    #[test]
    fn gated_residual_and_rope_match_hand_computation() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::new(&[1f32, 2.], &dev)?.reshape((1, 1, 1, 2))?;
        let y = Tensor::new(&[10f32, 20.], &dev)?.reshape((1, 1, 1, 2))?;
        let g = Tensor::new(&[0.5f32, -1.], &dev)?.reshape((1, 1, 2))?;
        close(
            &gated_residual(&x, &g, &y)?
                .flatten_all()?
                .to_vec1::<f32>()?,
            &[6.0, -18.0],
            1e-6,
        );
        // A quarter turn maps the pair (1, 2) to (-2, 1).
        let cos = Tensor::new(&[[0f32]], &dev)?;
        let sin = Tensor::new(&[[1f32]], &dev)?;
        close(
            &rope(&x, &cos, &sin)?.flatten_all()?.to_vec1::<f32>()?,
            &[-2.0, 1.0],
            1e-6,
        );
        Ok(())
    }
}
