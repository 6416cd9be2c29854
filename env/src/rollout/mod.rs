//! Rollout files: one episode run in lockstep by a dream and by physics, stored as
//! a directory with `rollout.json` (metadata, scene, per-step metrics) and
//! `rollout.safetensors` (both frame streams, actions, states, rewards,
//! terminations, object centroids and scene poses). The format is documented in
//! `docs/rollout.md`; [`write`] and [`read`] are its writer and validating reader.
//!
//! Time axis: `T` frames; `actions[t]` taken in frame `t` produces frame `t + 1`
//! with `rewards[t]` and `terminated[t]`, so per-transition arrays hold `T - 1`
//! entries. The first `context_frames` frames of both streams are physics frames.

mod io;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use somnium_scenarios::{Camera, ColorTable, SceneShape, Space};

pub use io::{read, write};

/// The `format` string of every rollout.
pub const FORMAT: &str = "somnium-rollout";
/// The layout version this code writes and the highest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Metadata file inside a rollout directory.
pub const META_FILE: &str = "rollout.json";
/// Tensor file inside a rollout directory.
pub const TENSOR_FILE: &str = "rollout.safetensors";

/// Why a rollout could not be written or read; names the file, tensor or key.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}: invalid rollout metadata: {reason}")]
    Meta { path: String, reason: String },
    #[error("{path}: not a rollout (format {found:?}, expected {FORMAT:?})")]
    WrongFormat { path: String, found: String },
    #[error(
        "{path}: rollout format version {found} is newer than this build reads ({FORMAT_VERSION})"
    )]
    UnsupportedVersion { path: String, found: u32 },
    #[error("{path}: tensor `{tensor}` is missing")]
    MissingTensor { path: String, tensor: String },
    #[error("{path}: tensor `{tensor}` is {found}, expected {expected}")]
    WrongTensor {
        path: String,
        tensor: String,
        expected: String,
        found: String,
    },
    #[error("inconsistent rollout: {0}")]
    Inconsistent(String),
    /// The output directory is not this rollout's to write (see [`somnium_files::claim_dir`]).
    #[error(transparent)]
    Refused(#[from] somnium_files::FileError),
}

/// Metrics of dream frame `t` against physics frame `t`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    pub step: usize,
    /// PSNR of the whole frame in dB, capped at 99 for identical frames.
    pub psnr_db: f32,
    /// Mean centroid error over the objects found in both frames; `None` if none is.
    pub centroid_error_px: Option<f32>,
    /// Per tracked object: centroid error in pixels, `None` where absent in either frame.
    pub object_error_px: Vec<Option<f32>>,
    /// Per tracked object: the dream shows it as one blob of 0.5 to 2 times its true area.
    pub kept: Vec<bool>,
    /// Per tracked object: dream area over physics area (0 when lost), `None` where
    /// physics does not show it.
    pub area_ratio: Vec<Option<f32>>,
    /// Every dream centroid lies inside the arena rectangle (true where there is no arena).
    pub in_arena: bool,
}

/// One drawn collider of the scene: what it is and how it looks (poses are tensors).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneObjectMeta {
    /// Colour-table name (several colliders may share one, e.g. walls).
    pub name: String,
    /// Index into the colour table's objects.
    pub object: usize,
    pub rgb: [u8; 3],
    /// Whether the pose can change.
    pub dynamic: bool,
    pub shape: SceneShape,
}

/// What a 3D viewer needs to rebuild the view without rapier.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SceneMeta {
    /// The camera the frames are rendered through.
    pub camera: Option<Camera>,
    /// `K` drawn colliders, the axis 1 of the pose tensors.
    pub objects: Vec<SceneObjectMeta>,
}

/// `rollout.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutMeta {
    /// Always [`FORMAT`].
    pub format: String,
    pub format_version: u32,
    pub scenario: String,
    pub variant: String,
    /// The scenario's full config.
    pub config: serde_json::Value,
    pub seed: u64,
    /// The model checkpoint directory; `None` for a physics-only rollout.
    pub model: Option<String>,
    pub control_hz: f32,
    pub width: usize,
    pub height: usize,
    /// `T`, frames per stream.
    pub steps: usize,
    /// `W`, the context frames both streams share.
    pub context_frames: usize,
    pub colors: ColorTable,
    pub action_space: Space,
    /// `S` names of the state vector.
    pub state_names: Vec<String>,
    /// `O` tracked objects (axis 1 of the centroid tensors).
    pub objects: Vec<String>,
    /// `T` entries.
    pub metrics: Vec<StepMetrics>,
    pub scene: SceneMeta,
}

/// A whole rollout in memory. Shapes follow [`RolloutMeta`]: `T = steps`,
/// `A = action_space.flat_dim()`, `S = state_names.len()`, `O = objects.len()`,
/// `K = scene.objects.len()`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollout {
    pub meta: RolloutMeta,
    /// u8 `[T, H, W, 3]`.
    pub dream_frames: Vec<u8>,
    /// u8 `[T, H, W, 3]`.
    pub physics_frames: Vec<u8>,
    /// f32 `[T-1, A]`.
    pub actions: Vec<f32>,
    /// f32 `[T, S]`.
    pub physics_states: Vec<f32>,
    /// f32 `[T-1]`.
    pub physics_rewards: Vec<f32>,
    /// f32 `[T-1]`.
    pub dream_rewards: Vec<f32>,
    /// `[T-1]`.
    pub physics_terminated: Vec<bool>,
    /// `[T-1]`.
    pub dream_terminated: Vec<bool>,
    /// f32 `[T, O, 2]`, NaN where absent.
    pub physics_centroids: Vec<f32>,
    /// f32 `[T, O, 2]`, NaN where absent.
    pub dream_centroids: Vec<f32>,
    /// f32 `[T, K, 3]`.
    pub scene_translations: Vec<f32>,
    /// f32 `[T, K, 4]`, quaternions `[x, y, z, w]`.
    pub scene_rotations: Vec<f32>,
}

