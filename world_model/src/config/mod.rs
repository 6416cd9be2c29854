//! The DiT's configuration: resolution, codec, tubelets, width and depth, action
//! kind, prediction target, noise schedule and loss weights, with named presets.
//!
//! Every field has a default (`#[serde(default)]`), so a JSON file may name only
//! what it changes. `tiny` is for tests (seconds), `small` is the CPU default (the
//! bounce recipe's shape), `base` is for a GPU.

use serde::{Deserialize, Serialize};

use crate::model_error::{ModelError, ModelResult};

mod validate;

pub use validate::{MAX_PARAMS, MAX_SIDE, MAX_TOKENS};

/// How frames become latents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CodecKind {
    /// Average-pool RGB to the model resolution, scale to [-1, 1] (3 channels).
    Pixel,
    /// A learned convolutional autoencoder, 4x down per side, `channels` latents.
    Autoencoder { channels: usize },
}

/// How actions are fed to the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ActionKind {
    /// A real vector of `dim` values (embedded by an MLP).
    Continuous { dim: usize },
    /// One of `n` choices, stored as its index (embedded by a table).
    Discrete { n: usize },
}

impl ActionKind {
    /// Values per action in the tensors the model takes (`dim`, or 1 index).
    pub fn width(&self) -> usize {
        match self {
            ActionKind::Continuous { dim } => *dim,
            ActionKind::Discrete { .. } => 1,
        }
    }
}

/// What the network's output means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictionTarget {
    /// The clean frame `x0`.
    X0,
    /// The flow velocity `eps - x0` (`dx_s/ds`).
    Velocity,
}

/// Distribution of the target frame's noise level `s` in training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NoiseDistribution {
    /// `s = 1 - (1 - u)^2`, `u ~ U(0,1)`: mass at high noise (the recipe).
    HighBiased,
    /// `s ~ U(0, 1)`.
    Uniform,
    /// `s = sigmoid(mean + std * n)`, `n ~ N(0,1)`.
    LogitNormal { mean: f64, std: f64 },
}

/// Which frames mark the foreground pixels the loss weights up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForegroundFrom {
    /// The clean target frame (objects tend to grow).
    Target,
    /// The last context frame (objects tend to fade).
    Context,
    /// Either: a trail left behind costs as much as a missed object.
    Both,
    /// Either, or where the model's own estimate of the frame (no gradient
    /// through the mask) is off the background: a halo or a ghost the model
    /// paints costs as much as a missed object, so blur does not pay.
    Predicted,
}

/// How a dream keeps its context from one step to the next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextCache {
    /// Each step runs the `W` context frames afresh, as the model was trained
    /// (exact; the context's keys and values are shared by the K passes only).
    #[default]
    Window,
    /// The keys and values roll from step to step: each step runs only the
    /// newest context frame and the new frame. Faster (about `W / 2` times
    /// fewer context tokens); each cached frame keeps what it saw when it was
    /// computed, which a window never shows the model, so measure it (see
    /// `docs/speed.md`). Needs `context_frames >= 2`.
    Rolling,
}

impl ModelConfig {
    /// Frames a rolling dream keeps in its cache before the newest one: the
    /// attention span less the newest frame, or `W - 1` without a span.
    pub fn rolling_keep(&self) -> usize {
        match self.attention_span {
            Some(span) => span.saturating_sub(1).max(1),
            None => self.context_frames.saturating_sub(1).max(1),
        }
    }
}

