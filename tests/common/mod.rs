//! Helpers the end-to-end tests share, included by each test file with
//! `mod common;`: running the `somnium` binary and checking that it succeeded,
//! reading JSON files, and saving a tiny random world model as a checkpoint.
//! Not every test file uses every helper.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use candle_core::Device;
use somnium_world_model::checkpoint::{save, Checkpoint};
use somnium_world_model::config::ModelConfig;
use somnium_world_model::dit::DiT;

/// Runs the `somnium` binary built for these tests with `args`.
pub fn somnium(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_somnium"))
        .args(args)
        .output()
        .expect("run somnium")
}

/// Runs the `somnium` binary with `args` in the directory `dir`.
pub fn somnium_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_somnium"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run somnium")
}

/// Asserts that a run succeeded, showing its stdout and stderr when it did not.
pub fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON file at `path`.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("valid JSON")
}

/// Saves a randomly initialised model of `config` (seed 3) as a checkpoint in `dir`.
pub fn save_random_model(dir: &Path, config: &ModelConfig) {
    let model = DiT::new(config, 3, &Device::Cpu).expect("model");
    let ckpt = Checkpoint::new(
        serde_json::to_value(config).expect("config"),
        0,
        model.params().snapshot().expect("weights"),
    );
    save(dir, &ckpt).expect("save");
}
