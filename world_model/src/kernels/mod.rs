//! Fused CPU kernels for the DiT's hot operations, with backward passes.
//!
//! Each public function checks its shapes, then runs a fused candle custom op
//! when the inputs are `f32` on the CPU, and the plain composition from
//! [`reference`] otherwise (CUDA, other dtypes). Both paths are differentiable
//! and agree to float rounding; the tests in each kernel's file hold them to it.

mod attention;
mod cpu;
mod gated_residual;
mod gelu;
mod layer_norm;
mod linear;
mod qkv;
pub mod reference;
mod rope;
#[cfg(test)]
mod testing;

use cpu::fused_applies;
pub use linear::Activation;

use candle_core::{bail, Result, Tensor};

/// `LN(x) * (1 + scale) + shift`, layer norm without affine over the last dim.
///
/// `x`: `[B, F, N, D]`, `shift`/`scale`: `[B, F, D]`; returns `[B, F, N, D]`.
pub fn modulated_layer_norm(
    x: &Tensor,
    shift: &Tensor,
    scale: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    let (b, f, _, d) = x.dims4()?;
    for (name, t) in [("shift", shift), ("scale", scale)] {
        if t.dims() != [b, f, d] {
            bail!(
                "modulated_layer_norm: {name} has shape {:?}, expected [{b}, {f}, {d}] for x {:?}",
                t.dims(),
                x.dims()
            );
        }
    }
    if x.elem_count() == 0 {
        return x.zeros_like();
    }
    if fused_applies(&[x, shift, scale]) {
        return layer_norm::modulated_layer_norm(x, shift, scale, eps);
    }
    reference::modulated_layer_norm(x, shift, scale, eps)
}

/// `x W^T + b` then `activation`, for inference: `x` `[..., k]`, `w` `[n, k]`,
/// `b` `[n]`; returns `[..., n]`. One fused pass (bias and GELU inside the
/// matmul's output loop) when no input records an autograd graph and all are
/// `f32` on the CPU; the differentiable composition otherwise.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor, activation: Activation) -> Result<Tensor> {
    let k = *x.dims().last().unwrap_or(&0);
    let (n, wk) = w.dims2()?;
    if wk != k || b.dims() != [n] {
        bail!(
            "linear: x {:?}, weight {:?}, bias {:?} do not fit",
            x.dims(),
            w.dims(),
            b.dims()
        );
    }
    let tracked = x.track_op() || w.track_op() || b.track_op();
    if !tracked && fused_applies(&[x, w, b]) {
        return linear::linear(x, w, b, activation);
    }
    let y = x.broadcast_matmul(&w.t()?)?.broadcast_add(b)?;
    match activation {
        Activation::None => Ok(y),
        Activation::Gelu => gelu(&y),
    }
}

/// A packed projection `qkv` `[B, L, 3 * H * Dh]` (q, k, v in that order, each
/// `[H, Dh]`) split into `q`, `k`, `v` `[B, H, L, Dh]`, with the rotary
/// embedding ([`rope`]) applied to `q` and `k`. One fused pass when no input
/// records an autograd graph and all are `f32` on the CPU; the differentiable
/// composition (permute, copy, rope twice) otherwise.
pub fn split_heads_rope(
    qkv: &Tensor,
    heads: usize,
    cos: &Tensor,
    sin: &Tensor,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (b, l, three_d) = qkv.dims3()?;
    if heads == 0 || three_d % (3 * heads) != 0 {
        bail!("split_heads_rope: width {three_d} is not 3 x {heads} heads");
    }
    let dh = three_d / (3 * heads);
    let tracked = qkv.track_op() || cos.track_op() || sin.track_op();
    let tables_fit = cos.dims() == [l, dh / 2] && sin.dims() == [l, dh / 2];
    if !tracked && dh % 2 == 0 && tables_fit && fused_applies(&[qkv, cos, sin]) {
        let all = qkv::split_heads_rope(qkv, heads, cos, sin)?; // [3, B, H, L, Dh]
        return Ok((all.get(0)?, all.get(1)?, all.get(2)?));
    }
    let parts = qkv
        .reshape((b, l, 3, heads, dh))?
        .permute((2, 0, 3, 1, 4))?
        .contiguous()?;
    // rope checks the tables and names what does not fit
    let q = rope(&parts.get(0)?, cos, sin)?;
    let k = rope(&parts.get(1)?, cos, sin)?;
    Ok((q, k, parts.get(2)?))
}

