//! Test helpers: seeded random tensors, and a check that a fused kernel
//! matches its reference composition in value and in every input's gradient.

use candle_core::{Device, Result, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Forward outputs must agree to this relative tolerance.
pub(crate) const FORWARD_TOL: f32 = 1e-5;
/// Gradients must agree to this relative tolerance.
pub(crate) const GRAD_TOL: f32 = 1e-4;

/// A tensor of the given shape with entries uniform in [-1, 1), from `seed`.
pub(crate) fn random_tensor(shape: &[usize], seed: u64) -> Result<Tensor> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = shape.iter().product::<usize>();
    let data: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(data, shape, &Device::Cpu)
}

/// Largest `|a - b| / (1 + |b|)` over two same-shaped tensors.
pub(crate) fn max_rel_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let a = a.flatten_all()?.to_vec1::<f32>()?;
    let b = b.flatten_all()?.to_vec1::<f32>()?;
    Ok(a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0f32, f32::max))
}

/// Runs `fused` and `reference` on variables made from `inputs`, asserts the
/// outputs agree to [`FORWARD_TOL`], then back-propagates a random projection
/// of each output and asserts every input's gradient agrees to [`GRAD_TOL`].
pub(crate) fn assert_same_with_grads(
    inputs: &[Tensor],
    fused: impl Fn(&[Tensor]) -> Result<Tensor>,
    reference: impl Fn(&[Tensor]) -> Result<Tensor>,
) -> Result<()> {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(&t.contiguous()?))
        .collect::<Result<_>>()?;
    let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let out_fused = fused(&tensors)?;
    let out_ref = reference(&tensors)?;
    let diff = max_rel_diff(&out_fused, &out_ref)?;
    assert!(
        diff <= FORWARD_TOL,
        "forward differs by {diff:e} (shape {:?})",
        out_ref.dims()
    );

    let projection = random_tensor(out_ref.dims(), 99)?;
    let grads_fused = (out_fused * &projection)?.sum_all()?.backward()?;
    let grads_ref = (out_ref * &projection)?.sum_all()?.backward()?;
    for (i, t) in tensors.iter().enumerate() {
        let (Some(gf), Some(gr)) = (grads_fused.get(t), grads_ref.get(t)) else {
            panic!("input {i}: a gradient is missing");
        };
        let diff = max_rel_diff(gf, gr)?;
        assert!(
            diff <= GRAD_TOL,
            "input {i}: gradient differs by {diff:e} (shape {:?})",
            t.dims()
        );
    }
    Ok(())
}
