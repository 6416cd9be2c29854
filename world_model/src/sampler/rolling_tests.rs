//! Rolling-cache tests: the first step equals a window step; with nothing
//! dropped, rolling equals one causal forward over the whole sequence; the cache
//! keeps `W - 1` frames; batched rolling equals each dream alone; rotary time
//! is relative.

use candle_core::{DType, Tensor};

use super::*;
use crate::config::ModelConfig;
use crate::dit::tests::{max_diff, randn, trained_like};
use crate::objective::clean_estimate;
use crate::sampler::dream_step_with_noise;

fn opts(steps: usize) -> SampleOptions {
    SampleOptions {
        steps,
        ..SampleOptions::default()
    }
}

/// The window actions `[B, W, A]` (position 0 zero) and the step's action `[B, 1, A]`.
fn start_inputs(cfg: &ModelConfig, b: usize) -> (Tensor, Tensor, Tensor) {
    let (c, h, w) = cfg.latent_shape();
    let ctx = randn(&[b, cfg.context_frames, c, h, w], 21);
    let acts = randn(&[b, cfg.context_frames + 1, 2], 22);
    (ctx, acts.narrow(1, 0, cfg.context_frames).unwrap(), acts)
}

#[test]
fn the_first_rolling_step_equals_a_window_step() {
    let cfg = ModelConfig::tiny();
    let model = trained_like(&cfg, 3);
    let (c, h, w) = cfg.latent_shape();
    let wn = cfg.context_frames;
    let (ctx, start_acts, acts) = start_inputs(&cfg, 2);
    let noise = randn(&[2, wn + 1, c, h, w], 23);
    for k in [1, 3] {
        let window = dream_step_with_noise(&model, &ctx, &acts, &noise, &opts(k)).unwrap();
        let start = rolling_start(
            &model,
            &ctx,
            &start_acts,
            &noise.narrow(1, 0, wn - 1).unwrap(),
            &opts(k),
        )
        .unwrap();
        let (rolled, next) = rolling_step(
            &model,
            &start,
            &acts.narrow(1, wn, 1).unwrap(),
            &noise.narrow(1, wn - 1, 2).unwrap(),
            &opts(k),
            wn - 1,
        )
        .unwrap();
        assert!(max_diff(&window.next, &rolled.next) < 1e-5, "K {k}");
        assert!(max_diff(&window.reward, &rolled.reward) < 1e-5);
        assert!(max_diff(&window.terminated_prob, &rolled.terminated_prob) < 1e-5);
        assert_eq!(next.cache.frames, wn - 1);
        assert_eq!(next.cache.start, 1);
        assert!(max_diff(&next.pending, &rolled.next) == 0.0);
    }
}

#[test]
fn rolling_without_dropping_equals_one_causal_forward_over_the_sequence() {
    rolling_equals_one_forward(&ModelConfig::tiny(), 3, 100);
}

#[test]
fn rolling_with_a_span_equals_one_spanned_forward_over_the_sequence() {
    // frames see 3 (themselves and 2 before): the rolling cache keeps 2 and,
    // dropping frames as it goes, still computes exactly the long forward
    let cfg = ModelConfig {
        context_frames: 3,
        attention_span: Some(3),
        ..ModelConfig::tiny()
    };
    assert_eq!(cfg.rolling_keep(), 2);
    rolling_equals_one_forward(&cfg, 5, cfg.rolling_keep());
}

/// Dreams `steps` rolling steps (K = 1, cache of `keep` frames), then checks the
/// last one against a single forward over the true and dreamed frames.
fn rolling_equals_one_forward(cfg: &ModelConfig, steps: usize, keep: usize) {
    let cfg = cfg.clone();
    let model = trained_like(&cfg, 4);
    let (c, h, w) = cfg.latent_shape();
    let wn = cfg.context_frames;
    let (ctx, start_acts, _) = start_inputs(&cfg, 1);
    let step_acts = randn(&[1, steps, 2], 24);
    let mut state = rolling_start(
        &model,
        &ctx,
        &start_acts,
        &Tensor::zeros((1, wn - 1, c, h, w), DType::F32, &candle_core::Device::Cpu).unwrap(),
        &opts(1),
    )
    .unwrap();
    let mut frames = vec![ctx.clone()];
    let mut last_noise = None;
    for j in 0..steps {
        let noise = randn(&[1, 2, c, h, w], 30 + j as u64);
        let a = step_acts.narrow(1, j, 1).unwrap();
        let (out, next) = rolling_step(&model, &state, &a, &noise, &opts(1), keep).unwrap();
        assert_eq!(next.cache.frames, (wn + j).min(keep));
        frames.push(out.next.unsqueeze(1).unwrap());
        last_noise = Some(noise.narrow(1, 1, 1).unwrap());
        state = next;
    }
    // the whole sequence at once: the true frames, the dreamed ones, and the
    // last step's starting noise in place of its frame
    let dreamed = frames.pop().unwrap();
    frames.push(last_noise.unwrap());
    let seq = Tensor::cat(&frames, 1).unwrap();
    let f = wn + steps;
    let mut levels = vec![0f32; f];
    levels[f - 1] = 1.0;
    let levels = Tensor::from_vec(levels, (1, f), &candle_core::Device::Cpu).unwrap();
    let all_acts = Tensor::cat(&[&start_acts, &step_acts], 1).unwrap();
    let out = model
        .forward(&seq, &levels, &all_acts, None, false)
        .unwrap();
    let pred = out
        .prediction
        .narrow(1, f - 1, 1)
        .unwrap()
        .squeeze(1)
        .unwrap();
    let x = seq.narrow(1, f - 1, 1).unwrap().squeeze(1).unwrap();
    let last_ctx = seq.narrow(1, f - 2, 1).unwrap().squeeze(1).unwrap();
    let s = Tensor::ones(1, DType::F32, &candle_core::Device::Cpu).unwrap();
    let x0 = clean_estimate(&cfg, &pred, &x, &s, &last_ctx).unwrap();
    let d = max_diff(&x0, &dreamed.squeeze(1).unwrap());
    assert!(d < 1e-4, "rolling differs from the causal forward by {d}");
}