/// One tensor's expected dtype and shape.
pub(crate) struct TensorShape {
    pub name: &'static str,
    pub is_u8: bool,
    pub shape: Vec<usize>,
}

impl RolloutMeta {
    /// Every tensor of the file with the shape this metadata implies.
    pub(crate) fn tensor_shapes(&self) -> Vec<TensorShape> {
        let t = self.steps;
        let tr = t.saturating_sub(1);
        let (h, w) = (self.height, self.width);
        let a = self.action_space.flat_dim();
        let s = self.state_names.len();
        let o = self.objects.len();
        let k = self.scene.objects.len();
        let sh = |name, is_u8, shape: &[usize]| TensorShape {
            name,
            is_u8,
            shape: shape.to_vec(),
        };
        vec![
            sh("dream_frames", true, &[t, h, w, 3]),
            sh("physics_frames", true, &[t, h, w, 3]),
            sh("actions", false, &[tr, a]),
            sh("physics_states", false, &[t, s]),
            sh("physics_rewards", false, &[tr]),
            sh("dream_rewards", false, &[tr]),
            sh("physics_terminated", true, &[tr]),
            sh("dream_terminated", true, &[tr]),
            sh("physics_centroids", false, &[t, o, 2]),
            sh("dream_centroids", false, &[t, o, 2]),
            sh("scene_translations", false, &[t, k, 3]),
            sh("scene_rotations", false, &[t, k, 4]),
        ]
    }

    /// Checks the metadata on its own: format, version, sizes and per-step metrics.
    pub fn validate(&self) -> Result<(), RolloutError> {
        let bad = |m: String| Err(RolloutError::Inconsistent(m));
        if self.format != FORMAT {
            return bad(format!("format is {:?}, expected {FORMAT:?}", self.format));
        }
        if self.format_version == 0 || self.format_version > FORMAT_VERSION {
            return bad(format!(
                "format_version {} is not supported",
                self.format_version
            ));
        }
        if self.steps == 0 || self.width == 0 || self.height == 0 {
            return bad(format!(
                "steps {}, width {} and height {} must be positive",
                self.steps, self.width, self.height
            ));
        }
        if self.context_frames > self.steps {
            return bad(format!(
                "context_frames {} exceeds steps {}",
                self.context_frames, self.steps
            ));
        }
        if !(self.control_hz.is_finite() && self.control_hz > 0.0) {
            return bad(format!("control_hz {} must be positive", self.control_hz));
        }
        if self.metrics.len() != self.steps {
            return bad(format!(
                "{} per-step metrics for {} steps",
                self.metrics.len(),
                self.steps
            ));
        }
        let o = self.objects.len();
        for m in &self.metrics {
            if m.object_error_px.len() != o || m.kept.len() != o || m.area_ratio.len() != o {
                return bad(format!(
                    "metrics of step {} do not have one entry per tracked object ({o})",
                    m.step
                ));
            }
        }
        Ok(())
    }
}

impl Rollout {
    /// Checks every array against the metadata's shapes.
    pub fn validate(&self) -> Result<(), RolloutError> {
        self.meta.validate()?;
        let f32s: [(&str, usize); 10] = [
            ("actions", self.actions.len()),
            ("physics_states", self.physics_states.len()),
            ("physics_rewards", self.physics_rewards.len()),
            ("dream_rewards", self.dream_rewards.len()),
            ("physics_terminated", self.physics_terminated.len()),
            ("dream_terminated", self.dream_terminated.len()),
            ("physics_centroids", self.physics_centroids.len()),
            ("dream_centroids", self.dream_centroids.len()),
            ("scene_translations", self.scene_translations.len()),
            ("scene_rotations", self.scene_rotations.len()),
        ];
        let frames = [
            ("dream_frames", self.dream_frames.len()),
            ("physics_frames", self.physics_frames.len()),
        ];
        for spec in self.meta.tensor_shapes() {
            let want: usize = spec.shape.iter().product();
            let have = frames
                .iter()
                .chain(f32s.iter())
                .find(|(n, _)| *n == spec.name)
                .map_or(0, |(_, l)| *l);
            if have != want {
                return Err(RolloutError::Inconsistent(format!(
                    "{} has {have} values, expected {want} for shape {:?}",
                    spec.name, spec.shape
                )));
            }
        }
        Ok(())
    }

    /// Frame `t` of the dream stream, `[H, W, 3]` u8 (empty past the end).
    pub fn dream_frame(&self, t: usize) -> &[u8] {
        frame_at(&self.dream_frames, t, self.frame_len())
    }

    /// Frame `t` of the physics stream, `[H, W, 3]` u8 (empty past the end).
    pub fn physics_frame(&self, t: usize) -> &[u8] {
        frame_at(&self.physics_frames, t, self.frame_len())
    }

    fn frame_len(&self) -> usize {
        self.meta.height * self.meta.width * 3
    }
}

fn frame_at(frames: &[u8], t: usize, len: usize) -> &[u8] {
    frames.get(t * len..(t + 1) * len).unwrap_or(&[])
}
