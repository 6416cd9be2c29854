//! The spacetime DiT: tubelet tokens of every frame of a window, per-frame
//! adaLN-Zero conditioning on noise level and action, block-causal attention
//! with 3D rotary positions, a final adaLN + linear head back to latents, and
//! reward / termination heads on each frame's pooled tokens.
//!
//! A forward may take the keys and values of earlier frames ([`KvCache`]) so
//! that the sampler runs the context once and each denoising pass only the new
//! frame's tokens. Rotary time is relative, so a cache may also roll: its oldest
//! frames dropped and new ones appended at their absolute time
//! ([`KvCache::drop_oldest`], [`DiT::forward_from_time`]).

pub mod block;
pub mod dense;
pub mod embed;
mod kv_cache;

pub use kv_cache::KvCache;

use std::collections::HashMap;

use candle_core::{Device, Module, Tensor};

use crate::aux_state::AuxHead;
use crate::config::ModelConfig;
use crate::kernels;
use crate::model_error::{shape_error, ModelError, ModelResult};
use crate::params::{Init, ParamStore};
use crate::patch::{patchify, unpatchify};
use block::{AttentionLayout, Block};
use embed::{rope_tables, Conditioning};

/// What one forward returns.
pub struct DitOutput {
    /// `[B, F, C, h, w]`: the predicted clean frame or velocity (see `ModelConfig::target`).
    pub prediction: Tensor,
    /// `[B, F]`: reward of the transition into each frame.
    pub reward: Tensor,
    /// `[B, F]`: logit that the episode terminated on reaching each frame.
    pub terminated_logit: Tensor,
    /// The keys and values of this call's frames appended to the input cache, when asked.
    pub cache: Option<KvCache>,
    /// `[B, F, S]`: the auxiliary head's normalised state of each frame, only
    /// from [`DiT::forward_with_state`] on a model with `aux_state`.
    pub state: Option<Tensor>,
}

/// The world model's network.
pub struct DiT {
    cfg: ModelConfig,
    params: ParamStore,
    patch_in: dense::Dense,
    positions: Option<Tensor>,
    conditioning: Conditioning,
    blocks: Vec<Block>,
    final_ada: candle_nn::Linear,
    head: dense::Dense,
    outcome_head: candle_nn::Linear,
    aux: Option<AuxHead>,
}

impl DiT {
    /// Builds the network with weights drawn from `seed`.
    pub fn new(cfg: &ModelConfig, seed: u64, device: &Device) -> ModelResult<Self> {
        Self::build(cfg, ParamStore::new(seed, device))
    }

    /// [`DiT::new`] for a model that only runs forward (dreams, evaluation,
    /// benchmarks): its ops record no autograd graph, so a forward's
    /// intermediates are freed as it goes. Same weights for the same seed.
    pub fn new_for_inference(cfg: &ModelConfig, seed: u64, device: &Device) -> ModelResult<Self> {
        Self::build(cfg, ParamStore::for_inference(seed, device))
    }

    /// A forward-only copy of this model (same config and current weights).
    pub fn inference_copy(&self) -> ModelResult<Self> {
        let copy = Self::new_for_inference(&self.cfg, 0, self.device())?;
        copy.load_weights(&self.params.snapshot()?.into_iter().collect())?;
        Ok(copy)
    }

    /// Whether this model records an autograd graph (false for inference models).
    pub fn is_trainable(&self) -> bool {
        !self.params.is_inference()
    }

