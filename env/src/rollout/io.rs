//! Writing a rollout directory atomically and reading it back with validation.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use super::{Rollout, RolloutError, RolloutMeta, FORMAT, FORMAT_VERSION, META_FILE, TENSOR_FILE};

fn io_err(path: &Path, e: impl std::fmt::Display) -> RolloutError {
    RolloutError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bool_bytes(v: &[bool]) -> Vec<u8> {
    v.iter().map(|&b| b as u8).collect()
}

/// Writes `rollout` into the directory `dir`: created if missing, granted if
/// empty or already a rollout, refused otherwise ([`somnium_files::claim_dir`]).
/// Only the rollout's own two files are replaced, each atomically, the tensors
/// first and the metadata last; any other file in `dir` is left as it was.
pub fn write(dir: &Path, rollout: &Rollout) -> Result<(), RolloutError> {
    rollout.validate()?;
    somnium_files::claim_dir(dir, &somnium_files::OutputKind::ROLLOUT)?;
    write_files(dir, rollout)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), RolloutError> {
    somnium_files::write_atomic(path, bytes).map_err(|e| {
        let (path, source) = e.into_io();
        io_err(&path, source)
    })
}

fn write_files(dir: &Path, r: &Rollout) -> Result<(), RolloutError> {
    let owned: Vec<(&str, Vec<u8>)> = vec![
        ("actions", f32_bytes(&r.actions)),
        ("physics_states", f32_bytes(&r.physics_states)),
        ("physics_rewards", f32_bytes(&r.physics_rewards)),
        ("dream_rewards", f32_bytes(&r.dream_rewards)),
        ("physics_terminated", bool_bytes(&r.physics_terminated)),
        ("dream_terminated", bool_bytes(&r.dream_terminated)),
        ("physics_centroids", f32_bytes(&r.physics_centroids)),
        ("dream_centroids", f32_bytes(&r.dream_centroids)),
        ("scene_translations", f32_bytes(&r.scene_translations)),
        ("scene_rotations", f32_bytes(&r.scene_rotations)),
    ];
    let bytes_of = |name: &str| -> &[u8] {
        match name {
            "dream_frames" => &r.dream_frames,
            "physics_frames" => &r.physics_frames,
            _ => owned
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(&[][..], |(_, b)| b),
        }
    };
    let path = dir.join(TENSOR_FILE);
    let mut views = Vec::new();
    for spec in r.meta.tensor_shapes() {
        let dtype = if spec.is_u8 { Dtype::U8 } else { Dtype::F32 };
        let view = TensorView::new(dtype, spec.shape.clone(), bytes_of(spec.name))
            .map_err(|e| io_err(&path, format!("tensor {}: {e}", spec.name)))?;
        views.push((spec.name, view));
    }
    let info = HashMap::from([("format".to_string(), FORMAT.to_string())]);
    let data = safetensors::serialize(views, Some(info)).map_err(|e| io_err(&path, e))?;
    write_synced(&path, &data)?;
    let meta_path = dir.join(META_FILE);
    let json = serde_json::to_vec_pretty(&r.meta).map_err(|e| io_err(&meta_path, e))?;
    write_synced(&meta_path, &json)
}

/// Reads and validates the rollout in `dir`.
pub fn read(dir: &Path) -> Result<Rollout, RolloutError> {
    let meta_path = dir.join(META_FILE);
    let text = std::fs::read(&meta_path).map_err(|e| io_err(&meta_path, e))?;
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| RolloutError::Meta {
            path: meta_path.display().to_string(),
            reason: e.to_string(),
        })?;
    let path_str = meta_path.display().to_string();
    let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != FORMAT {
        return Err(RolloutError::WrongFormat {
            path: path_str,
            found: format.to_string(),
        });
    }
    let version = value
        .get("format_version")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    if version > FORMAT_VERSION as u64 {
        return Err(RolloutError::UnsupportedVersion {
            path: path_str,
            found: version as u32,
        });
    }
    let meta: RolloutMeta = serde_json::from_value(value).map_err(|e| RolloutError::Meta {
        path: path_str.clone(),
        reason: e.to_string(),
    })?;
    meta.validate().map_err(|e| RolloutError::Meta {
        path: path_str,
        reason: e.to_string(),
    })?;

    let tensor_path = dir.join(TENSOR_FILE);
    let bytes = std::fs::read(&tensor_path).map_err(|e| io_err(&tensor_path, e))?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| io_err(&tensor_path, e))?;
    let shown = tensor_path.display().to_string();
    let mut got: HashMap<&str, Vec<u8>> = HashMap::new();
    for spec in meta.tensor_shapes() {
        let view = tensors
            .tensor(spec.name)
            .map_err(|_| RolloutError::MissingTensor {
                path: shown.clone(),
                tensor: spec.name.to_string(),
            })?;
        let dtype = if spec.is_u8 { Dtype::U8 } else { Dtype::F32 };
        if view.dtype() != dtype || view.shape() != spec.shape.as_slice() {
            return Err(RolloutError::WrongTensor {
                path: shown.clone(),
                tensor: spec.name.to_string(),
                expected: format!("{dtype:?} {:?}", spec.shape),
                found: format!("{:?} {:?}", view.dtype(), view.shape()),
            });
        }
        got.insert(spec.name, view.data().to_vec());
    }
    let mut take = |name: &str| got.remove(name).unwrap_or_default();
    let f32s = |b: Vec<u8>| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let bools = |b: Vec<u8>| -> Vec<bool> { b.into_iter().map(|x| x != 0).collect() };
    let rollout = Rollout {
        dream_frames: take("dream_frames"),
        physics_frames: take("physics_frames"),
        actions: f32s(take("actions")),
        physics_states: f32s(take("physics_states")),
        physics_rewards: f32s(take("physics_rewards")),
        dream_rewards: f32s(take("dream_rewards")),
        physics_terminated: bools(take("physics_terminated")),
        dream_terminated: bools(take("dream_terminated")),
        physics_centroids: f32s(take("physics_centroids")),
        dream_centroids: f32s(take("dream_centroids")),
        scene_translations: f32s(take("scene_translations")),
        scene_rotations: f32s(take("scene_rotations")),
        meta,
    };
    rollout.validate()?;
    Ok(rollout)
}
