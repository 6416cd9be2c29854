//! Rollout validation: dream held-out episodes from their first `W` true frames
//! with the true actions, and measure the drift per horizon against the
//! baselines with [`crate::metrics`].

use candle_core::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::windows::WindowSource;
use crate::codec::FrameCodec;
use crate::dit::DiT;
use crate::metrics::{
    default_horizons, evaluate_rollouts, EvalConfig, EvalReport, FrameSpec, Rollout, Source,
};
use crate::model_error::{ModelError, ModelResult};
use crate::sampler::{rollout, SampleOptions};

/// What a rollout validation covers.
#[derive(Clone, Debug)]
pub struct RolloutEvalOptions {
    /// Dreamed steps per episode (horizons 1, 2, 4, ... up to this).
    pub horizon: usize,
    /// Episodes to dream (the first held-out ones long enough).
    pub episodes: usize,
    /// Episodes dreamed together.
    pub batch: usize,
    pub seed: u64,
    pub sample: SampleOptions,
}

impl Default for RolloutEvalOptions {
    fn default() -> Self {
        Self {
            horizon: 32,
            episodes: 50,
            batch: 25,
            seed: 0,
            sample: SampleOptions::default(),
        }
    }
}

/// A rollout validation's report and what it dreamed.
pub struct RolloutResult {
    pub report: EvalReport,
    /// Indices (into the held-out episodes) of the dreamed episodes.
    pub episodes: Vec<usize>,
    /// Per dreamed episode, the dreamed frames `[H, fh, fw, 3]` u8.
    pub predicted: Vec<Vec<u8>>,
}

/// Dreams `opts.episodes` held-out episodes of `val` (which must keep raw frames)
/// and reports per-horizon centroid error, kept share, area ratio and PSNR for the
/// model and the baselines.
pub fn rollout_report(
    model: &DiT,
    codec: &dyn FrameCodec,
    val: &WindowSource,
    spec: FrameSpec,
    opts: &RolloutEvalOptions,
) -> ModelResult<RolloutResult> {
    let w = model.config().context_frames;
    let chosen: Vec<usize> = val
        .episodes()
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e.frames.is_some() && e.latents.dim(0).map_or(false, |n| n >= w + opts.horizon)
        })
        .map(|(i, _)| i)
        .take(opts.episodes)
        .collect();
    if chosen.is_empty() {
        return Err(ModelError::InvalidData(format!(
            "no held-out episode with raw frames holds {} frames for a {}-step rollout",
            w + opts.horizon,
            opts.horizon
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let (fh, fw) = codec.frame_size();
    let frame_bytes = fh * fw * 3;
    let mut predicted: Vec<Vec<u8>> = Vec::with_capacity(chosen.len());
    for group in chosen.chunks(opts.batch.max(1)) {
        let eps: Vec<_> = group.iter().map(|&i| &val.episodes()[i]).collect();
        let ctx = Tensor::stack(
            &eps.iter()
                .map(|e| e.latents.narrow(0, 0, w))
                .collect::<Result<Vec<_>, _>>()?,
            0,
        )?;
        let acts = Tensor::stack(
            &eps.iter()
                .map(|e| e.actions.narrow(0, 0, w - 1 + opts.horizon))
                .collect::<Result<Vec<_>, _>>()?,
            0,
        )?;
        let dreamed = rollout(model, &ctx, &acts, &mut rng, &opts.sample)?; // [B, H, C, h, w]
        let frames = codec.decode(&dreamed)?; // [B, H, fh, fw, 3]
        for b in 0..eps.len() {
            predicted.push(frames.get(b)?.flatten_all()?.to_vec1::<u8>()?);
        }
    }
    let rollouts: Vec<Rollout> = chosen
        .iter()
        .zip(&predicted)
        .map(|(&i, p)| {
            let truth = val.episodes()[i].frames.as_deref().unwrap_or(&[]);
            Rollout {
                truth: &truth[..(w + opts.horizon) * frame_bytes],
                start: w,
                sources: vec![Source {
                    name: "model",
                    frames: p,
                }],
                actions: None,
            }
        })
        .collect();
    let config = EvalConfig {
        horizons: default_horizons(opts.horizon),
        ..EvalConfig::default()
    };
    let report = evaluate_rollouts(spec, config, &rollouts)
        .map_err(|e| ModelError::InvalidData(format!("rollout metrics: {e}")))?;
    Ok(RolloutResult {
        report,
        episodes: chosen,
        predicted,
    })
}
