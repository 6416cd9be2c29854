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

    /// Error naming the first invalid setting. Counts have upper limits so a
    /// settings file cannot ask for more memory than a machine has.
    pub fn validate(&self) -> Result<(), AgentError> {
        let bad = |m: String| Err(AgentError::BadConfig(m));
        let counts = [
            ("num_envs", self.num_envs, 1, 4096),
            ("num_steps", self.num_steps, 1, 1 << 20),
            ("update_epochs", self.update_epochs, 1, 1000),
            ("hidden", self.hidden, 1, 8192),
            ("frame_stack", self.frame_stack, 1, 64),
            ("frame_size", self.frame_size, 1, 512),
        ];
        for (name, v, lo, hi) in counts {
            if !(lo..=hi).contains(&v) {
                return bad(format!("{name} {v} must be in {lo}..={hi}"));
            }
        }
        if self.batch_size() > 1 << 22 {
            return bad(format!(
                "num_envs * num_steps = {} is above the limit {}",
                self.batch_size(),
                1 << 22
            ));
        }
        if self.total_steps == 0 || self.total_steps > 1 << 40 {
            return bad(format!(
                "total_steps {} must be in 1..=2^40",
                self.total_steps
            ));
        }
        if self.num_minibatches == 0 || self.num_minibatches > self.batch_size() {
            return bad(format!(
                "num_minibatches {} must be in 1..={} (the batch size)",
                self.num_minibatches,
                self.batch_size()
            ));
        }
        let reals = [
            ("learning_rate", self.learning_rate, 1e-12, 10.0),
            ("gamma", f64::from(self.gamma), 0.0, 1.0),
            ("gae_lambda", f64::from(self.gae_lambda), 0.0, 1.0),
            ("clip_coef", f64::from(self.clip_coef), 1e-9, 10.0),
            ("ent_coef", f64::from(self.ent_coef), 0.0, 100.0),
            ("vf_coef", f64::from(self.vf_coef), 0.0, 100.0),
            ("max_grad_norm", self.max_grad_norm, 1e-9, 1e6),
        ];
        for (name, v, lo, hi) in reals {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return bad(format!("{name} {v} must be a number in [{lo}, {hi}]"));
            }
        }
        if let Some(kl) = self.target_kl {
            if !(kl.is_finite() && kl > 0.0) {
                return bad(format!("target_kl {kl} must be a number > 0 (or absent)"));
            }
        }
        if self.obs == ObsKind::Frames && self.frame_size < 18 {
            return bad(format!(
                "frame_size {} must be at least 18 for frames (the CNN's receptive field)",
                self.frame_size
            ));
        }
        Ok(())
    }
}