/// Everything that fixes the DiT's shape and its training objective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelConfig {
    /// Dataset frame size `[height, width]` (the codec's input).
    pub frame_size: [usize; 2],
    /// Model resolution `[height, width]` the pixel codec pools to.
    pub model_size: [usize; 2],
    pub codec: CodecKind,
    /// Tubelet `[t, h, w]` in latent cells. The DiT needs `t == 1`.
    pub tubelet: [usize; 3],
    /// Token width `D`.
    pub width: usize,
    pub depth: usize,
    pub heads: usize,
    pub mlp_ratio: usize,
    /// Context frames `W`; a training window holds `W + 1` frames.
    pub context_frames: usize,
    pub action: ActionKind,
    pub target: PredictionTarget,
    /// Predict the change from the last context frame instead of the frame.
    pub predict_delta: bool,
    pub target_noise: NoiseDistribution,
    /// Context frames get augmentation noise `s ~ U(0, context_noise_max)`.
    pub context_noise_max: f64,
    /// Weight of foreground pixels (target or last context frame off background).
    pub foreground_weight: f64,
    pub foreground_from: ForegroundFrom,
    /// A latent cell is foreground when some channel is off the background by more.
    pub foreground_threshold: f64,
    /// Weight of the reward MSE and the termination BCE in the loss.
    pub reward_loss_weight: f64,
    /// Euler steps per sampled frame.
    pub sampling_steps: usize,
    /// Noise level put on the context frames when sampling (GameNGen's guard
    /// against drift; 0 = clean context). At most `context_noise_max`, the
    /// range the model saw in training.
    pub sampling_context_noise: f64,
    /// Frames each token attends to, its own included (none: every earlier
    /// frame of the window). With a span the model can be trained on windows
    /// longer than the span and dream with a rolling cache of `span - 1`
    /// frames that sees exactly what training saw (see `docs/speed.md`).
    pub attention_span: Option<usize>,
    /// How a dream keeps its context between steps.
    pub sampling_cache: ContextCache,
    /// Rotary base over (t, y, x).
    pub rope_base: f64,
    /// Add a learned absolute (y, x) embedding to the tokens.
    pub learned_positions: bool,
    /// Width of the sinusoidal noise-level features.
    pub noise_features: usize,
    /// Auxiliary state supervision in training (none by default); see
    /// [`crate::aux_state`].
    pub aux_state: Option<crate::aux_state::AuxStateConfig>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self::small()
    }
}

impl ModelConfig {
    /// For tests: 16x16 model frames, 4x4 patches, width 32, 2 blocks, 2 context frames.
    pub fn tiny() -> Self {
        Self {
            frame_size: [32, 32],
            model_size: [16, 16],
            width: 32,
            depth: 2,
            heads: 2,
            mlp_ratio: 2,
            context_frames: 2,
            noise_features: 32,
            ..Self::small()
        }
    }

    /// The CPU default: the bounce recipe (32x32, 4x4 patches, width 128, 6 blocks, W = 4).
    pub fn small() -> Self {
        Self {
            frame_size: [64, 64],
            model_size: [32, 32],
            codec: CodecKind::Pixel,
            tubelet: [1, 4, 4],
            width: 128,
            depth: 6,
            heads: 4,
            mlp_ratio: 4,
            context_frames: 4,
            action: ActionKind::Continuous { dim: 2 },
            target: PredictionTarget::X0,
            // opt-in (`--predict-delta`): on bounce (tiny, 300 steps) it keeps balls
            // intact (kept 100% to h8 vs 0%) but learns motion more slowly
            predict_delta: false,
            target_noise: NoiseDistribution::HighBiased,
            context_noise_max: 0.1,
            foreground_weight: 10.0,
            foreground_from: ForegroundFrom::Both,
            foreground_threshold: 0.1,
            reward_loss_weight: 0.1,
            sampling_steps: 4,
            sampling_context_noise: 0.0,
            sampling_cache: ContextCache::Window,
            attention_span: None,
            rope_base: 100.0,
            learned_positions: true,
            noise_features: 128,
            aux_state: None,
        }
    }

    /// For a GPU: 64x64 frames, width 384, 12 blocks, 6 heads, W = 8.
    pub fn base() -> Self {
        Self {
            model_size: [64, 64],
            width: 384,
            depth: 12,
            heads: 6,
            context_frames: 8,
            noise_features: 256,
            ..Self::small()
        }
    }

    /// The preset called `name` (`tiny`, `small`, `base`).
    pub fn preset(name: &str) -> ModelResult<Self> {
        match name {
            "tiny" => Ok(Self::tiny()),
            "small" => Ok(Self::small()),
            "base" => Ok(Self::base()),
            other => Err(ModelError::InvalidConfig(format!(
                "unknown preset {other:?} (expected tiny, small or base)"
            ))),
        }
    }

    /// Latent frame shape `(channels, height, width)` the codec produces.
    pub fn latent_shape(&self) -> (usize, usize, usize) {
        match self.codec {
            CodecKind::Pixel => (3, self.model_size[0], self.model_size[1]),
            CodecKind::Autoencoder { channels } => {
                (channels, self.frame_size[0] / 4, self.frame_size[1] / 4)
            }
        }
    }

