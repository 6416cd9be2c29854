//! Tests of the optimizer, the EMA, clipping and the schedule.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

fn scalar(var: &Var) -> f32 {
    var.as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()[0]
}

#[test]
fn adamw_matches_pytorch_formula_on_a_scalar() {
    let dev = Device::Cpu;
    let p = Var::new(&[[1.0f32]], &dev).unwrap();
    let params = AdamWParams {
        lr: 0.1,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    let mut opt = AdamW::new(vec![("w".into(), p.clone())], params).unwrap();
    // Reference in f64: loss = c * p, gradient c (varies per step).
    let (mut rp, mut m, mut v) = (1.0f64, 0.0f64, 0.0f64);
    for t in 1..=5 {
        let c = 0.5 * t as f64 - 1.2;
        let loss = (p.as_tensor() * c).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        opt.step(&grads, 0.1).unwrap();
        rp *= 1.0 - 0.1 * 0.1;
        m = 0.9 * m + 0.1 * c;
        v = 0.999 * v + 0.001 * c * c;
        let mhat = m / (1.0 - 0.9f64.powi(t));
        let denom = v.sqrt() / (1.0 - 0.999f64.powi(t)).sqrt() + 1e-8;
        rp -= 0.1 * mhat / denom;
        assert!(
            (scalar(&p) as f64 - rp).abs() < 1e-5,
            "step {t}: {} vs {rp}",
            scalar(&p)
        );
    }
    assert_eq!(opt.step_count(), 5);
}

#[test]
fn first_step_moves_by_lr_and_decays_marked_weights_only() {
    let dev = Device::Cpu;
    let w = Var::new(&[[1.0f32]], &dev).unwrap();
    let b = Var::new(&[1.0f32], &dev).unwrap();
    let params = AdamWParams {
        weight_decay: 0.5,
        ..AdamWParams::default()
    };
    let mut opt = AdamW::new(
        vec![("w".into(), w.clone()), ("b".into(), b.clone())],
        params,
    )
    .unwrap();
    assert_eq!(opt.decayed_names(), vec!["w"]);
    let loss = (w.as_tensor().sum_all().unwrap() + b.as_tensor().sum_all().unwrap()).unwrap();
    let grads = loss.backward().unwrap();
    opt.step(&grads, 0.1).unwrap();
    // Adam's first step is lr * sign(g); decay multiplies w by 1 - 0.1 * 0.5.
    assert!((scalar(&w) - (0.95 - 0.1)).abs() < 1e-6);
    assert!((scalar(&b) - 0.9).abs() < 1e-6);
    opt.set_decay(|name| name == "b");
    assert_eq!(opt.decayed_names(), vec!["b"]);
}

/// A tiny linear regression: the model `y = x W + b` and fixed data.
struct Linear {
    w: Var,
    b: Var,
}

fn linear(seed: u64) -> Linear {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<f32> = (0..12).map(|_| rng.random_range(-1.0..1.0)).collect();
    let dev = Device::Cpu;
    Linear {
        w: Var::from_tensor(&Tensor::from_vec(w, (4, 3), &dev).unwrap()).unwrap(),
        b: Var::zeros(3, DType::F32, &dev).unwrap(),
    }
}

fn vars(model: &Linear) -> Vec<(String, Var)> {
    vec![("w".into(), model.w.clone()), ("b".into(), model.b.clone())]
}

fn train(model: &Linear, opt: &mut AdamW, steps: std::ops::Range<u64>) {
    let dev = Device::Cpu;
    for step in steps {
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + step);
        let x: Vec<f32> = (0..32).map(|_| rng.random_range(-1.0..1.0)).collect();
        let x = Tensor::from_vec(x, (8, 4), &dev).unwrap();
        let target = (x.sum_keepdim(1).unwrap().broadcast_as((8, 3)).unwrap() * 0.5).unwrap();
        let y = x
            .matmul(model.w.as_tensor())
            .unwrap()
            .broadcast_add(model.b.as_tensor())
            .unwrap();
        let loss = (y - target).unwrap().sqr().unwrap().mean_all().unwrap();
        let mut grads = loss.backward().unwrap();
        opt.clip_grad_norm(&mut grads, 0.5).unwrap();
        let schedule = LrSchedule {
            base: 0.05,
            warmup: 3,
            total: 20,
            min: 0.005,
        };
        opt.step(&grads, lr_at(step, schedule)).unwrap();
    }
}

fn bits(var: &Var) -> Vec<u32> {
    let v = var
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    v.into_iter().map(f32::to_bits).collect()
}