    fn build(cfg: &ModelConfig, mut p: ParamStore) -> ModelResult<Self> {
        cfg.validate()?;
        let d = cfg.width;
        let patch_in = p.dense("patch_in", cfg.patch_dim(), d, false)?;
        let positions = if cfg.learned_positions {
            Some(p.tensor(
                "positions",
                &[cfg.tokens_per_frame(), d],
                Init::Normal(0.02),
            )?)
        } else {
            None
        };
        let conditioning = Conditioning::new(cfg, &mut p)?;
        let blocks = (0..cfg.depth)
            .map(|i| Block::new(&format!("blocks.{i}"), d, cfg.heads, cfg.mlp_ratio, &mut p))
            .collect::<ModelResult<Vec<_>>>()?;
        let final_ada = p.linear("final_ada", d, 2 * d, true)?;
        let head = p.dense("head", d, cfg.patch_dim(), true)?;
        let outcome_head = p.linear("outcome_head", d, 2, false)?;
        // created last, so the other weights of a seed are those of a model without it
        let aux = match &cfg.aux_state {
            Some(a) => Some(AuxHead::new(a, d, &mut p)?),
            None => None,
        };
        Ok(Self {
            cfg: cfg.clone(),
            params: p,
            patch_in,
            positions,
            conditioning,
            blocks,
            final_ada,
            head,
            outcome_head,
            aux,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    pub fn device(&self) -> &Device {
        self.params.device()
    }

    /// Overwrites the weights (a checkpoint's tensors by name).
    pub fn load_weights(&self, values: &HashMap<String, Tensor>) -> ModelResult<()> {
        self.params.load(values)
    }

    /// Runs frames `t0..t0+F` of a window, where `t0 = cache.frames` (0 without a cache).
    ///
    /// `x`: `[B, F, C, h, w]` noisy latents, `s`: `[B, F]` their noise levels,
    /// `actions`: `[B, F, A]` the action taken just before each frame (ignored at
    /// window position 0). With `keep_cache`, the output carries the input cache
    /// extended by these frames' keys and values.
    pub fn forward(
        &self,
        x: &Tensor,
        s: &Tensor,
        actions: &Tensor,
        cache: Option<&KvCache>,
        keep_cache: bool,
    ) -> ModelResult<DitOutput> {
        // on candle's CPU pool: the many small ops skip a thread hand-off each
        let time = cache.map_or(0, |c| c.start + c.frames);
        self.device()
            .with_context(|| self.forward_in_pool(x, s, actions, cache, keep_cache, false, time))
    }

    /// [`DiT::forward`] without a cache, the first frame at absolute time `time`
    /// (rotary time is relative: only differences between frames matter; at
    /// time 0 the first frame takes the learned "no action"). With `keep_cache`
    /// the output's cache starts at `time`.
    pub fn forward_from_time(
        &self,
        x: &Tensor,
        s: &Tensor,
        actions: &Tensor,
        time: usize,
        keep_cache: bool,
    ) -> ModelResult<DitOutput> {
        self.device()
            .with_context(|| self.forward_in_pool(x, s, actions, None, keep_cache, false, time))
    }

    /// [`DiT::forward`] over a whole window (no cache) that also runs the
    /// auxiliary state head (training only; `state` is `None` without one).
    pub fn forward_with_state(
        &self,
        x: &Tensor,
        s: &Tensor,
        actions: &Tensor,
    ) -> ModelResult<DitOutput> {
        self.device()
            .with_context(|| self.forward_in_pool(x, s, actions, None, false, true, 0))
    }

    #[allow(clippy::too_many_arguments)]
    fn forward_in_pool(
        &self,
        x: &Tensor,
        s: &Tensor,
        actions: &Tensor,
        cache: Option<&KvCache>,
        keep_cache: bool,
        with_state: bool,
        time: usize,
    ) -> ModelResult<DitOutput> {
        let cfg = &self.cfg;
        let (c, h, w) = cfg.latent_shape();
        let (b, f) = (x.dim(0)?, x.dim(1)?);
        if x.dims() != [b, f, c, h, w] || f == 0 {
            return Err(shape_error(
                "latent frames",
                ["B", "F", &c.to_string(), &h.to_string(), &w.to_string()],
                x.dims(),
            ));
        }
        if s.dims() != [b, f] {
            return Err(shape_error("noise levels", [b, f], s.dims()));
        }
        let t0 = cache.map_or(0, |c| c.frames);
        if let Some(cache) = cache {
            if cache.frames == 0 {
                return Err(ModelError::InvalidConfig(
                    "an empty kv cache (pass none instead)".into(),
                ));
            }
            if cache.layers.len() != self.blocks.len() || cache.layers[0].0.dim(0)? != b {
                return Err(shape_error(
                    "kv cache (blocks, batch)",
                    [self.blocks.len(), b],
                    &[cache.layers.len()],
                ));
            }
        }
        let n = cfg.tokens_per_frame();
        let mut tokens = self.patch_in.forward(&patchify(x, cfg.tubelet)?)?; // [B, F, N, D]
        if let Some(pos) = &self.positions {
            // rank-1 add (ones[B*F,1] @ pos[1,N*D]) so the gradient needs no strided reduction
            let d = cfg.width;
            let ones = Tensor::ones((b * f, 1), tokens.dtype(), tokens.device())?;
            let spread = ones
                .matmul(&pos.reshape((1, n * d))?)?
                .reshape((b, f, n, d))?;
            tokens = (tokens + spread)?;
        }
        let cond_silu = self.conditioning.forward(s, actions, time)?.silu()?; // [B, F, D]
        let (cos, sin) = rope_tables(
            time,
            f,
            cfg.grid(),
            cfg.head_dim(),
            cfg.rope_base,
            x.device(),
        )?;
        let layout = AttentionLayout {
            cos: &cos,
            sin: &sin,
            tokens_per_frame: n,
            q_offset: t0 * n,
            span: cfg.attention_span.unwrap_or(0),
        };
        let mut new_layers = Vec::with_capacity(self.blocks.len());
        let mut state = None;
        for (i, block) in self.blocks.iter().enumerate() {
            let (next, kv) =
                block.forward(&tokens, &cond_silu, &layout, cache.map(|c| &c.layers[i]))?;
            tokens = next;
            if let (true, Some(head), Some(a)) = (with_state, &self.aux, &cfg.aux_state) {
                if i + 1 == a.after_block {
                    state = Some(head.forward(&tokens)?);
                }
            }
            if keep_cache {
                new_layers.push(match cache {
                    Some(c) => (
                        Tensor::cat(&[&c.layers[i].0, &kv.0], 2)?,
                        Tensor::cat(&[&c.layers[i].1, &kv.1], 2)?,
                    ),
                    None => kv,
                });
            }
        }
        let d = cfg.width;
        let ada = self.final_ada.forward(&cond_silu)?;
        let shift = ada.narrow(2, 0, d)?.contiguous()?;
        let scale = ada.narrow(2, d, d)?.contiguous()?;
        let normed = kernels::modulated_layer_norm(&tokens, &shift, &scale, 1e-6)?;
        let prediction = unpatchify(&self.head.forward(&normed)?, cfg.tubelet, c, h, w)?;
        let outcome = self.outcome_head.forward(&normed.mean(2)?)?; // [B, F, 2]
        Ok(DitOutput {
            prediction,
            reward: outcome.narrow(2, 0, 1)?.squeeze(2)?,
            terminated_logit: outcome.narrow(2, 1, 1)?.squeeze(2)?,
            cache: keep_cache.then_some(KvCache {
                layers: new_layers,
                frames: t0 + f,
                start: cache.map_or(time, |c| c.start),
            }),
            state,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
