//! Writing and reading the checkpoint files: safetensors with a JSON index that
//! records every file's length and checksum and every tensor's dtype and shape.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use candle_core::safetensors::Load;
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{
    Checkpoint, CheckpointError, CheckpointMeta, CONFIG_FILE, EMA_PREFIX, FORMAT_VERSION,
    MODEL_FILE, OPTIMIZER_FILE,
};
use crate::data::fnv1a64;

/// The content of `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointIndex {
    pub format_version: u32,
    /// The model's configuration as the trainer serialised it.
    pub model_config: serde_json::Value,
    pub meta: CheckpointMeta,
    /// Tensor files by file name.
    pub files: BTreeMap<String, FileEntry>,
}

/// One safetensors file of the checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Length in bytes.
    pub bytes: u64,
    /// FNV-1a 64-bit hash of the bytes, 16 hex digits.
    pub fnv1a64: String,
    /// The tensors in the order they were given.
    pub tensors: Vec<TensorEntry>,
}

/// One tensor in a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorEntry {
    pub name: String,
    /// candle's dtype name (`f32`, `bf16`, `i64`...).
    pub dtype: String,
    pub shape: Vec<usize>,
}

/// Writes `ckpt` into `dir` (created if needed), each file atomically, the index last.
pub fn save(dir: &Path, ckpt: &Checkpoint) -> Result<(), CheckpointError> {
    std::fs::create_dir_all(dir).map_err(|e| CheckpointError::io(dir, e))?;
    let mut model: Vec<(String, Tensor)> = ckpt.weights.clone();
    model.extend(
        ckpt.ema
            .iter()
            .map(|(n, t)| (format!("{EMA_PREFIX}{n}"), t.clone())),
    );
    let mut files = BTreeMap::new();
    let mut meta = ckpt.meta.clone();
    meta.format_version = FORMAT_VERSION;
    let header = HashMap::from([
        ("format".to_string(), "somnium-checkpoint".to_string()),
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ("step".to_string(), meta.step.to_string()),
    ]);
    let mut parts = vec![(MODEL_FILE, model)];
    if !ckpt.optimizer.is_empty() {
        parts.push((OPTIMIZER_FILE, ckpt.optimizer.clone()));
    }
    // Serialise everything before the first rename, so a bad tensor leaves the
    // previous checkpoint untouched.
    let mut encoded = Vec::new();
    for (file, tensors) in parts {
        let (bytes, entry) = encode(file, &tensors, header.clone())?;
        files.insert(file.to_string(), entry);
        encoded.push((file, bytes));
    }
    let index = CheckpointIndex {
        format_version: FORMAT_VERSION,
        model_config: ckpt.config_json.clone(),
        meta,
        files,
    };
    let index_path = dir.join(CONFIG_FILE);
    let json = serde_json::to_vec_pretty(&index).map_err(|source| CheckpointError::Json {
        path: index_path.clone(),
        source,
    })?;
    for (file, bytes) in encoded {
        write_atomic(&dir.join(file), &bytes)?;
    }
    // write_atomic syncs the directory after each rename: the index is durable
    write_atomic(&index_path, &json)
}

/// Serialises `tensors` as safetensors bytes and describes them.
fn encode(
    file: &str,
    tensors: &[(String, Tensor)],
    header: HashMap<String, String>,
) -> Result<(Vec<u8>, FileEntry), CheckpointError> {
    let mut seen = HashSet::new();
    let mut host = Vec::with_capacity(tensors.len());
    let mut entries = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        if !seen.insert(name.as_str()) {
            return Err(CheckpointError::Invalid(format!(
                "{file}: tensor name `{name}` appears twice"
            )));
        }
        let t = t.to_device(&Device::Cpu)?.contiguous()?;
        entries.push(TensorEntry {
            name: name.clone(),
            dtype: t.dtype().as_str().to_string(),
            shape: t.dims().to_vec(),
        });
        host.push((name.clone(), t));
    }
    let bytes = safetensors::serialize(host.iter().map(|(n, t)| (n.as_str(), t)), Some(header))
        .map_err(|e| CheckpointError::Invalid(format!("{file}: cannot serialise: {e}")))?;
    let entry = FileEntry {
        bytes: bytes.len() as u64,
        fnv1a64: format!("{:016x}", fnv1a64(&bytes)),
        tensors: entries,
    };
    Ok((bytes, entry))
}

