//! PPO's loss on one minibatch: the clipped surrogate, the (clipped) value loss
//! and the entropy bonus, plus the diagnostics CleanRL logs.

use candle_core::{Result, Tensor};

/// Coefficients of [`ppo_loss`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossCoefs {
    pub clip_coef: f32,
    pub clip_vloss: bool,
    pub ent_coef: f32,
    pub vf_coef: f32,
    pub norm_adv: bool,
}

/// The minibatch loss and its parts.
pub struct PpoLoss {
    /// `policy - ent_coef * entropy + vf_coef * value`, a scalar to differentiate.
    pub total: Tensor,
    pub policy: f32,
    pub value: f32,
    pub entropy: f32,
    /// `mean((ratio - 1) - log ratio)`, the low-variance KL estimate.
    pub approx_kl: f32,
    /// Fraction of samples whose ratio was clipped.
    pub clip_frac: f32,
}

/// PPO's loss. All inputs are `[B]`: the new log-probs, entropies and values
/// (differentiable) and the rollout's old log-probs, old values, advantages and
/// returns (constants).
#[allow(clippy::too_many_arguments)]
pub fn ppo_loss(
    new_log_prob: &Tensor,
    entropy: &Tensor,
    new_value: &Tensor,
    old_log_prob: &Tensor,
    old_value: &Tensor,
    advantages: &Tensor,
    returns: &Tensor,
    c: &LossCoefs,
) -> Result<PpoLoss> {
    let log_ratio = (new_log_prob - old_log_prob)?;
    let ratio = log_ratio.exp()?;
    let (approx_kl, clip_frac) = {
        let r = ratio.detach();
        let kl = ((&r - 1.0)? - log_ratio.detach())?
            .mean_all()?
            .to_scalar::<f32>()?;
        let clipped = (&r - 1.0)?
            .abs()?
            .gt(c.clip_coef as f64)?
            .to_dtype(candle_core::DType::F32)?
            .mean_all()?
            .to_scalar::<f32>()?;
        (kl, clipped)
    };
    let adv = if c.norm_adv {
        let n = advantages.elem_count();
        let mean = advantages.mean_all()?;
        let centered = advantages.broadcast_sub(&mean)?;
        let var = (centered.sqr()?.sum_all()? / (n.saturating_sub(1).max(1)) as f64)?;
        centered.broadcast_div(&(var.sqrt()? + 1e-8)?)?
    } else {
        advantages.clone()
    };
    let lo = 1.0 - c.clip_coef as f64;
    let hi = 1.0 + c.clip_coef as f64;
    let pg1 = (adv.neg()? * &ratio)?;
    let pg2 = (adv.neg()? * ratio.clamp(lo, hi)?)?;
    let policy = pg1.maximum(&pg2)?.mean_all()?;
    let v_unclipped = (new_value - returns)?.sqr()?;
    let value = if c.clip_vloss {
        let delta = (new_value - old_value)?.clamp(-c.clip_coef as f64, c.clip_coef as f64)?;
        let v_clipped = ((old_value + delta)? - returns)?.sqr()?;
        (v_unclipped.maximum(&v_clipped)?.mean_all()? * 0.5)?
    } else {
        (v_unclipped.mean_all()? * 0.5)?
    };
    let entropy = entropy.mean_all()?;
    let total = ((&policy - (&entropy * c.ent_coef as f64)?)? + (&value * c.vf_coef as f64)?)?;
    Ok(PpoLoss {
        policy: policy.to_scalar()?,
        value: value.to_scalar()?,
        entropy: entropy.to_scalar()?,
        total,
        approx_kl,
        clip_frac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, v.len(), &Device::Cpu).unwrap()
    }

    #[test]
    fn loss_on_a_fixed_batch_matches_a_hand_computation() {
        let c = LossCoefs {
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: 0.01,
            vf_coef: 0.5,
            norm_adv: false,
        };
        // ratios: e^0.5 and e^-0.5 (both clipped: the pessimistic term is the
        // clipped one for these advantages' signs), and 1.
        let new_lp = t(&[0.0, -1.0, -0.3]);
        let old_lp = t(&[-0.5, -0.5, -0.3]);
        let adv = t(&[1.0, -2.0, 0.5]);
        let ent = t(&[0.6, 0.6, 0.6]);
        let new_v = t(&[1.0, 0.0, 2.0]);
        let old_v = t(&[0.5, 0.1, 2.0]);
        let ret = t(&[2.0, -1.0, 1.0]);
        let l = ppo_loss(&new_lp, &ent, &new_v, &old_lp, &old_v, &adv, &ret, &c).unwrap();
        let r0 = 0.5f32.exp();
        let r1 = (-0.5f32).exp();
        let pg0 = f32::max(-1.0 * r0, -1.0 * 1.2);
        let pg1 = f32::max(2.0 * r1, 2.0 * 0.8);
        let pg2 = -0.5f32;
        let policy = (pg0 + pg1 + pg2) / 3.0;
        // values: unclipped (1-2)^2=1 vs clipped (0.5+0.2-2)^2=1.69; (0+1)^2=1 vs
        // (0.1-0.1+1)^2=1; (2-1)^2=1 vs 1.
        let value = 0.5 * (1.69 + 1.0 + 1.0) / 3.0;
        let total = policy - 0.01 * 0.6 + 0.5 * value;
        assert!((l.policy - policy).abs() < 1e-5, "{} vs {policy}", l.policy);
        assert!((l.value - value).abs() < 1e-5, "{} vs {value}", l.value);
        assert!((l.total.to_scalar::<f32>().unwrap() - total).abs() < 1e-5);
        assert!((l.clip_frac - 2.0 / 3.0).abs() < 1e-6);
        let kl = ((r0 - 1.0 - 0.5) + (r1 - 1.0 + 0.5)) / 3.0;
        assert!((l.approx_kl - kl).abs() < 1e-5);
    }

    #[test]
    fn advantages_are_normalised_with_the_unbiased_std() {
        let c = LossCoefs {
            clip_coef: 0.2,
            clip_vloss: false,
            ent_coef: 0.0,
            vf_coef: 0.0,
            norm_adv: true,
        };
        let z = t(&[0.0, 0.0]);
        let l = ppo_loss(&z, &z, &z, &z, &z, &t(&[1.0, 3.0]), &z, &c).unwrap();
        // normalised advantages: (-1, 1) / sqrt(2); ratio 1: policy = -mean = 0.
        assert!(l.policy.abs() < 1e-6);
        let l = ppo_loss(
            &z,
            &z,
            &z,
            &z,
            &z,
            &t(&[1.0, 3.0]),
            &z,
            &LossCoefs {
                norm_adv: false,
                ..c
            },
        )
        .unwrap();
        assert!((l.policy + 2.0).abs() < 1e-6);
    }
}
