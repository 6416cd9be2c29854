//! [`Rollout`]: the steps one PPO update learns from, and [`compute_gae`]
//! (generalised advantage estimation).

/// `num_steps x num_envs` transitions, time-major (`index = t * num_envs + env`).
#[derive(Clone, Debug, Default)]
pub struct Rollout {
    pub num_envs: usize,
    /// Features per observation.
    pub feature_len: usize,
    /// Observation features, `[T * N, F]`.
    pub obs: Vec<f32>,
    /// Actions as f32 (`[T * N, A]`; discrete: the index).
    pub actions: Vec<f32>,
    /// Log-probabilities of the actions under the acting policy, `[T * N]`.
    pub log_probs: Vec<f32>,
    /// Value estimates of the observations, `[T * N]`.
    pub values: Vec<f32>,
    /// Rewards (truncated steps include `gamma * V(last observation)`), `[T * N]`.
    pub rewards: Vec<f32>,
    /// Whether the episode ended with this step (terminated or truncated), `[T * N]`.
    pub episode_ends: Vec<bool>,
}

impl Rollout {
    pub fn new(num_envs: usize, feature_len: usize) -> Self {
        Rollout {
            num_envs,
            feature_len,
            ..Default::default()
        }
    }

    /// Transitions stored.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    pub fn clear(&mut self) {
        self.obs.clear();
        self.actions.clear();
        self.log_probs.clear();
        self.values.clear();
        self.rewards.clear();
        self.episode_ends.clear();
    }
}

/// Advantages and returns (`advantages + values`) by GAE.
///
/// Per env, backwards in time: `delta_t = r_t + gamma * V(s_{t+1}) * (1 - end_t) - V(s_t)`,
/// `A_t = delta_t + gamma * lambda * (1 - end_t) * A_{t+1}`, where `V(s_T)` is
/// `next_values[env]`, the value of the observation after the last step.
/// Inputs are time-major `[T * N]`; `next_values` is `[N]`.
pub fn compute_gae(
    rewards: &[f32],
    values: &[f32],
    episode_ends: &[bool],
    next_values: &[f32],
    gamma: f32,
    lambda: f32,
) -> (Vec<f32>, Vec<f32>) {
    let n = next_values.len().max(1);
    let t_len = rewards.len() / n;
    let mut adv = vec![0.0f32; rewards.len()];
    for env in 0..n {
        let mut last = 0.0f32;
        for t in (0..t_len).rev() {
            let i = t * n + env;
            let next_value = if t + 1 == t_len {
                next_values[env]
            } else {
                values[i + n]
            };
            let not_end = if episode_ends[i] { 0.0 } else { 1.0 };
            let delta = rewards[i] + gamma * next_value * not_end - values[i];
            last = delta + gamma * lambda * not_end * last;
            adv[i] = last;
        }
    }
    let returns = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, returns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gae_matches_a_hand_computation() {
        // One env, three steps, the episode ends after step 1 (index 1).
        let (g, l) = (0.9f32, 0.5f32);
        let r = [1.0, 2.0, 3.0];
        let v = [0.5, 1.0, 1.5];
        let ends = [false, true, false];
        let next = [2.0];
        let (adv, ret) = compute_gae(&r, &v, &ends, &next, g, l);
        let d2 = 3.0 + g * 2.0 - 1.5; // 3.3
        let a2 = d2;
        let d1 = 2.0 - 1.0; // ends: no bootstrap
        let a1 = d1;
        let d0 = 1.0 + g * 1.0 - 0.5; // 1.4
        let a0 = d0 + g * l * a1; // 1.4 + 0.45
        for (got, want) in adv.iter().zip([a0, a1, a2]) {
            assert!((got - want).abs() < 1e-6, "{adv:?}");
        }
        assert!((ret[0] - (a0 + 0.5)).abs() < 1e-6);
    }

    #[test]
    fn envs_are_independent_in_time_major_layout() {
        // Two envs interleaved: env 0 gets reward 1s, env 1 zeros.
        let r = [1.0, 0.0, 1.0, 0.0];
        let v = [0.0; 4];
        let ends = [false; 4];
        let (adv, _) = compute_gae(&r, &v, &ends, &[0.0, 0.0], 1.0, 1.0);
        assert_eq!(adv, vec![2.0, 0.0, 1.0, 0.0]);
    }
}
