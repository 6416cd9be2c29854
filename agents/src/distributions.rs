//! Action distributions of the policy head, on candle tensors (differentiable:
//! log-softmax is composed from `max`, `exp`, `sum` and `log`, which all have a
//! backward pass) and on plain slices for cheap sampling during rollouts.

use candle_core::{DType, Result, Tensor, D};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// `0.5 * ln(2 pi)`.
pub const HALF_LN_2PI: f32 = 0.918_938_5;

/// Log-softmax over the last dimension. `logits`: `[B, N]` -> `[B, N]`.
pub fn log_softmax(logits: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    shifted.broadcast_sub(&lse)
}

/// Categorical log-probabilities and entropies.
/// `logits`: `[B, N]`, `actions`: `[B]` (u32 indices) -> (`[B]`, `[B]`).
pub fn categorical_log_prob_entropy(logits: &Tensor, actions: &Tensor) -> Result<(Tensor, Tensor)> {
    let log_p = log_softmax(logits)?;
    let idx = actions.to_dtype(DType::U32)?.unsqueeze(1)?;
    let chosen = log_p.gather(&idx, 1)?.squeeze(1)?;
    let entropy = (log_p.exp()? * &log_p)?.sum(1)?.neg()?;
    Ok((chosen, entropy))
}

/// Diagonal Gaussian log-probabilities and entropies (summed over action dims).
/// `mean`: `[B, A]`, `log_std`: `[1, A]`, `actions`: `[B, A]` -> (`[B]`, `[B]`).
pub fn gaussian_log_prob_entropy(
    mean: &Tensor,
    log_std: &Tensor,
    actions: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let log_std_b = log_std.broadcast_as(mean.shape())?;
    let z = ((actions - mean)? / log_std_b.exp()?)?;
    let log_p = ((z.sqr()? * -0.5)? - &log_std_b)?.affine(1.0, -(HALF_LN_2PI as f64))?;
    let entropy = log_std_b.affine(1.0, 0.5 + HALF_LN_2PI as f64)?;
    Ok((log_p.sum(1)?, entropy.sum(1)?))
}

/// Sample an index from `logits` (one row); returns `(index, log-probability)`.
pub fn sample_categorical(logits: &[f32], rng: &mut impl Rng) -> (usize, f32) {
    let log_p = log_softmax_slice(logits);
    let u: f64 = rng.random();
    let mut acc = 0.0f64;
    let mut pick = log_p.len() - 1;
    for (i, lp) in log_p.iter().enumerate() {
        acc += (*lp as f64).exp();
        if u < acc {
            pick = i;
            break;
        }
    }
    (pick, log_p[pick])
}

/// The most likely index of `logits` (deterministic acting).
pub fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in logits.iter().enumerate() {
        if *v > logits[best] {
            best = i;
        }
    }
    best
}

/// Log-softmax of one row, in f64 for accuracy.
pub fn log_softmax_slice(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let lse = logits
        .iter()
        .map(|v| (*v as f64 - max).exp())
        .sum::<f64>()
        .ln()
        + max;
    logits.iter().map(|v| (*v as f64 - lse) as f32).collect()
}

/// Sample from `N(mean, exp(log_std)^2)`; returns `(action, log-probability)`.
pub fn sample_gaussian(mean: &[f32], log_std: &[f32], rng: &mut impl Rng) -> (Vec<f32>, f32) {
    let mut log_p = 0.0f32;
    let action = mean
        .iter()
        .zip(log_std)
        .map(|(m, ls)| {
            let z: f32 = StandardNormal.sample(rng);
            log_p += -0.5 * z * z - ls - HALF_LN_2PI;
            m + ls.exp() * z
        })
        .collect();
    (action, log_p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use rand::SeedableRng;

    #[test]
    fn categorical_matches_the_formula() {
        let logits = [1.0f32, 2.0, 0.5, 2.0, -1.0, 0.0];
        let t = Tensor::from_slice(&logits, (2, 3), &Device::Cpu).unwrap();
        let a = Tensor::from_slice(&[1u32, 0], 2, &Device::Cpu).unwrap();
        let (lp, ent) = categorical_log_prob_entropy(&t, &a).unwrap();
        let (lp, ent) = (lp.to_vec1::<f32>().unwrap(), ent.to_vec1::<f32>().unwrap());
        let z0 = (1f32.exp() + 2f32.exp() + 0.5f32.exp()).ln();
        assert!((lp[0] - (2.0 - z0)).abs() < 1e-5);
        let z1 = (2f32.exp() + (-1f32).exp() + 1.0).ln();
        assert!((lp[1] - (2.0 - z1)).abs() < 1e-5);
        let p: Vec<f32> = [1.0f32, 2.0, 0.5].iter().map(|v| (v - z0).exp()).collect();
        let h: f32 = -p.iter().map(|p| p * p.ln()).sum::<f32>();
        assert!((ent[0] - h).abs() < 1e-5, "{} vs {h}", ent[0]);
        assert!((log_softmax_slice(&logits[3..])[0] - (2.0 - z1)).abs() < 1e-6);
    }

    #[test]
    fn gaussian_matches_the_formula() {
        let dev = Device::Cpu;
        let mean = Tensor::from_slice(&[0.5f32, -1.0], (1, 2), &dev).unwrap();
        let log_std = Tensor::from_slice(&[0.2f32, -0.3], (1, 2), &dev).unwrap();
        let act = Tensor::from_slice(&[1.0f32, 0.0], (1, 2), &dev).unwrap();
        let (lp, ent) = gaussian_log_prob_entropy(&mean, &log_std, &act).unwrap();
        let normal = |x: f32, m: f32, s: f32| {
            (-(x - m).powi(2) / (2.0 * s * s)).exp() / (s * (2.0 * std::f32::consts::PI).sqrt())
        };
        let want = normal(1.0, 0.5, 0.2f32.exp()).ln() + normal(0.0, -1.0, (-0.3f32).exp()).ln();
        assert!((lp.to_vec1::<f32>().unwrap()[0] - want).abs() < 1e-5);
        let h = |s: f32| 0.5 * (2.0 * std::f32::consts::PI * std::f32::consts::E * s * s).ln();
        let want_h = h(0.2f32.exp()) + h((-0.3f32).exp());
        assert!((ent.to_vec1::<f32>().unwrap()[0] - want_h).abs() < 1e-5);
    }

    #[test]
    fn sampled_log_probs_agree_with_the_tensor_ones() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let (a, lp) = sample_gaussian(&[0.1, 0.2], &[-0.5, 0.3], &mut rng);
        let dev = Device::Cpu;
        let (t, _) = gaussian_log_prob_entropy(
            &Tensor::from_slice(&[0.1f32, 0.2], (1, 2), &dev).unwrap(),
            &Tensor::from_slice(&[-0.5f32, 0.3], (1, 2), &dev).unwrap(),
            &Tensor::from_slice(&a, (1, 2), &dev).unwrap(),
        )
        .unwrap();
        assert!((t.to_vec1::<f32>().unwrap()[0] - lp).abs() < 1e-5);
        let counts = (0..2000).fold([0usize; 2], |mut c, _| {
            c[sample_categorical(&[0.0, 1.0], &mut rng).0] += 1;
            c
        });
        let p1 = 1.0 / (1.0 + (-1f32).exp());
        assert!((counts[1] as f32 / 2000.0 - p1).abs() < 0.04, "{counts:?}");
    }
}
