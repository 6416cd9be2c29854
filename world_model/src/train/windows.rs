//! Training windows: episodes encoded to latents once, then batches of `W + 1`
//! consecutive frames with their actions, rewards and terminations, drawn from
//! a seeded generator (so step `n`'s batch is a function of (seed, n)).

use candle_core::{DType, Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::codec::{frames_tensor, FrameCodec};
use crate::config::{ActionKind, ModelConfig};
use crate::data::Episode;
use crate::model_error::{ModelError, ModelResult};
use crate::objective::Batch;

/// One episode, encoded.
pub struct EncodedEpisode {
    /// `[n + 1, C, h, w]`
    pub latents: Tensor,
    /// `[n, A]`
    pub actions: Tensor,
    pub rewards: Vec<f32>,
    pub terminated: Vec<bool>,
    /// The raw frames `[n + 1, H, W, 3]`, kept for rollout evaluation (optional).
    pub frames: Option<Vec<u8>>,
    /// `[n + 1, S]`: the simulator's state at each frame, when the episode stores one.
    pub states: Option<Tensor>,
}

/// The episodes a trainer draws windows from.
pub struct WindowSource {
    episodes: Vec<EncodedEpisode>,
    /// `(episode, first frame)` of every window.
    starts: Vec<(usize, usize)>,
    window: usize,
}

impl WindowSource {
    /// Encodes `episodes` (frames `frame_size` = `cfg.frame_size`); episodes
    /// shorter than a window are skipped. `keep_frames` keeps the raw frames.
    pub fn from_episodes(
        episodes: &[Episode],
        codec: &dyn FrameCodec,
        cfg: &ModelConfig,
        keep_frames: bool,
        device: &Device,
    ) -> ModelResult<Self> {
        let mut out = WindowSource {
            episodes: Vec::new(),
            starts: Vec::new(),
            window: cfg.window(),
        };
        for ep in episodes {
            out.push(ep, codec, cfg, keep_frames, device)?;
        }
        Ok(out)
    }

    /// Encodes and adds one episode (skipped when shorter than a window).
    pub fn push(
        &mut self,
        ep: &Episode,
        codec: &dyn FrameCodec,
        cfg: &ModelConfig,
        keep_frames: bool,
        device: &Device,
    ) -> ModelResult<()> {
        let [fh, fw] = cfg.frame_size;
        let n = ep.len();
        let a = cfg.action.width();
        if ep.frames.len() != (n + 1) * fh * fw * 3 {
            return Err(ModelError::InvalidData(format!(
                "episode seed {}: {} frame bytes, expected {} frames of {fh}x{fw}",
                ep.seed,
                ep.frames.len(),
                n + 1
            )));
        }
        if ep.actions.len() != n * a {
            return Err(ModelError::InvalidData(format!(
                "episode seed {}: {} action values for {n} steps of width {a}",
                ep.seed,
                ep.actions.len()
            )));
        }
        if let Some(bad) = ep.actions.iter().find(|v| !v.is_finite()) {
            return Err(ModelError::InvalidData(format!(
                "episode seed {}: action value {bad}",
                ep.seed
            )));
        }
        if let ActionKind::Discrete { n: k } = cfg.action {
            if let Some(bad) = ep.actions.iter().find(|&&v| v < 0.0 || v >= k as f32) {
                return Err(ModelError::InvalidData(format!(
                    "episode seed {}: discrete action {bad} >= {k}",
                    ep.seed
                )));
            }
        }
        if !ep.states.is_empty() && ep.states.len() % (n + 1) != 0 {
            return Err(ModelError::InvalidData(format!(
                "episode seed {}: {} state values for {} frames",
                ep.seed,
                ep.states.len(),
                n + 1
            )));
        }
        if n + 1 < self.window {
            return Ok(());
        }
        let latents = codec
            .encode(&frames_tensor(&ep.frames, fh, fw, device)?)?
            .squeeze(0)?;
        let index = self.episodes.len();
        self.starts
            .extend((0..=n + 1 - self.window).map(|t| (index, t)));
        self.episodes.push(EncodedEpisode {
            latents,
            actions: Tensor::from_slice(&ep.actions, (n, a), device)?,
            rewards: ep.rewards.clone(),
            terminated: ep.terminated.clone(),
            frames: keep_frames.then(|| ep.frames.clone()),
            states: match ep.states.len() / (n + 1) {
                0 => None,
                s => Some(Tensor::from_slice(&ep.states, (n + 1, s), device)?),
            },
        });
        Ok(())
    }

    pub fn episodes(&self) -> &[EncodedEpisode] {
        &self.episodes
    }

    /// The same episodes cut into windows of `window` frames (episodes shorter
    /// than that hold none). A trainer that dreams `n` steps before its target
    /// frame draws windows of `W + 1 + n` frames.
    pub fn with_window(mut self, window: usize) -> ModelResult<Self> {
        if window < 2 {
            return Err(ModelError::InvalidConfig(format!(
                "a training window needs at least 2 frames, not {window}"
            )));
        }
        self.window = window;
        self.starts.clear();
        for (index, ep) in self.episodes.iter().enumerate() {
            let frames = ep.latents.dim(0)?;
            if frames >= window {
                self.starts
                    .extend((0..=frames - window).map(|t| (index, t)));
            }
        }
        Ok(self)
    }

    /// Frames per window.
    pub fn window_len(&self) -> usize {
        self.window
    }

    /// Number of distinct windows.
    pub fn windows(&self) -> usize {
        self.starts.len()
    }

    /// The window starting at frame `t` of episode `e`: latents `[W+1, C, h, w]`,
    /// actions `[W+1, A]` (zeros at position 0), reward and termination of the last step.
    fn window(&self, e: usize, t: usize) -> ModelResult<(Tensor, Tensor, f32, f32)> {
        let ep = &self.episodes[e];
        let w = self.window;
        let latents = ep.latents.narrow(0, t, w)?;
        let a = ep.actions.dim(1)?;
        let zero = Tensor::zeros((1, a), DType::F32, ep.actions.device())?;
        let actions = Tensor::cat(&[&zero, &ep.actions.narrow(0, t, w - 1)?], 0)?;
        let last = t + w - 2;
        Ok((
            latents,
            actions,
            ep.rewards[last],
            if ep.terminated[last] { 1.0 } else { 0.0 },
        ))
    }

    /// The states `[W+1, S]` of the window starting at frame `t` of episode `e`.
    fn window_states(&self, e: usize, t: usize) -> ModelResult<Option<Tensor>> {
        match &self.episodes[e].states {
            Some(s) => Ok(Some(s.narrow(0, t, self.window)?)),
            None => Ok(None),
        }
    }

    /// `batch` windows drawn uniformly from `rng`.
    pub fn sample(&self, batch: usize, rng: &mut ChaCha8Rng) -> ModelResult<Batch> {
        if self.starts.is_empty() {
            return Err(ModelError::InvalidData(format!(
                "no episode holds a window of {} frames",
                self.window
            )));
        }
        let picks: Vec<(usize, usize)> = (0..batch)
            .map(|_| self.starts[rng.random_range(0..self.starts.len())])
            .collect();
        self.gather(&picks)
    }

    /// The windows `picks` (episode, first frame) as one batch.
    pub fn gather(&self, picks: &[(usize, usize)]) -> ModelResult<Batch> {
        let (mut lat, mut act, mut rew, mut term) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // states only when every window has them, of one width
        let mut states = Some(Vec::new());
        for &(e, t) in picks {
            let (l, a, r, d) = self.window(e, t)?;
            lat.push(l);
            act.push(a);
            rew.push(r);
            term.push(d);
            states = match (states, self.window_states(e, t)?) {
                (Some(mut v), Some(s)) => {
                    v.push(s);
                    Some(v)
                }
                _ => None,
            };
        }
        let states = match states {
            Some(v) if v.iter().all(|s| s.dims() == v[0].dims()) => Some(Tensor::stack(&v, 0)?),
            _ => None,
        };
        let device = lat[0].device().clone();
        Ok(Batch {
            latents: Tensor::stack(&lat, 0)?,
            actions: Tensor::stack(&act, 0)?,
            reward: Tensor::new(rew, &device)?,
            terminated: Tensor::new(term, &device)?,
            states,
        })
    }

    /// Every window start, in order (for evaluation).
    pub fn starts(&self) -> &[(usize, usize)] {
        &self.starts
    }
}

/// The most common colour of the first frame of the first episode (the background,
/// when the manifest does not name it).
pub fn guess_background(ep: &Episode) -> [u8; 3] {
    let mut counts = std::collections::HashMap::new();
    let px = ep.frames.len() / 3 / (ep.len() + 1).max(1);
    for p in ep.frames.chunks_exact(3).take(px) {
        *counts.entry([p[0], p[1], p[2]]).or_insert(0usize) += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(c, n)| (*n, *c))
        .map_or([0, 0, 0], |(c, _)| c)
}

/// The background colour as a latent frame `[C, h, w]`.
pub fn background_latent(
    codec: &dyn FrameCodec,
    rgb: [u8; 3],
    device: &Device,
) -> ModelResult<Tensor> {
    let (h, w) = codec.frame_size();
    let frame: Vec<u8> = (0..h * w).flat_map(|_| rgb).collect();
    Ok(codec
        .encode(&frames_tensor(&frame, h, w, device)?)?
        .squeeze(0)?
        .squeeze(0)?)
}

/// The static scene as a latent frame `[C, h, w]`: the per-cell median over the
/// first frame of up to `max_episodes` episodes (moving objects fall out of it).
pub fn median_background(source: &WindowSource, max_episodes: usize) -> ModelResult<Tensor> {
    let eps = &source.episodes()[..source.episodes().len().min(max_episodes)];
    let first = eps.first().ok_or_else(|| {
        ModelError::InvalidData("no episodes to estimate the background from".into())
    })?;
    let shape = first.latents.get(0)?.dims().to_vec();
    let frames: Vec<Vec<f32>> = eps
        .iter()
        .map(|e| Ok(e.latents.get(0)?.flatten_all()?.to_vec1::<f32>()?))
        .collect::<ModelResult<_>>()?;
    let n = frames[0].len();
    let mut column = Vec::with_capacity(frames.len());
    let median: Vec<f32> = (0..n)
        .map(|i| {
            column.clear();
            column.extend(frames.iter().map(|f| f[i]));
            column.sort_by(|a, b| a.total_cmp(b));
            column[column.len() / 2]
        })
        .collect();
    Ok(Tensor::from_vec(median, shape, first.latents.device())?)
}
