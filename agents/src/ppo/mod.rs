//! Proximal Policy Optimization, after CleanRL's `ppo.py`,
//! `ppo_continuous_action.py` and `ppo_atari.py`: vectorized envs, GAE, the
//! clipped surrogate, the clipped value loss, an entropy bonus, per-minibatch
//! advantage normalisation, linear learning-rate annealing, global gradient-norm
//! clipping, all seeded. Truncated episodes are bootstrapped with the value of
//! their last observation (as Stable-Baselines3 does) rather than cut to zero.

mod config;
mod gae;
mod loss;
mod resume;
mod trainer;

#[cfg(test)]
mod tests;

pub use config::PpoConfig;
pub use gae::{compute_gae, Rollout};
pub use loss::{ppo_loss, LossCoefs, PpoLoss};
pub use trainer::{EpisodeRecord, PpoTrainer, UpdateStats};
