//! DiT tests: block causality, a finite non-zero gradient for every parameter,
//! cached sampling equal to full recomputation, seeded construction.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::config::{ActionKind, ModelConfig};
use crate::objective::{draw_noise, loss, Batch};
use crate::sampler::{dream_step, SampleOptions};

pub(crate) fn randn(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = draw_noise(&ModelConfig::tiny(), 1, &mut rng, &Device::Cpu)
        .unwrap()
        .eps;
    let n: usize = shape.iter().product();
    let flat = d.flatten_all().unwrap();
    let reps = n.div_ceil(flat.dim(0).unwrap());
    Tensor::cat(&vec![flat; reps], 0)
        .unwrap()
        .narrow(0, 0, n)
        .unwrap()
        .reshape(shape)
        .unwrap()
}

/// A model whose zero-initialised tensors (adaLN, head) are made random, so that
/// every path carries signal as after some training.
pub(crate) fn trained_like(cfg: &ModelConfig, seed: u64) -> DiT {
    let model = DiT::new(cfg, seed, &Device::Cpu).unwrap();
    let mut values = HashMap::new();
    for (i, (name, var)) in model.params().vars().into_iter().enumerate() {
        let noise = (randn(var.dims(), 100 + i as u64) * 0.05).unwrap();
        values.insert(name, (var.as_tensor() + noise).unwrap());
    }
    model.load_weights(&values).unwrap();
    model
}

fn inputs(cfg: &ModelConfig, b: usize, f: usize) -> (Tensor, Tensor, Tensor) {
    let (c, h, w) = cfg.latent_shape();
    let x = randn(&[b, f, c, h, w], 1);
    let s = (randn(&[b, f], 2).abs().unwrap() * 0.3)
        .unwrap()
        .clamp(0f32, 1f32)
        .unwrap();
    let a = randn(&[b, f, cfg.action.width()], 3);
    (x, s, a)
}

pub(crate) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap()
}

#[test]
fn changing_a_frame_changes_no_earlier_output() {
    let cfg = ModelConfig::tiny();
    let model = trained_like(&cfg, 0);
    let f = cfg.window();
    let (x, s, a) = inputs(&cfg, 2, f);
    let base = model.forward(&x, &s, &a, None, false).unwrap();
    for j in 1..f {
        // perturb frame j and the action before it
        let mut frames: Vec<Tensor> = (0..f).map(|i| x.narrow(1, i, 1).unwrap()).collect();
        frames[j] = (&frames[j] + 1.0).unwrap();
        let x2 = Tensor::cat(&frames, 1).unwrap();
        let out = model.forward(&x2, &s, &a, None, false).unwrap();
        let early = |t: &Tensor| t.narrow(1, 0, j).unwrap();
        assert!(
            max_diff(&early(&out.prediction), &early(&base.prediction)) < 1e-6,
            "frame {j} leaked backwards"
        );
        assert!(max_diff(&early(&out.reward), &early(&base.reward)) < 1e-6);
        let later = |t: &Tensor| t.narrow(1, j, f - j).unwrap();
        assert!(
            max_diff(&later(&out.prediction), &later(&base.prediction)) > 1e-4,
            "frame {j} had no effect"
        );
    }
}

