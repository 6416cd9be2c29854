//! [`ModelConfig::validate`]: every field in its range, named when it is not,
//! with limits that keep a settings file from asking for more memory than any
//! machine has; then the shape checks (divisibility, head width, tokens).

use super::{ActionKind, CodecKind, ModelConfig, NoiseDistribution, PredictionTarget};
use crate::model_error::{ModelError, ModelResult};

/// The largest frame side a config may ask for.
pub const MAX_SIDE: usize = 1024;
/// The most tokens a training window may hold (`tokens_per_frame * (W + 1)`).
pub const MAX_TOKENS: usize = 65_536;
/// The most parameters a config may ask for (4 GB of f32 weights).
pub const MAX_PARAMS: usize = 1_000_000_000;

impl ModelConfig {
    /// Checks that the shape can be built and every number is in its range;
    /// the error names the first field that is not. Limits keep a config from
    /// asking for more memory than any machine has.
    pub fn validate(&self) -> ModelResult<()> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        for (name, v) in [
            ("frame_size", self.frame_size),
            ("model_size", self.model_size),
        ] {
            if v.iter().any(|&x| x == 0 || x > MAX_SIDE) {
                return bad(format!("{name} {v:?}: each side must be 1 to {MAX_SIDE}"));
            }
        }
        let ints = [
            (
                "tubelet",
                self.tubelet.iter().copied().max().unwrap_or(0),
                64,
            ),
            ("width", self.width, 8192),
            ("depth", self.depth, 256),
            ("heads", self.heads, 256),
            ("mlp_ratio", self.mlp_ratio, 64),
            ("context_frames", self.context_frames, 256),
            ("sampling_steps", self.sampling_steps, 1000),
            ("noise_features", self.noise_features, 8192),
        ];
        for (name, v, max) in ints {
            if v > max {
                return bad(format!("{name} {v} is above the limit {max}"));
            }
        }
        if self.tubelet.contains(&0) {
            return bad(format!(
                "tubelet {:?}: every entry must be at least 1",
                self.tubelet
            ));
        }
        if let CodecKind::Autoencoder { channels } = self.codec {
            if channels == 0 || channels > 1024 {
                return bad(format!("codec.channels {channels} must be 1 to 1024"));
            }
        }
        match self.action {
            ActionKind::Continuous { dim } if dim == 0 || dim > 4096 => {
                return bad(format!("action.dim {dim} must be 1 to 4096"))
            }
            ActionKind::Discrete { n } if n == 0 || n > 65536 => {
                return bad(format!("action.n {n} must be 1 to 65536"))
            }
            _ => {}
        }
        let floats = [
            ("context_noise_max", self.context_noise_max, 0.0, 0.999_999),
            ("foreground_weight", self.foreground_weight, 1.0, 1e6),
            ("foreground_threshold", self.foreground_threshold, 0.0, 2.0),
            ("reward_loss_weight", self.reward_loss_weight, 0.0, 1e6),
            (
                "sampling_context_noise",
                self.sampling_context_noise,
                0.0,
                0.999_999,
            ),
            ("rope_base", self.rope_base, 1.0 + 1e-9, 1e9),
        ];
        for (name, v, lo, hi) in floats {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return bad(format!("{name} {v} must be a number in [{lo}, {hi}]"));
            }
        }
        if let NoiseDistribution::LogitNormal { mean, std } = self.target_noise {
            if !(mean.is_finite() && mean.abs() <= 100.0) {
                return bad(format!(
                    "target_noise.mean {mean} must be a number in [-100, 100]"
                ));
            }
            if !(std.is_finite() && std > 0.0 && std <= 100.0) {
                return bad(format!(
                    "target_noise.std {std} must be a number in (0, 100]"
                ));
            }
        }
        let (c, h, w) = self.latent_shape();
        if c == 0 || h == 0 || w == 0 {
            return bad(format!(
                "frame_size {:?}: the latent shape ({c}, {h}, {w}) is empty",
                self.frame_size
            ));
        }
        if self.frame_size[0] % self.model_size[0] != 0
            || self.frame_size[1] % self.model_size[1] != 0
        {
            return bad(format!(
                "model_size {:?} must divide frame_size {:?}",
                self.model_size, self.frame_size
            ));
        }
        if self.tubelet[0] != 1 {
            return bad(format!(
                "tubelet t = {} but the DiT predicts one frame at a time (t must be 1)",
                self.tubelet[0]
            ));
        }
        if h % self.tubelet[1] != 0 || w % self.tubelet[2] != 0 {
            return bad(format!(
                "tubelet {:?} must divide the latent frame {h}x{w}",
                self.tubelet
            ));
        }
        let tokens = self.tokens_per_frame() * self.window();
        if tokens > MAX_TOKENS {
            return bad(format!(
                "model_size, tubelet and context_frames give {tokens} tokens a window, above the limit {MAX_TOKENS}"
            ));
        }
        if self.heads == 0 || self.width % self.heads != 0 {
            return bad(format!(
                "width {} must be a multiple of heads {}",
                self.width, self.heads
            ));
        }
        if self.head_dim() % 2 != 0 || self.head_dim() < 8 {
            return bad(format!(
                "width / heads = {} (the head dim) must be even and at least 8 (rotary over t, y, x)",
                self.head_dim()
            ));
        }
        for (name, v) in [
            ("depth", self.depth),
            ("mlp_ratio", self.mlp_ratio),
            ("context_frames", self.context_frames),
            ("sampling_steps", self.sampling_steps),
        ] {
            if v == 0 {
                return bad(format!("{name} must be at least 1"));
            }
        }
        if self.sampling_context_noise > self.context_noise_max {
            return bad(format!(
                "sampling_context_noise {} must lie in [0, context_noise_max = {}] (the noise the model was trained on)",
                self.sampling_context_noise, self.context_noise_max
            ));
        }
        if self.sampling_cache == super::ContextCache::Rolling && self.context_frames < 2 {
            return bad(
                "sampling_cache rolling needs context_frames >= 2 (the newest frame runs beside the new one)"
                    .into(),
            );
        }
        if let Some(span) = self.attention_span {
            if span < 2 {
                return bad(format!(
                    "attention_span {span} must be at least 2 (a frame and the one before it)"
                ));
            }
        }
        if self.noise_features < 2 || self.noise_features % 2 != 0 {
            return bad(format!(
                "noise_features {} must be even and at least 2",
                self.noise_features
            ));
        }
        if let Some(aux) = &self.aux_state {
            aux.validate(self.depth)?;
        }
        if self.predict_delta && self.target != PredictionTarget::X0 {
            return bad("predict_delta needs target x0".into());
        }
        if self.param_count() > MAX_PARAMS {
            return bad(format!(
                "width {}, depth {} and mlp_ratio {} give {} parameters, above the limit {MAX_PARAMS}",
                self.width,
                self.depth,
                self.mlp_ratio,
                self.param_count()
            ));
        }
        Ok(())
    }
}