#[test]
fn the_cache_keeps_w_minus_1_frames_and_batches_like_single_dreams() {
    let cfg = ModelConfig::tiny();
    let model = trained_like(&cfg, 5);
    let (c, h, w) = cfg.latent_shape();
    let wn = cfg.context_frames;
    let (ctx, start_acts, _) = start_inputs(&cfg, 2);
    let zeros = Tensor::zeros((2, wn - 1, c, h, w), DType::F32, &candle_core::Device::Cpu).unwrap();
    let batched = rolling_start(&model, &ctx, &start_acts, &zeros, &opts(2)).unwrap();
    let mut singles = vec![batched.member(0).unwrap(), batched.member(1).unwrap()];
    let mut together = batched;
    for j in 0..6 {
        let noise = randn(&[2, 2, c, h, w], 40 + j);
        let a = randn(&[2, 1, 2], 50 + j);
        let (out, next) = rolling_step(&model, &together, &a, &noise, &opts(2), wn - 1).unwrap();
        assert_eq!(next.cache.frames, wn - 1);
        assert_eq!(next.cache.start, j as usize + 1);
        assert_eq!(
            next.cache.layers[0].0.dim(2).unwrap(),
            (wn - 1) * cfg.tokens_per_frame()
        );
        for (i, single) in singles.iter_mut().enumerate() {
            let (o, n) = rolling_step(
                &model,
                single,
                &a.narrow(0, i, 1).unwrap(),
                &noise.narrow(0, i, 1).unwrap(),
                &opts(2),
                wn - 1,
            )
            .unwrap();
            let d = max_diff(&o.next, &out.next.narrow(0, i, 1).unwrap());
            assert!(d < 1e-5, "member {i} step {j}: {d}");
            *single = n;
        }
        // and a batch rebuilt from its members steps the same
        let rebuilt =
            RollingContext::concat(&[&next.member(0).unwrap(), &next.member(1).unwrap()]).unwrap();
        assert!(max_diff(&rebuilt.cache.layers[1].1, &next.cache.layers[1].1) == 0.0);
        together = rebuilt;
    }
}

#[test]
fn rotary_time_is_relative() {
    let cfg = ModelConfig::tiny();
    let model = trained_like(&cfg, 6);
    let (c, h, w) = cfg.latent_shape();
    let x = randn(&[1, 3, c, h, w], 60);
    let s = Tensor::from_vec(vec![0f32, 0.0, 0.7], (1, 3), &candle_core::Device::Cpu).unwrap();
    let a = randn(&[1, 3, 2], 61);
    let at = |t| {
        model
            .forward_from_time(&x, &s, &a, t, false)
            .unwrap()
            .prediction
    };
    let d = max_diff(&at(3), &at(503));
    assert!(d < 1e-4, "moving the origin changed the output by {d}");
    // time 0 gives the first frame the learned "no action" instead of its own
    let zero = model.forward(&x, &s, &a, None, false).unwrap().prediction;
    assert!(max_diff(&at(0), &zero) == 0.0);
}

#[test]
fn bad_inputs_are_errors_that_name_them() {
    let cfg = ModelConfig::tiny();
    let model = trained_like(&cfg, 7);
    let (c, h, w) = cfg.latent_shape();
    let wn = cfg.context_frames;
    let (ctx, start_acts, _) = start_inputs(&cfg, 1);
    let zeros = Tensor::zeros((1, wn - 1, c, h, w), DType::F32, &candle_core::Device::Cpu).unwrap();
    let state = rolling_start(&model, &ctx, &start_acts, &zeros, &opts(1)).unwrap();
    let noise = randn(&[1, 2, c, h, w], 70);
    let nan = Tensor::new(&[[[f32::NAN, 0.0]]], &candle_core::Device::Cpu).unwrap();
    let err = rolling_step(&model, &state, &nan, &noise, &opts(1), wn - 1).unwrap_err();
    assert!(err.to_string().contains("not finite"), "{err}");
    let err = rolling_step(
        &model,
        &state,
        &randn(&[1, 1, 2], 71),
        &zeros,
        &opts(1),
        wn - 1,
    )
    .unwrap_err();
    assert!(err.to_string().contains("rolling step noise"), "{err}");
    let err = rolling_start(
        &model,
        &ctx.narrow(1, 0, 1).unwrap(),
        &start_acts,
        &zeros,
        &opts(1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("rolling context"), "{err}");
}
