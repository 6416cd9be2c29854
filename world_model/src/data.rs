//! The dataset shard format: episodes of frames, actions, rewards, terminations
//! and states, stored as safetensors shards with a JSON manifest.
//!
//! Layout of a dataset directory:
//! ```text
//! data/push/
//!   manifest.json          # DatasetManifest
//!   shard-00000.safetensors
//!   shard-00001.safetensors
//! ```
//! An episode of `n` steps holds `n + 1` frames and states (the observation after
//! reset, then one per step) and `n` actions, rewards, terminated and truncated flags.
//!
//! Inside a shard, episode `i` (counted from the shard's first episode) is stored as
//! the tensors `ep{i}.frames` u8 `[n+1, H, W, 3]`, `ep{i}.actions` f32 `[n, A]`,
//! `ep{i}.rewards` f32 `[n]`, `ep{i}.terminated` and `ep{i}.truncated` u8 `[n]`
//! (0 or 1) and `ep{i}.states` f32 `[n+1, S]`; the tensor `seeds` u64 `[E]` holds the
//! reset seed of each of the shard's `E` episodes. The manifest lists every shard
//! with its episode and step counts and an FNV-1a 64-bit checksum of its bytes.
//!
//! Write with [`DatasetWriter`] (atomic shards and manifest, resumable), read with
//! [`DatasetReader`] (validates everything, names the shard, episode and field of
//! anything wrong).

mod manifest;
mod reader;
mod shard;
mod writer;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use manifest::{DatasetManifest, DatasetSpec, ShardEntry, FORMAT_VERSION, MANIFEST_FILE};
pub use reader::{DatasetReader, EpisodeIter};
pub use writer::DatasetWriter;

/// One recorded episode.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    /// Seed the episode was reset with.
    pub seed: u64,
    /// `[n + 1, height, width, 3]` RGB u8, row-major.
    pub frames: Vec<u8>,
    /// `[n, action_dim]` f32 (a discrete action is stored as its index).
    pub actions: Vec<f32>,
    /// `[n]`
    pub rewards: Vec<f32>,
    /// `[n]`
    pub terminated: Vec<bool>,
    /// `[n]`
    pub truncated: Vec<bool>,
    /// `[n + 1, state_dim]` f32.
    pub states: Vec<f32>,
}

impl Episode {
    /// Number of steps (actions) in the episode.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }
    /// Whether the episode has no steps.
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }
}

/// One object's colour as the manifest records it (mirrors the scenario's colour
/// table without depending on the scenarios crate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestColor {
    pub name: String,
    pub rgb: [u8; 3],
    pub dynamic: bool,
}

/// The action space as the manifest records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ManifestActionSpace {
    Box { low: Vec<f32>, high: Vec<f32> },
    Discrete { n: usize },
}

impl ManifestActionSpace {
    /// Number of f32 values one stored action has (1 for a discrete action).
    pub fn flat_dim(&self) -> usize {
        match self {
            ManifestActionSpace::Box { low, .. } => low.len(),
            ManifestActionSpace::Discrete { .. } => 1,
        }
    }
}

/// Everything that can go wrong writing or reading a dataset; each variant names
/// the file, shard, episode or field concerned.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("bad dataset spec: {0}")]
    BadSpec(String),
    #[error("io error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("manifest {path} is not valid: {reason}")]
    BadManifest { path: String, reason: String },
    #[error(
        "dataset in {dir} was recorded with a different setup ({field} differs: on disk {on_disk}, requested {requested}); \
         use another output directory or the same settings"
    )]
    ManifestMismatch {
        dir: String,
        field: String,
        on_disk: String,
        requested: String,
    },
    #[error("shard {shard} is missing (expected at {path})")]
    MissingShard { shard: String, path: String },
    #[error("shard {shard} is corrupt: checksum {actual:016x} does not match the manifest's {expected:016x}")]
    ChecksumMismatch {
        shard: String,
        expected: u64,
        actual: u64,
    },
    #[error("shard {shard} is not a readable safetensors file: {reason}")]
    BadShard { shard: String, reason: String },
    #[error("shard {shard}, episode {episode}, field {field}: {reason}")]
    BadEpisode {
        shard: String,
        episode: usize,
        field: String,
        reason: String,
    },
    #[error("episode {index} is out of range (the dataset has {total} episodes)")]
    EpisodeOutOfRange { index: usize, total: usize },
    #[error("cannot serialize {what}: {reason}")]
    Serialize { what: String, reason: String },
}

impl DataError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// FNV-1a 64-bit hash of `bytes`: the checksum the manifest stores per shard.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Writes `bytes` to `path` atomically (see [`somnium_files::write_atomic`]).
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), DataError> {
    somnium_files::write_atomic(path, bytes).map_err(|e| {
        let (path, source) = e.into_io();
        DataError::io(&path, source)
    })
}
