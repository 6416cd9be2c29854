//! [`DreamModel`]: a trained DiT with its frame codec and sampling options, loaded
//! from a checkpoint directory, and the batched dream step every dreaming env
//! shares ([`step_batch`]).
//!
//! Noise: each dreaming episode has its own noise seed, and the Gaussian noise of
//! its `k`-th dreamed step is drawn from ChaCha8 seeded with that seed on stream
//! `k`. A batch therefore samples, for each of its members, exactly the noise that
//! member would get alone: `imagine` and the vector env reproduce what stepping
//! one env gives (up to float summation order in batched matmuls).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use somnium_scenarios::Frame;
use somnium_world_model::checkpoint::Provenance;
use somnium_world_model::codec::{codec_for, ConvAutoencoder, FrameCodec};
use somnium_world_model::config::ContextCache;
use somnium_world_model::config::{CodecKind, ModelConfig};
use somnium_world_model::dit::DiT;
use somnium_world_model::sampler::rolling::{rolling_start, rolling_step, RollingContext};
use somnium_world_model::sampler::{
    dream_step_with_noise, window_actions, DreamStep, SampleOptions,
};
use somnium_world_model::train::checkpointing::load_model_and_meta;

use crate::EnvError;

/// Names the learned codec's weights may have next to a checkpoint.
const CODEC_FILES: [&str; 2] = ["codec.safetensors", "codec/codec.safetensors"];

/// A world model ready to dream: the DiT, its codec and how to sample.
#[derive(Clone)]
pub struct DreamModel {
    model: Arc<DiT>,
    codec: Arc<dyn FrameCodec>,
    options: SampleOptions,
    source: Option<PathBuf>,
    /// What the checkpoint says it was trained on (`None` when it does not say).
    provenance: Option<Arc<Provenance>>,
}

impl DreamModel {
    /// Wraps a model and its codec; refuses a codec whose latents do not fit the model.
    pub fn new(model: DiT, codec: Box<dyn FrameCodec>) -> Result<Self, EnvError> {
        let cfg = model.config();
        if codec.latent_shape() != cfg.latent_shape() {
            return Err(EnvError::BadConfig(format!(
                "codec latents {:?} do not match the model's {:?}",
                codec.latent_shape(),
                cfg.latent_shape()
            )));
        }
        let options = SampleOptions::for_model(cfg);
        // dreams only run forward: a model that records no autograd graph frees
        // each op's output as it goes
        let model = if model.is_trainable() {
            model.inference_copy()?
        } else {
            model
        };
        Ok(Self {
            model: Arc::new(model),
            codec: Arc::from(codec),
            options,
            source: None,
            provenance: None,
        })
    }

    /// A randomly initialised model of `config` with its (untrained) codec: for tests.
    pub fn random(config: &ModelConfig, seed: u64) -> Result<Self, EnvError> {
        let device = Device::Cpu;
        let model = DiT::new(config, seed, &device)?;
        let codec = codec_for(config, seed, &device)?;
        Self::new(model, codec)
    }

