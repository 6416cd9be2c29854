//! [`Dreamer`]: a batch of dreaming environments in pixels, holding the
//! model, the codec and each environment's context, for a Gym-style
//! `step(actions) -> frames`.

use std::sync::Arc;

use candle_core::{DType, Tensor};
use rand_chacha::ChaCha8Rng;

use super::{check_actions, LatentDreams, SampleOptions};
use crate::codec::FrameCodec;
use crate::dit::DiT;
use crate::model_error::{shape_error, ModelError, ModelResult};

/// A batch of dreaming environments: the model, the codec and each one's context.
pub struct Dreamer {
    model: Arc<DiT>,
    codec: Arc<dyn FrameCodec>,
    options: SampleOptions,
    rng: ChaCha8Rng,
    dreams: LatentDreams,
}

/// What one [`Dreamer::step`] returns, per environment.
pub struct DreamFrames {
    /// `[B, H, W, 3]` u8 at the dataset resolution.
    pub frames: Tensor,
    pub reward: Vec<f32>,
    pub terminated_prob: Vec<f32>,
}

impl Dreamer {
    /// Starts from true frames `frames` u8 `[B, W, H, W, 3]` and the actions between
    /// them `past_actions` `[B, W-1, A]`; samples draw from `rng`.
    pub fn new(
        model: Arc<DiT>,
        codec: Arc<dyn FrameCodec>,
        frames: &Tensor,
        past_actions: &Tensor,
        rng: ChaCha8Rng,
        options: SampleOptions,
    ) -> ModelResult<Self> {
        let cfg = model.config();
        if codec.latent_shape() != cfg.latent_shape() {
            return Err(ModelError::InvalidConfig(format!(
                "codec latents {:?} do not match the model's {:?}",
                codec.latent_shape(),
                cfg.latent_shape()
            )));
        }
        let context = codec.encode(frames)?;
        let b = context.dim(0)?;
        if context.dim(1)? != cfg.context_frames {
            return Err(shape_error(
                "dreamer start frames (W)",
                [cfg.context_frames],
                frames.dims(),
            ));
        }
        let want = [b, cfg.context_frames - 1, cfg.action.width()];
        if past_actions.dims() != want {
            return Err(shape_error(
                "dreamer past actions",
                want,
                past_actions.dims(),
            ));
        }
        check_actions(&cfg.action, past_actions)?;
        let past_actions = past_actions.to_dtype(DType::F32)?;
        Ok(Self {
            model,
            codec,
            options,
            rng,
            dreams: LatentDreams {
                window: context,
                past_actions,
                rolling: None,
            },
        })
    }

    /// Number of environments.
    pub fn batch(&self) -> usize {
        self.dreams.window.dim(0).unwrap_or(0)
    }

    /// The current context latents `[B, W, C, h, w]`.
    pub fn context(&self) -> &Tensor {
        &self.dreams.window
    }

    /// Applies `actions` `[B, A]` and dreams the next frame of every environment.
    pub fn step(&mut self, actions: &Tensor) -> ModelResult<DreamFrames> {
        let a = actions.to_dtype(DType::F32)?;
        let want = [self.batch(), self.model.config().action.width()];
        if a.dims() != want {
            return Err(shape_error("dreamer step actions", want, a.dims()));
        }
        check_actions(&self.model.config().action, &a)?;
        let out = self
            .dreams
            .step(&self.model, &a, &mut self.rng, &self.options)?;
        let frames = self.codec.decode(&out.next.unsqueeze(1)?)?.squeeze(1)?;
        Ok(DreamFrames {
            frames,
            reward: out.reward.to_vec1()?,
            terminated_prob: out.terminated_prob.to_vec1()?,
        })
    }
}