    /// Patch grid `(rows, cols)` per frame.
    pub fn grid(&self) -> (usize, usize) {
        let (_, h, w) = self.latent_shape();
        (h / self.tubelet[1], w / self.tubelet[2])
    }

    /// Tokens per frame `N`.
    pub fn tokens_per_frame(&self) -> usize {
        let (gy, gx) = self.grid();
        gy * gx
    }

    /// Values per token patch `P = C * t * h * w`.
    pub fn patch_dim(&self) -> usize {
        let (c, _, _) = self.latent_shape();
        c * self.tubelet.iter().product::<usize>()
    }

    /// Frames in a training window (`W + 1`).
    pub fn window(&self) -> usize {
        self.context_frames + 1
    }

    /// Head width `Dh`.
    pub fn head_dim(&self) -> usize {
        self.width / self.heads.max(1)
    }

    /// Number of trainable scalars (matches the built model exactly).
    pub fn param_count(&self) -> usize {
        let d = self.width;
        let lin = |i: usize, o: usize| i * o + o;
        let p = self.patch_dim();
        let mut n = lin(p, d) + lin(self.noise_features, d) + lin(d, d) + d; // patch, noise MLP, no-action
        if self.learned_positions {
            n += self.tokens_per_frame() * d;
        }
        n += match self.action {
            ActionKind::Continuous { dim } => lin(dim, d) + lin(d, d),
            ActionKind::Discrete { n } => n * d,
        };
        let block = lin(d, 6 * d)
            + lin(d, 3 * d)
            + lin(d, d)
            + lin(d, self.mlp_ratio * d)
            + lin(self.mlp_ratio * d, d);
        let aux = self.aux_state.as_ref().map_or(0, |a| 2 * lin(d, a.dims()));
        n + self.depth * block + lin(d, 2 * d) + lin(d, p) + lin(d, 2) + aux
    }

    /// FLOPs (2 x multiply-adds, matmuls only) of one forward over a `W + 1`
    /// window at batch 1; a training step costs about 3x this per window.
    pub fn flops_per_step(&self) -> u64 {
        let d = self.width as u64;
        let l = (self.tokens_per_frame() * self.window()) as u64;
        let r = self.mlp_ratio as u64;
        // qkv + proj + mlp per token, then scores and weighted values over all keys
        let per_block = l * (4 * d * d + 2 * r * d * d) + 2 * l * l * d;
        let embed_and_head = 2 * l * self.patch_dim() as u64 * d;
        2 * (self.depth as u64 * per_block + embed_and_head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_roundtrip_json() {
        for name in ["tiny", "small", "base"] {
            let c = ModelConfig::preset(name).unwrap();
            c.validate().unwrap();
            let back: ModelConfig =
                serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
            assert_eq!(back, c);
        }
        assert!(ModelConfig::preset("huge").is_err());
    }

    #[test]
    fn partial_json_takes_defaults() {
        let c: ModelConfig = serde_json::from_str(r#"{"width": 64, "heads": 2}"#).unwrap();
        assert_eq!(c.width, 64);
        assert_eq!(c.depth, ModelConfig::small().depth);
    }

    #[test]
    fn small_matches_the_recipe_size() {
        let c = ModelConfig::small();
        assert_eq!(c.tokens_per_frame(), 64);
        assert_eq!(c.patch_dim(), 48);
        // the PyTorch recipe has 1,884,720 parameters; ours adds the 258-weight reward/termination head
        assert_eq!(c.param_count(), 1_884_720 + 258);
    }

    #[test]
    fn validate_names_the_bad_field() {
        let c = ModelConfig {
            heads: 3,
            ..ModelConfig::tiny()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("heads"), "{e}");
        let c = ModelConfig {
            tubelet: [2, 4, 4],
            ..ModelConfig::tiny()
        };
        assert!(c.validate().unwrap_err().to_string().contains("tubelet"));
        let c = ModelConfig {
            model_size: [0, 32],
            ..ModelConfig::small()
        };
        assert!(c.validate().unwrap_err().to_string().contains("model_size"));
        let c = ModelConfig {
            rope_base: f64::NAN,
            ..ModelConfig::small()
        };
        assert!(c.validate().unwrap_err().to_string().contains("rope_base"));
        let c = ModelConfig {
            width: 8192,
            ..ModelConfig::small()
        };
        assert!(c.validate().unwrap_err().to_string().contains("parameters"));
    }
}
