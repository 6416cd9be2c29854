//! The keys and values of earlier frames, per block, that let a forward run only
//! new frames' tokens; and the views that let a dream's cache roll (drop the
//! oldest frames), split per environment and join into a batch again.

use candle_core::Tensor;

use super::block::BlockKv;
use crate::model_error::{ModelError, ModelResult};

/// Per-block keys and values of `frames` consecutive frames, the first of them
/// at absolute time `start` (0 for a window's own cache).
#[derive(Clone, Debug)]
pub struct KvCache {
    /// Per block, keys and values `[B, H, frames * N, Dh]`.
    pub layers: Vec<BlockKv>,
    pub frames: usize,
    pub start: usize,
}

impl KvCache {
    /// `count` frames from frame `first` on (views, no copy), `start` moved to
    /// the first of them.
    fn frame_range(&self, first: usize, count: usize) -> ModelResult<Self> {
        let layers = self
            .layers
            .iter()
            .map(|(k, v)| {
                let per = k.dim(2)? / self.frames.max(1);
                Ok((
                    k.narrow(2, first * per, count * per)?,
                    v.narrow(2, first * per, count * per)?,
                ))
            })
            .collect::<ModelResult<Vec<_>>>()?;
        Ok(Self {
            layers,
            frames: count,
            start: self.start + first,
        })
    }

    /// The cache without its `n` oldest frames (views, no copy); `start` moves on by `n`.
    pub fn drop_oldest(&self, n: usize) -> ModelResult<Self> {
        let n = n.min(self.frames);
        self.frame_range(n, self.frames - n)
    }

    /// The same keys and values cut from the autograd graph (a dream that keeps
    /// its cache across steps would otherwise keep every step's graph alive).
    pub fn detach(&self) -> Self {
        Self {
            layers: self
                .layers
                .iter()
                .map(|(k, v)| (k.detach(), v.detach()))
                .collect(),
            frames: self.frames,
            start: self.start,
        }
    }

    /// The cache's first `n` frames only (views, no copy).
    pub fn first_frames(&self, n: usize) -> ModelResult<Self> {
        self.frame_range(0, n.min(self.frames))
    }

    /// Batch member `i`'s cache (batch 1, views).
    pub fn member(&self, i: usize) -> ModelResult<Self> {
        let layers = self
            .layers
            .iter()
            .map(|(k, v)| Ok((k.narrow(0, i, 1)?, v.narrow(0, i, 1)?)))
            .collect::<ModelResult<Vec<_>>>()?;
        Ok(Self {
            layers,
            frames: self.frames,
            start: self.start,
        })
    }

    /// Caches of the same length stacked along the batch. Members may differ in
    /// `start` (rotary time is relative): the result takes the first one's.
    pub fn concat(caches: &[&KvCache]) -> ModelResult<Self> {
        let first = caches
            .first()
            .ok_or_else(|| ModelError::InvalidConfig("no caches to join".into()))?;
        if caches
            .iter()
            .any(|c| c.frames != first.frames || c.layers.len() != first.layers.len())
        {
            return Err(ModelError::InvalidConfig(
                "caches of different lengths cannot share a batch".into(),
            ));
        }
        let layers = (0..first.layers.len())
            .map(|l| {
                let ks: Vec<&Tensor> = caches.iter().map(|c| &c.layers[l].0).collect();
                let vs: Vec<&Tensor> = caches.iter().map(|c| &c.layers[l].1).collect();
                Ok((Tensor::cat(&ks, 0)?, Tensor::cat(&vs, 0)?))
            })
            .collect::<ModelResult<Vec<_>>>()?;
        Ok(Self {
            layers,
            frames: first.frames,
            start: first.start,
        })
    }
}
