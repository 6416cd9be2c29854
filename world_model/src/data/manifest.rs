//! `manifest.json`: what a dataset holds (scenario, setup, spaces, colours) and
//! which shards make it up.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{DataError, ManifestActionSpace, ManifestColor};

/// Version of the shard format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// File name of the manifest inside a dataset directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The recording setup: everything that must match for a recording to resume
/// into an existing directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// Scenario id, e.g. `push-v0`.
    pub scenario: String,
    /// Scenario variant (`id`, `ood` or `custom`).
    pub variant: String,
    /// The scenario's full config (`Scenario::config_json`).
    pub config: serde_json::Value,
    /// Base seed: episode `i` is reset with `seed + i`.
    pub seed: u64,
    /// Name of the behaviour policy that chose the actions (e.g. `random`).
    pub policy: String,
    /// Frame height in pixels.
    pub height: usize,
    /// Frame width in pixels.
    pub width: usize,
    /// The action space.
    pub action_space: ManifestActionSpace,
    /// f32 values per stored action.
    pub action_dim: usize,
    /// One name per state entry.
    pub state_names: Vec<String>,
    /// Colour of pixels that show no object.
    pub background: [u8; 3],
    /// One flat colour per object.
    pub colors: Vec<ManifestColor>,
    /// Pixel rectangle `[x_min, y_min, x_max, y_max]` where object centroids can lie.
    pub arena_px: Option<[f32; 4]>,
    /// Control steps per second.
    pub control_hz: f32,
    /// Time limit applied while recording (`None` for none).
    pub max_episode_steps: Option<u32>,
    /// Episodes per shard (the last shard may hold fewer).
    pub episodes_per_shard: usize,
}

impl DatasetSpec {
    /// Number of f32 values per state.
    pub fn state_dim(&self) -> usize {
        self.state_names.len()
    }

    /// Bytes of one frame (`height * width * 3`).
    pub fn frame_bytes(&self) -> usize {
        self.height * self.width * 3
    }

    /// Check the spec is self-consistent.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.height == 0 || self.width == 0 {
            return Err(format!(
                "frame size {}x{} is empty",
                self.height, self.width
            ));
        }
        if self.episodes_per_shard == 0 {
            return Err("episodes_per_shard is 0".into());
        }
        if self.action_space.flat_dim() != self.action_dim {
            return Err(format!(
                "action_dim {} does not match the action space ({} values)",
                self.action_dim,
                self.action_space.flat_dim()
            ));
        }
        if let ManifestActionSpace::Box { low, high } = &self.action_space {
            if low.len() != high.len() {
                return Err(format!(
                    "action space low has {} values, high has {}",
                    low.len(),
                    high.len()
                ));
            }
        }
        Ok(())
    }
}

/// One shard as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// File name inside the dataset directory.
    pub file: String,
    /// Index (in the whole dataset) of the shard's first episode.
    pub first_episode: usize,
    /// Number of episodes in the shard.
    pub episodes: usize,
    /// Total steps of those episodes.
    pub steps: usize,
    /// FNV-1a 64-bit hash of the file bytes, as 16 hex digits.
    pub fnv1a64: String,
}

impl ShardEntry {
    /// The checksum as a number, or `None` when the hex is malformed.
    pub fn checksum(&self) -> Option<u64> {
        u64::from_str_radix(&self.fnv1a64, 16).ok()
    }
}

/// The contents of `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetManifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// How the data was recorded.
    pub spec: DatasetSpec,
    /// Complete shards, in episode order.
    pub shards: Vec<ShardEntry>,
    /// Sum of the shards' episodes.
    pub total_episodes: usize,
    /// Sum of the shards' steps.
    pub total_steps: usize,
}

impl DatasetManifest {
    /// An empty dataset with this spec.
    pub fn new(spec: DatasetSpec) -> Self {
        DatasetManifest {
            format_version: FORMAT_VERSION,
            spec,
            shards: Vec::new(),
            total_episodes: 0,
            total_steps: 0,
        }
    }

