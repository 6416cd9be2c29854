//! Analytic FLOP counts of the DiT's work, from its config alone.
//!
//! A matrix product `[M, K] x [K, N]` costs `2 M N K` FLOPs (one multiply and
//! one add per multiply-add); only matrix products are counted, not the
//! element-wise work (norms, GELU, softmax, rotary, residuals), which is small
//! beside them. One forward of `F` frames of `N` tokens each (`L = F N` query
//! tokens), width `D`, MLP ratio `r`, `Q` patch values, `S` noise features,
//! `A` action values, at batch 1, given a cache of `t0` earlier frames:
//!
//! ```text
//! per block:   2 L D (3D)  qkv      + 2 L D D    proj
//!            + 2 L D (rD)  fc1      + 2 L (rD) D fc2
//!            + 2 F D (6D)  adaLN modulation (one vector per frame)
//!            + 2 . 2 Dh V  scores and weighted values, summed over heads,
//!                          V = the (query, key) pairs the block-causal mask
//!                          lets through = N^2 sum_{f=t0}^{t0+F-1} (f + 1)
//! once:        2 L Q D     patch embedding + 2 L D Q head
//!            + 2 F D (2D)  final adaLN   + 2 F D 2 reward/termination head
//!            + 2 F (S D + D D)  noise-level MLP
//!            + 2 F (A D + D D)  action MLP (continuous actions)
//! ```
//!
//! Attention is counted over the visible pairs only (the work the mask
//! leaves), not the full `L x (t0 N + L)` rectangle. A dream step is one
//! context pass (`F = W`, `t0 = 0`) plus `K` passes of the new frame
//! (`F = 1`, `t0 = W`); a training step counts 3x the forward of a `W + 1`
//! window (the backward pass costs about twice the forward), per window.

use somnium_world_model::config::{ActionKind, ModelConfig};

/// FLOPs of one forward of `frames` frames after a cache of `t0` frames, batch 1.
pub fn forward_flops(cfg: &ModelConfig, frames: usize, t0: usize) -> f64 {
    let d = cfg.width as f64;
    let n = cfg.tokens_per_frame() as f64;
    let f = frames as f64;
    let l = f * n;
    let r = cfg.mlp_ratio as f64;
    let q = cfg.patch_dim() as f64;
    let visible_pairs: f64 = (t0..t0 + frames).map(|fr| n * n * (fr + 1) as f64).sum();
    let per_block = 2.0 * l * d * 3.0 * d
        + 2.0 * l * d * d
        + 2.0 * 2.0 * l * d * r * d
        + 2.0 * f * d * 6.0 * d
        + 2.0 * 2.0 * visible_pairs * d; // heads x head dim = D
    let action_mlp = match cfg.action {
        ActionKind::Continuous { dim } => 2.0 * f * (dim as f64 * d + d * d),
        ActionKind::Discrete { .. } => 0.0,
    };
    let once = 2.0 * 2.0 * l * q * d
        + 2.0 * f * d * 2.0 * d
        + 2.0 * f * d * 2.0
        + 2.0 * f * (cfg.noise_features as f64 * d + d * d)
        + action_mlp;
    cfg.depth as f64 * per_block + once
}

/// FLOPs of one forward of the whole `W + 1` training window at `batch`.
pub fn window_forward_flops(cfg: &ModelConfig, batch: usize) -> f64 {
    batch as f64 * forward_flops(cfg, cfg.window(), 0)
}

/// FLOPs of one dream step at `batch` with `steps` cached denoising passes.
pub fn dream_step_flops(cfg: &ModelConfig, batch: usize, steps: usize) -> f64 {
    let w = cfg.context_frames;
    batch as f64 * (forward_flops(cfg, w, 0) + steps as f64 * forward_flops(cfg, 1, w))
}

/// FLOPs of one training step at `batch` (forward + backward = 3x forward).
pub fn train_step_flops(cfg: &ModelConfig, batch: usize) -> f64 {
    3.0 * window_forward_flops(cfg, batch)
}

/// GFLOP/s of `flops` done in `ms` milliseconds.
pub fn gflops(flops: f64, ms: f64) -> f64 {
    flops / (ms * 1e-3) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominant_terms_match_the_config_estimate() {
        // ModelConfig::flops_per_step counts qkv, proj, MLP, full attention and the
        // patch/head matmuls; ours adds the small per-frame terms and counts only
        // the visible attention pairs, so it must be a little lower, within 25%.
        let cfg = ModelConfig::small();
        let ours = forward_flops(&cfg, cfg.window(), 0);
        let theirs = cfg.flops_per_step() as f64;
        assert!(ours < theirs && ours > 0.75 * theirs, "{ours} vs {theirs}");
    }

    #[test]
    fn a_cached_frame_costs_what_the_last_frame_of_a_window_adds() {
        // Appending frame W to a W-frame pass (cache) must cost exactly the
        // difference between a (W+1)-frame and a W-frame pass from scratch.
        let cfg = ModelConfig::small();
        let w = cfg.context_frames;
        let full = forward_flops(&cfg, w + 1, 0);
        let split = forward_flops(&cfg, w, 0) + forward_flops(&cfg, 1, w);
        assert!((full - split).abs() / full < 1e-12, "{full} vs {split}");
    }

    #[test]
    fn counts_scale_with_batch_and_steps() {
        let cfg = ModelConfig::tiny();
        let one = dream_step_flops(&cfg, 1, 4);
        assert_eq!(dream_step_flops(&cfg, 32, 4), 32.0 * one);
        assert!(dream_step_flops(&cfg, 1, 8) > one);
        assert_eq!(train_step_flops(&cfg, 2), 6.0 * forward_flops(&cfg, 3, 0));
        assert!((gflops(2e9, 1000.0) - 2.0).abs() < 1e-12);
    }
}