#[test]
fn every_parameter_gets_a_finite_nonzero_gradient() {
    for (action, with_aux) in [
        (ActionKind::Continuous { dim: 2 }, false),
        (ActionKind::Discrete { n: 3 }, false),
        (ActionKind::Continuous { dim: 2 }, true),
    ] {
        let cfg = ModelConfig {
            action: action.clone(),
            // the auxiliary state head must train too
            aux_state: with_aux.then(|| crate::aux_state::AuxStateConfig {
                weight: 1.0,
                after_block: 1,
                mean: vec![0.0; 3],
                inv_std: vec![1.0; 3],
            }),
            ..ModelConfig::tiny()
        };
        let model = trained_like(&cfg, 1);
        let (x, _, _) = inputs(&cfg, 2, cfg.window());
        let actions = match action {
            ActionKind::Continuous { .. } => randn(&[2, cfg.window(), 2], 7),
            ActionKind::Discrete { .. } => {
                Tensor::new(&[[0f32, 1., 2.], [2., 0., 1.]], &Device::Cpu)
                    .unwrap()
                    .unsqueeze(2)
                    .unwrap()
            }
        };
        let batch = Batch {
            latents: x.clamp(-1f32, 1f32).unwrap(),
            actions,
            reward: Tensor::new(&[0.5f32, -1.0], &Device::Cpu).unwrap(),
            terminated: Tensor::new(&[0f32, 1.0], &Device::Cpu).unwrap(),
            states: with_aux.then(|| randn(&[2, cfg.window(), 3], 8)),
        };
        let noise = draw_noise(&cfg, 2, &mut ChaCha8Rng::seed_from_u64(3), &Device::Cpu).unwrap();
        let bg = Tensor::full(-0.8f32, cfg.latent_shape(), &Device::Cpu).unwrap();
        let grads = loss(&model, &batch, &noise, &bg)
            .unwrap()
            .total
            .backward()
            .unwrap();
        for (name, var) in model.params().vars() {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{name}: no gradient"));
            let v: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
            assert!(
                v.iter().all(|x| x.is_finite()),
                "{name}: non-finite gradient"
            );
            assert!(v.iter().any(|x| *x != 0.0), "{name}: zero gradient");
        }
    }
}

#[test]
fn cached_sampling_equals_full_recomputation() {
    let cfg = ModelConfig::tiny();
    let model = trained_like(&cfg, 2);
    let (c, h, w) = cfg.latent_shape();
    let ctx = randn(&[3, cfg.context_frames, c, h, w], 11);
    let actions = randn(&[3, cfg.window(), 2], 12);
    let run = |use_cache| {
        let opts = SampleOptions {
            use_cache,
            ..Default::default()
        };
        dream_step(
            &model,
            &ctx,
            &actions,
            &mut ChaCha8Rng::seed_from_u64(9),
            &opts,
        )
        .unwrap()
    };
    let (a, b) = (run(true), run(false));
    assert!(
        max_diff(&a.next, &b.next) < 1e-5,
        "{}",
        max_diff(&a.next, &b.next)
    );
    assert!(max_diff(&a.reward, &b.reward) < 1e-5);
    assert!(max_diff(&a.terminated_prob, &b.terminated_prob) < 1e-5);
    assert!(max_diff(&a.next, &ctx.narrow(1, 0, 1).unwrap().squeeze(1).unwrap()) > 1e-3);
}

#[test]
fn same_seed_same_weights_and_bad_inputs_are_errors() {
    let cfg = ModelConfig::tiny();
    let a = DiT::new(&cfg, 5, &Device::Cpu).unwrap();
    let b = DiT::new(&cfg, 5, &Device::Cpu).unwrap();
    let c = DiT::new(&cfg, 6, &Device::Cpu).unwrap();
    let w = |m: &DiT| {
        m.params()
            .snapshot()
            .unwrap()
            .into_iter()
            .find(|(n, _)| n == "blocks.0.qkv.weight")
            .unwrap()
            .1
    };
    assert_eq!(max_diff(&w(&a), &w(&b)), 0.0);
    assert!(max_diff(&w(&a), &w(&c)) > 0.0);
    assert_eq!(a.params().count(), cfg.param_count());
    let (x, s, act) = inputs(&cfg, 1, 2);
    assert!(a
        .forward(&x, &s.narrow(1, 0, 1).unwrap(), &act, None, false)
        .is_err());
    let nan = Tensor::new(&[[[f32::NAN, 0.0], [0.0, 0.0], [0.0, 0.0]]], &Device::Cpu).unwrap();
    let (cc, h, ww) = cfg.latent_shape();
    let ctx = randn(&[1, cfg.context_frames, cc, h, ww], 1);
    let err = dream_step(
        &a,
        &ctx,
        &nan,
        &mut ChaCha8Rng::seed_from_u64(0),
        &SampleOptions::default(),
    );
    assert!(err.is_ok(), "the action at window position 0 is ignored");
    let nan_last = Tensor::new(&[[[0.0, 0.0], [0.0, 0.0], [f32::NAN, 0.0]]], &Device::Cpu).unwrap();
    let err = dream_step(
        &a,
        &ctx,
        &nan_last,
        &mut ChaCha8Rng::seed_from_u64(0),
        &SampleOptions::default(),
    );
    assert!(matches!(
        err,
        Err(crate::model_error::ModelError::InvalidAction(_))
    ));
}