/// Writes `bytes` to `path` atomically (see [`somnium_files::write_atomic`]).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    somnium_files::write_atomic(path, bytes).map_err(|e| {
        let (path, source) = e.into_io();
        CheckpointError::io(&path, source)
    })
}

/// Reads and validates the checkpoint in `dir`; tensors are loaded on the CPU.
pub fn load(dir: &Path) -> Result<Checkpoint, CheckpointError> {
    let index_path = dir.join(CONFIG_FILE);
    let json = std::fs::read(&index_path).map_err(|e| CheckpointError::io(&index_path, e))?;
    let version = serde_json::from_slice::<serde_json::Value>(&json)
        .map_err(|source| CheckpointError::Json {
            path: index_path.clone(),
            source,
        })?
        .get("format_version")
        .and_then(|v| v.as_u64());
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(CheckpointError::UnsupportedVersion {
            path: index_path,
            found: version.map_or(0, |v| v as u32),
            supported: FORMAT_VERSION,
        });
    }
    let index: CheckpointIndex =
        serde_json::from_slice(&json).map_err(|source| CheckpointError::Json {
            path: index_path.clone(),
            source,
        })?;
    let Some(model_entry) = index.files.get(MODEL_FILE) else {
        return Err(CheckpointError::Corrupt {
            path: index_path,
            reason: format!("the index lists no `{MODEL_FILE}`"),
        });
    };
    let mut weights = Vec::new();
    let mut ema = Vec::new();
    for (name, t) in read_file(&dir.join(MODEL_FILE), model_entry)? {
        match name.strip_prefix(EMA_PREFIX) {
            Some(stripped) => ema.push((stripped.to_string(), t)),
            None => weights.push((name, t)),
        }
    }
    let optimizer = match index.files.get(OPTIMIZER_FILE) {
        Some(entry) => read_file(&dir.join(OPTIMIZER_FILE), entry)?,
        None => Vec::new(),
    };
    if let Some(other) = index
        .files
        .keys()
        .find(|k| *k != MODEL_FILE && *k != OPTIMIZER_FILE)
    {
        return Err(CheckpointError::Corrupt {
            path: index_path,
            reason: format!("the index lists an unknown file `{other}`"),
        });
    }
    let mut meta = index.meta;
    meta.format_version = index.format_version;
    Ok(Checkpoint {
        config_json: index.model_config,
        meta,
        weights,
        ema,
        optimizer,
    })
}

/// Reads one safetensors file and checks it against its index entry.
fn read_file(path: &Path, entry: &FileEntry) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|e| CheckpointError::io(path, e))?;
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() as u64 != entry.bytes {
        let what = if (bytes.len() as u64) < entry.bytes {
            "truncated"
        } else {
            "longer than recorded"
        };
        return Err(corrupt(format!(
            "{what}: {} bytes, the index records {}",
            bytes.len(),
            entry.bytes
        )));
    }
    let sum = format!("{:016x}", fnv1a64(&bytes));
    if sum != entry.fnv1a64 {
        return Err(corrupt(format!(
            "checksum {sum} differs from the recorded {}",
            entry.fnv1a64
        )));
    }
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| corrupt(format!("not a valid safetensors file: {e}")))?;
    let listed: HashSet<&str> = entry.tensors.iter().map(|t| t.name.as_str()).collect();
    if let Some(extra) = st.names().into_iter().find(|n| !listed.contains(n)) {
        return Err(CheckpointError::UnexpectedTensor {
            path: path.to_path_buf(),
            tensor: extra.to_string(),
        });
    }
    let mut out = Vec::with_capacity(entry.tensors.len());
    for te in &entry.tensors {
        let view = st
            .tensor(&te.name)
            .map_err(|_| CheckpointError::MissingTensor {
                path: path.to_path_buf(),
                tensor: te.name.clone(),
            })?;
        let t = view
            .load(&Device::Cpu)
            .map_err(|e| corrupt(format!("tensor `{}` cannot be decoded: {e}", te.name)))?;
        if t.dtype().as_str() != te.dtype {
            return Err(CheckpointError::WrongDtype {
                path: path.to_path_buf(),
                tensor: te.name.clone(),
                expected: te.dtype.clone(),
                found: t.dtype().as_str().to_string(),
            });
        }
        if t.dims() != te.shape.as_slice() {
            return Err(CheckpointError::WrongShape {
                path: path.to_path_buf(),
                tensor: te.name.clone(),
                expected: te.shape.clone(),
                found: t.dims().to_vec(),
            });
        }
        out.push((te.name.clone(), t));
    }
    Ok(out)
}
