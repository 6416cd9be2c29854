//! Checkpoints: model weights, their EMA and the optimizer state as safetensors,
//! plus a `config.json` with the model config, the run's metadata and an index of
//! every tensor (dtype, shape) and file (length, FNV-1a checksum).
//!
//! Layout of a checkpoint directory:
//! ```text
//! ckpt/
//!   config.json             # CheckpointIndex: format version, model config, meta, file index
//!   model.safetensors       # weights, and EMA weights under the `ema.` prefix
//!   optimizer.safetensors   # optimizer state (only when there is one)
//! ```
//! Every file is written to a temporary name in the directory, flushed and renamed
//! into place; `config.json` goes last, so a reader sees either the old checkpoint
//! or the new one (a crash between renames leaves files whose checksums disagree
//! with the index, which [`load`] refuses rather than mixing two checkpoints).
//! [`load`] refuses a truncated or corrupt file, a missing, extra or misshapen
//! tensor and an unknown format version; [`Checkpoint::check_config`] and
//! [`Checkpoint::restore_weights`] refuse a checkpoint that does not fit the model.

mod files;
mod provenance;
mod restore;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use files::{load, save, CheckpointIndex, FileEntry, TensorEntry};
pub use provenance::Provenance;
pub use restore::load_for_model;

/// Version of the checkpoint layout this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The JSON index, model config and metadata.
pub const CONFIG_FILE: &str = "config.json";
/// Weights and EMA weights.
pub const MODEL_FILE: &str = "model.safetensors";
/// Optimizer state.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// Prefix of EMA weights inside [`MODEL_FILE`].
pub const EMA_PREFIX: &str = "ema.";

/// What a run needs besides tensors to resume exactly where it stopped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckpointMeta {
    /// Layout version ([`FORMAT_VERSION`] when written by this code).
    pub format_version: u32,
    /// Optimizer steps taken.
    pub step: u64,
    /// The run's seed.
    pub seed: u64,
    /// Hash of the dataset manifest the run trained on (empty if none).
    pub data_manifest_hash: String,
    /// The training RNG's state (e.g. a ChaCha8 seed and word position).
    pub rng_state: Vec<u64>,
    /// The data order's state (epoch, position, shuffle seed...).
    pub data_order_state: Vec<u64>,
    /// Free-form extras: last loss, wall time, git revision...
    pub extra: serde_json::Value,
    /// The scenario, data and command behind the weights (`None` in checkpoints
    /// written before it was recorded, and by tests that train on synthetic data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// A checkpoint in memory. Tensor lists keep their order; names must be unique.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The model's configuration (e.g. `serde_json::to_value(&ModelConfig)`).
    pub config_json: serde_json::Value,
    pub meta: CheckpointMeta,
    /// Model weights by variable name.
    pub weights: Vec<(String, Tensor)>,
    /// EMA weights by variable name (without the `ema.` prefix); may be empty.
    pub ema: Vec<(String, Tensor)>,
    /// Optimizer state (e.g. [`crate::optim::AdamW::state_tensors`]); may be empty.
    pub optimizer: Vec<(String, Tensor)>,
}

/// Why a checkpoint could not be written or read. Every variant names the file,
/// and the tensor or config key where there is one.
#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path}: checkpoint format version {found} is not supported (this build reads {supported})"
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: corrupt checkpoint file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: tensor `{tensor}` is missing")]
    MissingTensor { path: PathBuf, tensor: String },
    #[error("{path}: tensor `{tensor}` is not listed in the checkpoint index")]
    UnexpectedTensor { path: PathBuf, tensor: String },
    #[error("{path}: tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    WrongShape {
        path: PathBuf,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{path}: tensor `{tensor}` has dtype {found}, expected {expected}")]
    WrongDtype {
        path: PathBuf,
        tensor: String,
        expected: String,
        found: String,
    },
    #[error(
        "{path}: model config differs at `{key}`: checkpoint has {found}, the model has {expected}"
    )]
    ConfigMismatch {
        path: PathBuf,
        key: String,
        expected: String,
        found: String,
    },
    #[error("checkpoint is invalid: {0}")]
    Invalid(String),
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

impl CheckpointError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl Checkpoint {
    /// A checkpoint of weights only, with default metadata at `step`.
    pub fn new(config_json: serde_json::Value, step: u64, weights: Vec<(String, Tensor)>) -> Self {
        Self {
            config_json,
            meta: CheckpointMeta {
                format_version: FORMAT_VERSION,
                step,
                ..CheckpointMeta::default()
            },
            weights,
            ema: Vec::new(),
            optimizer: Vec::new(),
        }
    }
}
