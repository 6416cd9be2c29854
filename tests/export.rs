//! `somnium export`: a run's checkpoint becomes a shippable model holding the
//! EMA weights only, with K and the context cache set in its config, and bad
//! input is a clear error.

mod common;

use candle_core::{Device, Tensor};
use common::somnium;
use somnium_world_model::checkpoint::{self, Checkpoint};
use somnium_world_model::config::{ContextCache, ModelConfig};
use somnium_world_model::dit::DiT;
use somnium_world_model::train::checkpointing::load_model;

/// A checkpoint whose EMA weights are the live weights plus one.
fn write_run(dir: &std::path::Path) -> Vec<(String, Tensor)> {
    let cfg = ModelConfig::tiny();
    let model = DiT::new(&cfg, 0, &Device::Cpu).unwrap();
    let weights = model.params().snapshot().unwrap();
    let ema: Vec<(String, Tensor)> = weights
        .iter()
        .map(|(n, t)| (n.clone(), (t + 1.0).unwrap()))
        .collect();
    let mut ckpt = Checkpoint::new(serde_json::to_value(&cfg).unwrap(), 42, weights);
    ckpt.ema = ema.clone();
    checkpoint::save(&dir.join("ckpt"), &ckpt).unwrap();
    ema
}

#[test]
fn export_keeps_the_ema_weights_and_sets_k() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let ema = write_run(&run);
    let out = tmp.path().join("model");
    let o = somnium(&[
        "export",
        "--model",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--sampling-steps",
        "2",
        "--context-noise",
        "0.05",
        "--sampling-cache",
        "rolling",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let exported = checkpoint::load(&out).unwrap();
    assert!(exported.ema.is_empty() && exported.optimizer.is_empty());
    assert_eq!(exported.meta.step, 42);
    let cfg: ModelConfig = serde_json::from_value(exported.config_json.clone()).unwrap();
    assert_eq!(cfg.sampling_steps, 2);
    assert_eq!(cfg.sampling_context_noise, 0.05);
    assert_eq!(cfg.sampling_cache, ContextCache::Rolling);
    let model = load_model(&out, true, &Device::Cpu).unwrap();
    let loaded = model.params().snapshot().unwrap();
    for ((name, want), (_, got)) in ema.iter().zip(loaded.iter()) {
        let diff = (want - got)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(diff, 0.0, "{name} is not the EMA weight");
    }
}

#[test]
fn export_of_a_missing_run_or_zero_k_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let o = somnium(&["export", "--model", missing.to_str().unwrap(), "--out", "x"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"));
    let run = tmp.path().join("run");
    write_run(&run);
    let out = tmp.path().join("model");
    let o = somnium(&[
        "export",
        "--model",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--sampling-steps",
        "0",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--sampling-steps"));
    assert!(!out.exists(), "nothing is written on a refused export");
    let o = somnium(&[
        "export",
        "--model",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--context-noise",
        "0.9",
    ]);
    assert!(
        !o.status.success(),
        "more context noise than the model trained with"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("sampling_context_noise"));
    assert!(!out.exists(), "nothing is written on a refused export");
    let o = somnium(&[
        "export",
        "--model",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--sampling-cache",
        "ring",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--sampling-cache"));
    assert!(!out.exists(), "nothing is written on a refused export");
}