#[test]
fn resumed_run_is_bit_identical_to_an_uninterrupted_one() {
    let params = AdamWParams::default();
    let full = linear(7);
    let mut opt = AdamW::new(vars(&full), params).unwrap();
    train(&full, &mut opt, 0..20);

    let half = linear(7);
    let mut opt_a = AdamW::new(vars(&half), params).unwrap();
    train(&half, &mut opt_a, 0..10);
    // Export through safetensors bytes, as a checkpoint would.
    let state: HashMap<String, Tensor> = opt_a.state_tensors().unwrap().into_iter().collect();
    let bytes = safetensors::serialize(state.iter().map(|(k, v)| (k.clone(), v)), None).unwrap();
    let restored = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).unwrap();
    let resumed = Linear {
        w: Var::from_tensor(&half.w.as_tensor().copy().unwrap()).unwrap(),
        b: Var::from_tensor(&half.b.as_tensor().copy().unwrap()).unwrap(),
    };
    let mut opt_b = AdamW::new(vars(&resumed), params).unwrap();
    opt_b.load_state_tensors(&restored).unwrap();
    assert_eq!(opt_b.step_count(), 10);
    train(&resumed, &mut opt_b, 10..20);

    assert_eq!(bits(&full.w), bits(&resumed.w));
    assert_eq!(bits(&full.b), bits(&resumed.b));
    assert_ne!(
        bits(&full.w),
        bits(&linear(7).w),
        "training changed nothing"
    );
}

#[test]
fn loading_state_with_a_missing_or_misshapen_moment_names_it() {
    let model = linear(1);
    let mut opt = AdamW::new(vars(&model), AdamWParams::default()).unwrap();
    let mut state: HashMap<String, Tensor> = opt.state_tensors().unwrap().into_iter().collect();
    state.remove("v.b");
    let err = opt.load_state_tensors(&state).unwrap_err().to_string();
    assert!(err.contains("v.b"), "{err}");
    state.insert(
        "v.b".into(),
        Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap(),
    );
    let err = opt.load_state_tensors(&state).unwrap_err().to_string();
    assert!(err.contains("v.b") && err.contains("shape"), "{err}");
}

#[test]
fn clipping_scales_to_max_norm_and_reports_norm_before() {
    let dev = Device::Cpu;
    let a = Var::new(&[1.0f32, 1.0], &dev).unwrap();
    let loss = (a.as_tensor() * &Tensor::new(&[3.0f32, 4.0], &dev).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    let mut grads = loss.backward().unwrap();
    let norm = clip_grad_norm(&mut grads, [&a], 10.0).unwrap();
    assert!((norm - 5.0).abs() < 1e-6);
    let g = grads.get(a.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(g, vec![3.0, 4.0], "below the limit nothing changes");
    let norm = clip_grad_norm(&mut grads, [&a], 1.0).unwrap();
    assert!((norm - 5.0).abs() < 1e-6);
    let g = grads.get(a.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
    assert!(
        (g[0] - 0.6).abs() < 1e-5 && (g[1] - 0.8).abs() < 1e-5,
        "{g:?}"
    );
}

#[test]
fn schedule_warms_up_linearly_then_decays_to_min() {
    let s = LrSchedule {
        base: 1.0,
        warmup: 10,
        total: 110,
        min: 0.1,
    };
    assert!((lr_at(0, s) - 0.1).abs() < 1e-12);
    assert!((lr_at(4, s) - 0.5).abs() < 1e-12);
    assert!((lr_at(10, s) - 1.0).abs() < 1e-12);
    assert!((lr_at(60, s) - 0.55).abs() < 1e-12);
    assert!((lr_at(110, s) - 0.1).abs() < 1e-12);
    assert!((lr_at(500, s) - 0.1).abs() < 1e-12);
    let lrs: Vec<f64> = (10..=110).map(|k| lr_at(k, s)).collect();
    assert!(lrs.windows(2).all(|w| w[1] <= w[0]));
}

#[test]
fn ema_follows_warmup_decay_and_swaps_back() {
    let dev = Device::Cpu;
    let p = Var::new(&[0.0f32], &dev).unwrap();
    let mut ema = Ema::new(vec![("p".into(), p.clone())], 0.999).unwrap();
    assert!((ema.decay_at(0) - 0.1).abs() < 1e-12);
    assert!((ema.decay_at(10_000_000) - 0.999).abs() < 1e-12);
    p.set(&Tensor::new(&[1.0f32], &dev).unwrap()).unwrap();
    ema.update(0).unwrap();
    let avg = ema.tensors()[0].1.to_vec1::<f32>().unwrap()[0];
    assert!((avg - 0.9).abs() < 1e-6, "{avg}");
    ema.swap().unwrap();
    assert!((scalar(&p) - 0.9).abs() < 1e-6);
    ema.swap().unwrap();
    assert_eq!(scalar(&p), 1.0);
    let target = Var::new(&[5.0f32], &dev).unwrap();
    ema.copy_to(&[("p".into(), target.clone())]).unwrap();
    assert!((scalar(&target) - 0.9).abs() < 1e-6);
    let saved: HashMap<String, Tensor> = ema.tensors().into_iter().collect();
    let mut other = Ema::new(vec![("p".into(), p.clone())], 0.999).unwrap();
    other.load_tensors(&saved).unwrap();
    assert_eq!(other.tensors()[0].1.to_vec1::<f32>().unwrap(), vec![avg]);
}
