//! The PyTorch peer's parity check, somnium's half: an ignored test that builds
//! a DiT with random (non-zero) weights, runs a window forward and a cached
//! forward, and writes the weights, inputs, outputs and config for
//! `python/peers/check_parity.py`, which loads them into `somnium_dit.DiT` and
//! compares. Run:
//!
//! ```sh
//! SOMNIUM_PARITY_DIR=/tmp/parity cargo test --release -p somnium --bin somnium -- --ignored parity
//! /work/venv-torch/bin/python python/peers/check_parity.py /tmp/parity
//! ```

use anyhow::Context;
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use somnium_world_model::config::ModelConfig;
use somnium_world_model::dit::DiT;

fn uniform(shape: &[usize], scale: f32, rng: &mut ChaCha8Rng) -> anyhow::Result<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

/// Writes `parity.npz` and `config.json` into `dir` for `cfg`.
fn export(cfg: &ModelConfig, dir: &std::path::Path) -> anyhow::Result<()> {
    let model = DiT::new(cfg, 0, &Device::Cpu)?;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut arrays: Vec<(String, Tensor)> = Vec::new();
    for (name, var) in model.params().vars() {
        // zero-initialised layers would hide most of the network: fill everything
        let fan_in = *var.dims().last().unwrap_or(&1) as f32;
        var.set(&uniform(var.dims(), 1.5 / fan_in.sqrt(), &mut rng)?)?;
        arrays.push((format!("w.{name}"), var.as_tensor().copy()?));
    }
    let (c, h, w) = cfg.latent_shape();
    let (b, f, wn) = (2, cfg.window(), cfg.context_frames);
    let x = uniform(&[b, f, c, h, w], 1.0, &mut rng)?;
    let s = (uniform(&[b, f], 0.5, &mut rng)? + 0.5)?;
    let a = uniform(&[b, f, cfg.action.width()], 1.0, &mut rng)?;
    let full = model.forward(&x, &s, &a, None, false)?;
    let ctx = model.forward(
        &x.narrow(1, 0, wn)?,
        &s.narrow(1, 0, wn)?,
        &a.narrow(1, 0, wn)?,
        None,
        true,
    )?;
    let last = model.forward(
        &x.narrow(1, wn, 1)?,
        &s.narrow(1, wn, 1)?,
        &a.narrow(1, wn, 1)?,
        ctx.cache.as_ref(),
        false,
    )?;
    for (k, t) in [
        ("x", x),
        ("s", s),
        ("a", a),
        ("prediction", full.prediction),
        ("reward", full.reward),
        ("terminated_logit", full.terminated_logit),
        ("cached_prediction", last.prediction),
    ] {
        arrays.push((k.to_string(), t));
    }
    std::fs::create_dir_all(dir)?;
    Tensor::write_npz(&arrays, dir.join("parity.npz"))?;
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(cfg)?)?;
    Ok(())
}

#[test]
#[ignore = "writes files for python/peers/check_parity.py (needs torch)"]
fn parity_export() {
    let dir = std::env::var("SOMNIUM_PARITY_DIR").unwrap_or_else(|_| "/tmp/somnium-parity".into());
    let cfg = ModelConfig {
        width: 64,
        heads: 2,
        depth: 2,
        ..ModelConfig::small()
    };
    export(&cfg, std::path::Path::new(&dir))
        .context("parity export")
        .unwrap();
}
