//! [`PpoConfig`]: PPO's hyper-parameters, with CleanRL's presets.

use serde::{Deserialize, Serialize};

use crate::features::ObsKind;
use crate::AgentError;

/// PPO hyper-parameters (names follow CleanRL's arguments).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PpoConfig {
    /// Env steps to train for, over all envs.
    pub total_steps: u64,
    pub num_envs: usize,
    /// Steps per env per rollout.
    pub num_steps: usize,
    pub learning_rate: f64,
    /// Anneal the learning rate linearly to 0 over the updates.
    pub anneal_lr: bool,
    pub gamma: f32,
    pub gae_lambda: f32,
    pub num_minibatches: usize,
    pub update_epochs: usize,
    /// Normalise advantages within each minibatch.
    pub norm_adv: bool,
    pub clip_coef: f32,
    pub clip_vloss: bool,
    pub ent_coef: f32,
    pub vf_coef: f32,
    pub max_grad_norm: f64,
    /// Stop the epochs of an update early once the approximate KL exceeds this.
    pub target_kl: Option<f32>,
    pub seed: u64,
    /// Observations read by the network.
    pub obs: ObsKind,
    /// Side in pixels of the frames the CNN reads (frames only); the env's
    /// frames are area-downsampled to it when larger (a dream's 64x64).
    pub frame_size: usize,
    /// Frames stacked (frames only).
    pub frame_stack: usize,
    /// MLP width.
    pub hidden: usize,
}

impl Default for PpoConfig {
    /// CleanRL's `ppo.py` (discrete actions, state observations).
    fn default() -> Self {
        PpoConfig {
            total_steps: 500_000,
            num_envs: 4,
            num_steps: 128,
            learning_rate: 2.5e-4,
            anneal_lr: true,
            gamma: 0.99,
            gae_lambda: 0.95,
            num_minibatches: 4,
            update_epochs: 4,
            norm_adv: true,
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: 0.01,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            target_kl: None,
            seed: 0,
            obs: ObsKind::State,
            frame_size: 32,
            frame_stack: 2,
            hidden: 64,
        }
    }
}

impl PpoConfig {
    /// CleanRL's `ppo_continuous_action.py` (Gaussian actions): longer rollouts,
    /// more epochs, no entropy bonus.
    pub fn continuous() -> Self {
        PpoConfig {
            total_steps: 1_000_000,
            num_envs: 1,
            num_steps: 2048,
            learning_rate: 3e-4,
            num_minibatches: 32,
            update_epochs: 10,
            ent_coef: 0.0,
            ..Self::default()
        }
    }

    /// CleanRL's `ppo_atari.py` scaled to small frames.
    pub fn frames() -> Self {
        PpoConfig {
            num_envs: 8,
            num_steps: 128,
            learning_rate: 2.5e-4,
            clip_coef: 0.1,
            obs: ObsKind::Frames,
            ..Self::default()
        }
    }

    /// Steps collected per update (`num_envs * num_steps`).
    pub fn batch_size(&self) -> usize {
        self.num_envs * self.num_steps
    }

    /// Samples per minibatch.
    pub fn minibatch_size(&self) -> usize {
        self.batch_size() / self.num_minibatches.max(1)
    }

    /// Number of rollout-and-update rounds (`total_steps / batch_size`, at least 1).
    pub fn num_updates(&self) -> usize {
        ((self.total_steps / self.batch_size().max(1) as u64) as usize).max(1)
    }

    /// Error naming the first invalid setting.
    pub fn validate(&self) -> Result<(), AgentError> {
        let bad = |m: String| Err(AgentError::BadConfig(m));
        if self.num_envs == 0 || self.num_steps == 0 {
            return bad("num_envs and num_steps must be at least 1".into());
        }
        if self.num_minibatches == 0 || self.num_minibatches > self.batch_size() {
            return bad(format!(
                "num_minibatches {} must be in 1..={} (the batch size)",
                self.num_minibatches,
                self.batch_size()
            ));
        }
        if self.update_epochs == 0 {
            return bad("update_epochs must be at least 1".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(format!("learning_rate {} must be > 0", self.learning_rate));
        }
        for (name, v) in [("gamma", self.gamma), ("gae_lambda", self.gae_lambda)] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} {v} must be within [0, 1]"));
            }
        }
        if !(self.clip_coef > 0.0) || !(self.max_grad_norm > 0.0) {
            return bad("clip_coef and max_grad_norm must be > 0".into());
        }
        if self.obs == ObsKind::Frames && (self.frame_size < 18 || self.frame_stack == 0) {
            return bad("frames need frame_size >= 18 and frame_stack >= 1".into());
        }
        Ok(())
    }
}