/// GELU with the tanh approximation, element-wise on any shape.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if x.elem_count() == 0 {
        return x.zeros_like();
    }
    if fused_applies(&[x]) {
        return gelu::gelu(x);
    }
    reference::gelu(x)
}

/// Block-causal attention, scale `1/sqrt(Dh)`, no mask tensor.
///
/// `q`: `[B, H, Lq, Dh]`, `k`/`v`: `[B, H, Lk, Dh]`; returns `[B, H, Lq, Dh]`.
/// Query row `i` is token `q_offset + i` of the key sequence and attends to every
/// key whose frame (`token / tokens_per_frame`) is at most its own frame.
pub fn block_causal_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    tokens_per_frame: usize,
    q_offset: usize,
) -> Result<Tensor> {
    block_causal_attention_span(q, k, v, tokens_per_frame, q_offset, 0)
}

/// [`block_causal_attention`] where each query sees only the `span` frames
/// ending at its own (0: every earlier frame). Training with a span and
/// dreaming with a rolling cache of `span - 1` frames then see the same keys.
pub fn block_causal_attention_span(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    tokens_per_frame: usize,
    q_offset: usize,
    span: usize,
) -> Result<Tensor> {
    let (b, h, _, dh) = q.dims4()?;
    let (kb, kh, lk, kd) = k.dims4()?;
    if tokens_per_frame == 0 {
        bail!("block_causal_attention: tokens_per_frame must be positive");
    }
    if (kb, kh, kd) != (b, h, dh) || v.dims() != k.dims() {
        bail!(
            "block_causal_attention: q {:?}, k {:?}, v {:?} do not match",
            q.dims(),
            k.dims(),
            v.dims()
        );
    }
    if lk == 0 || dh == 0 {
        bail!(
            "block_causal_attention: no keys or an empty head dim (k {:?})",
            k.dims()
        );
    }
    if q.elem_count() == 0 {
        return q.zeros_like();
    }
    if fused_applies(&[q, k, v]) {
        return attention::block_causal_attention(q, k, v, tokens_per_frame, q_offset, span);
    }
    reference::block_causal_attention_span(q, k, v, tokens_per_frame, q_offset, span)
}

/// Gated residual `x + gate * y`.
///
/// `x`, `y`: `[B, F, N, D]`, `gate`: `[B, F, D]` broadcast over `N`.
pub fn gated_residual(x: &Tensor, gate: &Tensor, y: &Tensor) -> Result<Tensor> {
    let (b, f, _, d) = x.dims4()?;
    if y.dims() != x.dims() || gate.dims() != [b, f, d] {
        bail!(
            "gated_residual: x {:?}, gate {:?}, y {:?} do not match",
            x.dims(),
            gate.dims(),
            y.dims()
        );
    }
    if x.elem_count() == 0 {
        return x.zeros_like();
    }
    if fused_applies(&[x, gate, y]) {
        return gated_residual::gated_residual(x, gate, y);
    }
    reference::gated_residual(x, gate, y)
}

/// Rotary embedding on interleaved pairs, like candle's `rope_i`, differentiable.
///
/// `x`: `[B, H, L, Dh]`, `cos`/`sin`: `[L, Dh/2]`; returns `[B, H, L, Dh]`.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let (_, _, l, dh) = x.dims4()?;
    if dh % 2 != 0 {
        bail!("rope: head dim {dh} is odd");
    }
    if cos.dims() != [l, dh / 2] || sin.dims() != [l, dh / 2] {
        bail!(
            "rope: cos {:?} / sin {:?} must be [{l}, {}]",
            cos.dims(),
            sin.dims(),
            dh / 2
        );
    }
    if x.elem_count() == 0 {
        return x.zeros_like();
    }
    if fused_applies(&[x, cos, sin]) {
        return rope::rope(x, cos, sin);
    }
    reference::rope(x, cos, sin)
}

#[cfg(test)]
mod tests {
    use super::testing::{max_rel_diff, random_tensor};
    use super::*;

