//! The dataset shard format: episodes of frames, actions, rewards, terminations
//! and states, stored as safetensors shards with a JSON manifest.
//!
//! (Types fixed here; writer, reader and validation to be implemented.)
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

use serde::{Deserialize, Serialize};

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