/// Prints forward/backward times of the block's parts at the `small` training
/// shape (no assertion; `-- --ignored --nocapture parts`).
#[test]
#[ignore]
fn timing_of_block_parts() {
    use crate::kernels;
    use candle_core::Var;
    let t = |name: &str, f: &dyn Fn() -> Tensor| {
        let start = std::time::Instant::now();
        let y = f();
        let fwd = start.elapsed().as_secs_f64();
        let _g = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        println!(
            "{name}: forward {:.1} ms, backward {:.1} ms",
            fwd * 1e3,
            (start.elapsed().as_secs_f64() - fwd) * 1e3
        );
    };
    let (b, h, l, dh, d) = (32, 4, 320, 32, 128);
    let q = Var::from_tensor(&randn(&[b, h, l, dh], 1)).unwrap();
    let k = Var::from_tensor(&randn(&[b, h, l, dh], 2)).unwrap();
    let v = Var::from_tensor(&randn(&[b, h, l, dh], 3)).unwrap();
    t("attention", &|| {
        kernels::block_causal_attention(&q, &k, &v, 64, 0).unwrap()
    });
    let cos = randn(&[l, dh / 2], 4);
    let sin = randn(&[l, dh / 2], 5);
    t("rope", &|| kernels::rope(&q, &cos, &sin).unwrap());
    let x = Var::from_tensor(&randn(&[b, 5, 64, d], 6)).unwrap();
    let sh = Var::from_tensor(&randn(&[b, 5, d], 7)).unwrap();
    t("modulated_layer_norm", &|| {
        kernels::modulated_layer_norm(&x, &sh, &sh, 1e-6).unwrap()
    });
    t("gated_residual", &|| {
        kernels::gated_residual(&x, &sh, &x).unwrap()
    });
    let w1 = Var::from_tensor(&randn(&[4 * d, d], 8)).unwrap();
    let b1 = Var::from_tensor(&randn(&[4 * d], 9)).unwrap();
    let lin = candle_nn::Linear::new(w1.as_tensor().clone(), Some(b1.as_tensor().clone()));
    t("linear 128->512", &|| {
        candle_core::Module::forward(&lin, &x).unwrap()
    });
    let dense = dense::Dense::new(w1.as_tensor().clone(), b1.as_tensor().clone());
    t("dense 128->512", &|| {
        candle_core::Module::forward(&dense, &x).unwrap()
    });
    let lin_nb = candle_nn::Linear::new(w1.as_tensor().clone(), None);
    t("linear 128->512 no bias", &|| {
        candle_core::Module::forward(&lin_nb, &x).unwrap()
    });
    let y = randn(&[b, 5, 64, 4 * d], 10);
    t("gelu", &|| {
        kernels::gelu(&Var::from_tensor(&y).unwrap()).unwrap()
    });
    let qkv = Var::from_tensor(&randn(&[b, 5 * 64, 3, h, dh], 11)).unwrap();
    t("qkv permute+contiguous+get", &|| {
        let p = qkv.permute((2, 0, 3, 1, 4)).unwrap().contiguous().unwrap();
        (p.get(0).unwrap() + p.get(1).unwrap() + p.get(2).unwrap()).unwrap()
    });
}