    /// Loads a trained model. `path` may be a checkpoint directory (with
    /// `config.json`), a run directory holding `ckpt/`, or a file inside the
    /// checkpoint directory (e.g. `model.safetensors`). Uses the EMA weights when
    /// the checkpoint has them. A learned codec is read from `codec.safetensors`
    /// in the checkpoint or run directory.
    pub fn load(path: &Path, device: &Device) -> Result<Self, EnvError> {
        let dir = checkpoint_dir(path)?;
        let (model, meta) = load_model_and_meta(&dir, true, device)
            .map_err(|e| EnvError::Model(format!("loading the model in {}: {e}", dir.display())))?;
        let cfg = model.config().clone();
        let codec: Box<dyn FrameCodec> = match cfg.codec {
            CodecKind::Pixel => codec_for(&cfg, 0, device)?,
            CodecKind::Autoencoder { channels } => {
                let candidates: Vec<PathBuf> = [Some(dir.as_path()), dir.parent()]
                    .into_iter()
                    .flatten()
                    .flat_map(|d| CODEC_FILES.iter().map(move |f| d.join(f)))
                    .collect();
                let file = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
                    EnvError::Model(format!(
                        "the model in {} uses a learned codec, but none of {} exists",
                        dir.display(),
                        candidates
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                let ae = ConvAutoencoder::new(
                    (cfg.frame_size[0], cfg.frame_size[1]),
                    channels,
                    0,
                    device,
                )?;
                ae.load(file)?;
                Box::new(ae)
            }
        };
        let mut m = Self::new(model, codec)?;
        m.source = Some(path.to_path_buf());
        m.provenance = meta.provenance.map(Arc::new);
        Ok(m)
    }

    /// Replaces the sampling options (Euler steps, context noise, cache).
    pub fn with_options(mut self, options: SampleOptions) -> Self {
        self.options = options;
        self
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        self.model.config()
    }

    /// The scenario, data and command the model was trained with, when its
    /// checkpoint records them.
    pub fn provenance(&self) -> Option<&Provenance> {
        self.provenance.as_deref()
    }

    /// Replaces the recorded provenance (e.g. for a model built in memory).
    pub fn with_provenance(mut self, provenance: Option<Provenance>) -> Self {
        self.provenance = provenance.map(Arc::new);
        self
    }

    /// The path the model was loaded from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Frame `(height, width)` the model dreams.
    pub fn frame_size(&self) -> (usize, usize) {
        self.codec.frame_size()
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        self.model.device()
    }

    /// Context frames `W`.
    pub fn context_frames(&self) -> usize {
        self.model.config().context_frames
    }

    /// Encodes `frames` (`W` frames, each `[H, W, 3]` u8) to a context `[W, C, h, w]`.
    pub(crate) fn encode_context(&self, frames: &[Frame]) -> Result<Tensor, EnvError> {
        let (h, w) = self.frame_size();
        let mut data = Vec::with_capacity(frames.len() * h * w * 3);
        for f in frames {
            if (f.height, f.width) != (h, w) {
                return Err(EnvError::BadConfig(format!(
                    "context frame is {}x{}, the model takes {w}x{h}",
                    f.width, f.height
                )));
            }
            data.extend_from_slice(&f.data);
        }
        let t = Tensor::from_vec(data, (1, frames.len(), h, w, 3), self.model.device())?;
        Ok(self.codec.encode(&t)?.squeeze(0)?.detach())
    }
}

/// The checkpoint directory `path` names (see [`DreamModel::load`]).
pub fn checkpoint_dir(path: &Path) -> Result<PathBuf, EnvError> {
    let config = somnium_world_model::checkpoint::CONFIG_FILE;
    let candidates = if path.is_file() {
        vec![path.parent().map(Path::to_path_buf).unwrap_or_default()]
    } else {
        vec![path.to_path_buf(), path.join("ckpt")]
    };
    candidates
        .into_iter()
        .find(|d| d.join(config).is_file())
        .ok_or_else(|| {
            EnvError::Model(format!(
                "no model checkpoint at {} (expected {config} there or in its ckpt/ folder; \
                 train one with `somnium train` or use the shipped models/)",
                path.display()
            ))
        })
}

/// One dreaming episode's model state.
#[derive(Clone, Debug)]
pub(crate) struct DreamState {
    /// `[W, C, h, w]` the latest latent frames.
    pub context: Tensor,
    /// `[W-1, A]` the actions between them.
    pub past_actions: Tensor,
    /// Seed of this episode's noise streams.
    pub noise_seed: u64,
    /// Dreamed steps so far (the noise stream of the next step).
    pub step: u64,
    /// With a rolling cache: the keys and values of the frames before the
    /// newest (batch 1; made on the first step).
    pub rolling: Option<RollingContext>,
}

/// What one batched dream step gives each member.
pub(crate) struct BatchOut {
    pub frames: Vec<Frame>,
    pub rewards: Vec<f32>,
    pub terminated_prob: Vec<f32>,
}

impl DreamModel {
    /// The noise `[W+1, C, h, w]` of `state`'s next step.
    fn noise(&self, state: &DreamState) -> Result<Tensor, EnvError> {
        let (c, h, w) = self.config().latent_shape();
        let n = (self.context_frames() + 1) * c * h * w;
        let mut rng = ChaCha8Rng::seed_from_u64(state.noise_seed);
        rng.set_stream(state.step);
        let v: Vec<f32> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
        Ok(Tensor::from_vec(
            v,
            (self.context_frames() + 1, c, h, w),
            self.model.device(),
        )?)
    }

    /// Dreams one step for every state with its action (`[A]` f32 each, already
    /// validated) in one forward pass; returns the advanced states and the outputs.
    pub(crate) fn step_batch(
        &self,
        states: &[&DreamState],
        actions: &[Vec<f32>],
    ) -> Result<(Vec<DreamState>, BatchOut), EnvError> {
        let b = states.len();
        if b == 0 || actions.len() != b {
            return Err(EnvError::BadConfig(format!(
                "{b} dream states for {} actions",
                actions.len()
            )));
        }
        let device = self.model.device();
        let wn = self.context_frames();
        let a_dim = self.config().action.width();
        let flat: Vec<f32> = actions.iter().flatten().copied().collect();
        let new_actions = Tensor::from_vec(flat, (b, 1, a_dim), device)?;
        let pasts: Vec<&Tensor> = states.iter().map(|s| &s.past_actions).collect();
        let recent = Tensor::cat(&[&Tensor::stack(&pasts, 0)?, &new_actions], 1)?;
        let noises = states
            .iter()
            .map(|s| self.noise(s))
            .collect::<Result<Vec<_>, _>>()?;
        let noise = Tensor::stack(&noises, 0)?;
        let (out, rolled) = if self.options.context_cache == ContextCache::Rolling {
            let (out, next) = self.rolling_batch(states, &new_actions, &noise)?;
            (out, Some(next))
        } else {
            let contexts: Vec<&Tensor> = states.iter().map(|s| &s.context).collect();
            let context = Tensor::stack(&contexts, 0)?;
            let window = window_actions(&recent)?;
            let out = dream_step_with_noise(&self.model, &context, &window, &noise, &self.options)?;
            (out, None)
        };
        // Detached, so that no autograd history can ride along in the context
        // (the model is built for inference and records none; this keeps it so)
        let next_latent = out.next.detach();
        let decoded = self.codec.decode(&next_latent.unsqueeze(1)?)?;
        let (h, w) = self.frame_size();
        let pixels: Vec<u8> = decoded.flatten_all()?.to_vec1()?;
        let frames = pixels
            .chunks_exact(h * w * 3)
            .map(|d| Frame {
                width: w,
                height: h,
                data: d.to_vec(),
            })
            .collect();
        let mut next_states = Vec::with_capacity(b);
        for (i, s) in states.iter().enumerate() {
            let new = next_latent.get(i)?.unsqueeze(0)?;
            next_states.push(DreamState {
                context: Tensor::cat(&[&s.context.narrow(0, 1, wn - 1)?, &new], 0)?,
                past_actions: recent.get(i)?.narrow(0, 1, wn - 1)?,
                noise_seed: s.noise_seed,
                step: s.step + 1,
                rolling: rolled.as_ref().map(|r| r.member(i)).transpose()?,
            });
        }
        Ok((
            next_states,
            BatchOut {
                frames,
                rewards: out.reward.detach().to_dtype(DType::F32)?.to_vec1()?,
                terminated_prob: out.terminated_prob.to_dtype(DType::F32)?.to_vec1()?,
            },
        ))
    }

    /// A rolling-cache step for `states` (see `sampler::rolling`): members
    /// without a cache yet get one from their context first, in one batch;
    /// `noise` `[B, W+1, C, h, w]` is each member's step noise (its first
    /// `W - 1` frames for a new cache, the last two for the step).
    fn rolling_batch(
        &self,
        states: &[&DreamState],
        new_actions: &Tensor,
        noise: &Tensor,
    ) -> Result<(DreamStep, RollingContext), EnvError> {
        let wn = self.context_frames();
        let fresh: Vec<usize> = (0..states.len())
            .filter(|&i| states[i].rolling.is_none())
            .collect();
        let mut started = Vec::with_capacity(fresh.len());
        if !fresh.is_empty() {
            let ctx: Vec<&Tensor> = fresh.iter().map(|&i| &states[i].context).collect();
            let acts: Vec<&Tensor> = fresh.iter().map(|&i| &states[i].past_actions).collect();
            let idx = Tensor::from_vec(
                fresh.iter().map(|&i| i as u32).collect::<Vec<_>>(),
                fresh.len(),
                noise.device(),
            )?;
            let start = rolling_start(
                &self.model,
                &Tensor::stack(&ctx, 0)?,
                &window_actions(&Tensor::stack(&acts, 0)?)?,
                &noise.index_select(&idx, 0)?.narrow(1, 0, wn - 1)?,
                &self.options,
            )?;
            for j in 0..fresh.len() {
                started.push(start.member(j)?);
            }
        }
        let mut members = Vec::with_capacity(states.len());
        let mut next_fresh = started.iter();
        for s in states {
            members.push(match &s.rolling {
                Some(r) => r,
                None => next_fresh.next().ok_or_else(|| {
                    EnvError::BadConfig("rolling caches out of step with the states".into())
                })?,
            });
        }
        let ctx = RollingContext::concat(&members)?;
        Ok(rolling_step(
            &self.model,
            &ctx,
            new_actions,
            &noise.narrow(1, wn - 1, 2)?,
            &self.options,
            self.config().rolling_keep(),
        )?)
    }
}
