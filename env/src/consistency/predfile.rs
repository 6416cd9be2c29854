//! Prediction files: what a predictor outside somnium answers a task set with
//! (docs/benchmark.md): `frames` U8 `[N, P, H, Wd, 3]`, `P <= horizon` (frame `k`
//! the `k`-th frame after the context), and optionally `seeds` I64 `[N]`, checked
//! against the tasks'. A malformed file is an error naming the file, the tensor
//! and what was expected, never a panic.

use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::taskfile::{bad, i64s, read_bytes, view, write, TaskFileError, TaskSetMeta};

/// A predictions file in memory: `frames` `[N, P, H, Wd, 3]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    pub frames: Vec<u8>,
    /// Frames per task (`P`).
    pub steps: usize,
}

impl Predictions {
    /// The predicted frames of task `i`.
    pub fn of(&self, i: usize, frame_bytes: usize) -> &[u8] {
        let n = self.steps * frame_bytes;
        &self.frames[i * n..(i + 1) * n]
    }
}

/// Reads `path` and checks it answers the tasks of `meta`.
pub fn read_predictions(path: &Path, meta: &TaskSetMeta) -> Result<Predictions, TaskFileError> {
    let bytes = read_bytes(path)?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(path, format!("not a safetensors file: {e}")))?;
    let (n, h, w) = (meta.episodes, meta.frame_height, meta.frame_width);
    let expected = format!(
        "U8 frames [N={n}, P (1 to {}), H={h}, W={w}, 3]",
        meta.horizon
    );
    let v = tensors.tensor("frames").map_err(|_| {
        let mut names: Vec<String> = tensors.names().into_iter().map(String::from).collect();
        names.sort();
        bad(
            path,
            format!("no tensor \"frames\" (it holds {names:?}); expected {expected}"),
        )
    })?;
    if v.dtype() != Dtype::U8 {
        return Err(bad(
            path,
            format!(
                "tensor \"frames\" is {:?}; expected {expected} (values 0 to 255)",
                v.dtype()
            ),
        ));
    }
    let shape = v.shape();
    let fits = shape.len() == 5
        && shape[0] == n
        && (1..=meta.horizon).contains(&shape[1])
        && shape[2..] == [h, w, 3];
    if !fits {
        return Err(bad(
            path,
            format!("tensor \"frames\" has shape {shape:?}; expected {expected}"),
        ));
    }
    if let Ok(s) = tensors.tensor("seeds") {
        if s.dtype() != Dtype::I64 || s.shape() != [n] {
            return Err(bad(
                path,
                format!(
                    "tensor \"seeds\" is {:?} {:?}; expected I64 [{n}], the tasks' seeds",
                    s.dtype(),
                    s.shape()
                ),
            ));
        }
        let seeds = i64s(s.data());
        if let Some(i) = seeds
            .iter()
            .zip(&meta.seeds)
            .position(|(&a, &b)| a as u64 != b)
        {
            return Err(bad(
                path,
                format!("seeds differ from the tasks': prediction {i} has seed {}, task {i} has seed {}", seeds[i], meta.seeds[i]),
            ));
        }
    }
    Ok(Predictions {
        frames: v.data().to_vec(),
        steps: shape[1],
    })
}

/// Writes `frames` `[N, P, H, Wd, 3]` and `seeds` as a predictions file (tests, tools).
pub fn write_predictions(
    path: &Path,
    frames: &[u8],
    shape: [usize; 5],
    seeds: Option<&[u64]>,
) -> Result<(), TaskFileError> {
    let seed_bytes: Vec<u8> = seeds
        .unwrap_or_default()
        .iter()
        .flat_map(|&s| (s as i64).to_le_bytes())
        .collect();
    let mut views = vec![("frames", view(path, Dtype::U8, shape.to_vec(), frames)?)];
    if let Some(s) = seeds {
        views.push(("seeds", view(path, Dtype::I64, vec![s.len()], &seed_bytes)?));
    }
    let data = safetensors::serialize(views, None).map_err(|e| bad(path, e.to_string()))?;
    write(path, &data)
}