    /// Read and validate `dir/manifest.json`.
    pub fn load(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
        let bad = |reason: String| DataError::BadManifest {
            path: path.display().to_string(),
            reason,
        };
        let manifest: DatasetManifest =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        manifest.validate().map_err(bad)?;
        Ok(manifest)
    }

    /// Write `dir/manifest.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), DataError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| DataError::Serialize {
            what: "manifest".into(),
            reason: e.to_string(),
        })?;
        super::write_atomic(&dir.join(MANIFEST_FILE), text.as_bytes())
    }

    /// Check version, spec and that the shard list adds up.
    pub fn validate(&self) -> Result<(), String> {
        if self.format_version != FORMAT_VERSION {
            return Err(format!(
                "format version {} is not supported (this build reads version {FORMAT_VERSION})",
                self.format_version
            ));
        }
        self.spec.validate()?;
        let mut next_episode = 0;
        for (k, shard) in self.shards.iter().enumerate() {
            if shard.first_episode != next_episode {
                return Err(format!(
                    "shard {k} ({}) starts at episode {} but the shards before it end at {next_episode}",
                    shard.file, shard.first_episode
                ));
            }
            if shard.checksum().is_none() {
                return Err(format!(
                    "shard {} has a malformed checksum '{}'",
                    shard.file, shard.fnv1a64
                ));
            }
            if shard.file.contains('/') || shard.file.contains('\\') || shard.file.starts_with('.')
            {
                return Err(format!(
                    "shard file name '{}' must be a plain file name",
                    shard.file
                ));
            }
            next_episode += shard.episodes;
        }
        if next_episode != self.total_episodes {
            return Err(format!(
                "total_episodes is {} but the shards hold {next_episode}",
                self.total_episodes
            ));
        }
        let steps: usize = self.shards.iter().map(|s| s.steps).sum();
        if steps != self.total_steps {
            return Err(format!(
                "total_steps is {} but the shards hold {steps}",
                self.total_steps
            ));
        }
        Ok(())
    }

    /// Append a finished shard and update the totals.
    pub(crate) fn push_shard(&mut self, entry: ShardEntry) {
        self.total_episodes += entry.episodes;
        self.total_steps += entry.steps;
        self.shards.push(entry);
    }

    /// Remove the last shard from the list and the totals.
    pub(crate) fn pop_shard(&mut self) -> Option<ShardEntry> {
        let entry = self.shards.pop()?;
        self.total_episodes -= entry.episodes;
        self.total_steps -= entry.steps;
        Some(entry)
    }
}

/// File name of shard number `k`.
pub(crate) fn shard_file_name(k: usize) -> String {
    format!("shard-{k:05}.safetensors")
}

/// Name the first field in which two specs differ, with both values as JSON.
pub(crate) fn first_difference(
    on_disk: &DatasetSpec,
    requested: &DatasetSpec,
) -> Option<(String, String, String)> {
    let a = serde_json::to_value(on_disk).ok()?;
    let b = serde_json::to_value(requested).ok()?;
    let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (a, b) else {
        return None;
    };
    for (key, va) in &a {
        let vb = b.get(key).cloned().unwrap_or(serde_json::Value::Null);
        if *va != vb {
            return Some((key.clone(), va.to_string(), vb.to_string()));
        }
    }
    None
}

/// `spec` after a trip through JSON text, so floats compare exactly with a spec
/// read back from disk.
pub(crate) fn normalized(spec: &DatasetSpec) -> Result<DatasetSpec, DataError> {
    let ser = |e: serde_json::Error| DataError::Serialize {
        what: "dataset spec".into(),
        reason: e.to_string(),
    };
    let text = serde_json::to_string(spec).map_err(ser)?;
    serde_json::from_str(&text).map_err(ser)
}