    #[test]
    fn fused_split_heads_rope_equals_the_composition() -> Result<()> {
        for (b, l, h, dh) in [(1, 3, 1, 2), (2, 64, 4, 32), (3, 192, 2, 16)] {
            let qkv = random_tensor(&[b, l, 3 * h * dh], 1)?;
            let cos = random_tensor(&[l, dh / 2], 2)?;
            let sin = random_tensor(&[l, dh / 2], 3)?;
            let fused = split_heads_rope(&qkv, h, &cos, &sin)?;
            // a graph-recording input takes the composition
            let var = candle_core::Var::from_tensor(&qkv)?;
            let plain = split_heads_rope(var.as_tensor(), h, &cos, &sin)?;
            assert!(plain.0.track_op() && !fused.0.track_op());
            for (f, p) in [
                (&fused.0, &plain.0),
                (&fused.1, &plain.1),
                (&fused.2, &plain.2),
            ] {
                assert_eq!(f.dims(), &[b, h, l, dh]);
                assert!(max_rel_diff(f, p)? < 1e-6);
            }
        }
        let qkv = random_tensor(&[1, 4, 12], 4)?;
        let bad = random_tensor(&[3, 1], 5)?;
        assert!(split_heads_rope(&qkv, 2, &bad, &bad).is_err());
        assert!(split_heads_rope(&qkv, 5, &bad, &bad).is_err());
        Ok(())
    }
    use candle_core::DType;

    #[test]
    fn wrong_shapes_are_errors_not_panics() -> Result<()> {
        let x = random_tensor(&[1, 2, 3, 4], 1)?;
        let per_frame = random_tensor(&[1, 2, 4], 2)?;
        let wrong = random_tensor(&[1, 3, 4], 3)?;
        assert!(modulated_layer_norm(&x, &wrong, &per_frame, 1e-5).is_err());
        assert!(gated_residual(&x, &per_frame, &wrong).is_err());
        assert!(block_causal_attention(&x, &x, &x, 0, 0).is_err());
        assert!(block_causal_attention(&x, &random_tensor(&[1, 2, 5, 3], 4)?, &x, 1, 0).is_err());
        let odd = random_tensor(&[1, 1, 2, 3], 5)?;
        assert!(rope(
            &odd,
            &random_tensor(&[2, 1], 6)?,
            &random_tensor(&[2, 1], 7)?
        )
        .is_err());
        assert!(rope(&x, &random_tensor(&[2, 2], 6)?, &random_tensor(&[3, 2], 7)?).is_err());
        Ok(())
    }

    #[test]
    fn empty_inputs_do_not_panic() -> Result<()> {
        let dev = candle_core::Device::Cpu;
        let x = Tensor::zeros((1, 2, 0, 4), DType::F32, &dev)?;
        let per_frame = Tensor::zeros((1, 2, 4), DType::F32, &dev)?;
        assert_eq!(
            modulated_layer_norm(&x, &per_frame, &per_frame, 1e-5)?.dims(),
            x.dims()
        );
        assert_eq!(gated_residual(&x, &per_frame, &x)?.dims(), x.dims());
        assert_eq!(gelu(&x)?.dims(), x.dims());
        let q = Tensor::zeros((1, 2, 0, 4), DType::F32, &dev)?;
        let k = Tensor::zeros((1, 2, 3, 4), DType::F32, &dev)?;
        assert_eq!(block_causal_attention(&q, &k, &k, 2, 0)?.dims(), q.dims());
        let no_head_dim = Tensor::zeros((1, 2, 3, 0), DType::F32, &dev)?;
        assert!(block_causal_attention(&no_head_dim, &no_head_dim, &no_head_dim, 2, 0).is_err());
        Ok(())
    }

    #[test]
    fn other_dtypes_take_the_reference_path_with_the_same_result() -> Result<()> {
        let q = random_tensor(&[1, 2, 12, 8], 1)?;
        let k = random_tensor(&[1, 2, 12, 8], 2)?;
        let v = random_tensor(&[1, 2, 12, 8], 3)?;
        let fused = block_causal_attention(&q, &k, &v, 4, 0)?;
        let [q64, k64, v64] = [&q, &k, &v].map(|t| t.to_dtype(DType::F64));
        let plain = block_causal_attention(&q64?, &k64?, &v64?, 4, 0)?;
        assert_eq!(plain.dtype(), DType::F64);
        assert!(max_rel_diff(&fused, &plain.to_dtype(DType::F32)?)? < 1e-5);
        let x = random_tensor(&[2, 3, 4], 4)?;
        let g64 = gelu(&x.to_dtype(DType::F64)?)?.to_dtype(DType::F32)?;
        assert!(max_rel_diff(&gelu(&x)?, &g64)? < 1e-5);
        Ok(())
    }
}
