//! Benchmark task files and prediction files (docs/benchmark.md).
//!
//! `somnium benchmark export` writes a task set: `tasks.json` ([`TaskSetMeta`]:
//! format `somnium-benchmark-tasks`, version 1, the scenario and everything that
//! regenerates the episodes) and `tasks.safetensors`: `context` U8
//! `[N, W, H, Wd, 3]`, `actions` F32 `[N, W-1+horizon, D]` for a box action space or
//! I64 `[N, W-1+horizon]` for a discrete one (`actions[:, t]` acts between frame `t`
//! and `t + 1` counted from the first context frame), and `seeds` I64 `[N]`. The
//! future frames are not written: the scorer rebuilds them from physics.
//!
//! A predictor answers with a predictions file ([`super::predfile`]). Every
//! malformed file is an error naming the file, the tensor and what was expected.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use somnium_scenarios::{Action, Space};

use super::score::ScoreSetup;
use super::tasks::Task;
use crate::lockstep::ActionPlan;

pub const FORMAT: &str = "somnium-benchmark-tasks";
pub const VERSION: u32 = 1;
pub const META_FILE: &str = "tasks.json";
pub const TENSOR_FILE: &str = "tasks.safetensors";

/// A malformed or unreadable task or prediction file; the message names what was wrong.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TaskFileError {
    pub path: String,
    pub reason: String,
}

pub(super) fn bad(path: &Path, reason: impl Into<String>) -> TaskFileError {
    TaskFileError {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// The action space as the task file states it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ActionSpaceSpec {
    Box { low: Vec<f32>, high: Vec<f32> },
    Discrete { n: usize },
}

impl ActionSpaceSpec {
    pub fn of(space: &Space) -> Self {
        match space {
            Space::Box { low, high, .. } => Self::Box {
                low: low.clone(),
                high: high.clone(),
            },
            Space::Discrete(n) => Self::Discrete { n: *n },
        }
    }
}

/// `tasks.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSetMeta {
    pub format: String,
    pub version: u32,
    pub scenario: String,
    pub variant: String,
    /// The first seed, which also seeds the action plan.
    pub seed: u64,
    pub episodes: usize,
    pub seeds: Vec<u64>,
    /// `idle`, `random` or `scripted`.
    pub policy: String,
    pub context_frames: usize,
    pub horizon: usize,
    pub frame_height: usize,
    pub frame_width: usize,
    pub action_space: ActionSpaceSpec,
    pub control_hz: f32,
    /// The ceiling's perturbation, as a fraction of the arena size.
    pub perturbation: f32,
    #[serde(default)]
    pub command: Vec<String>,
}

impl TaskSetMeta {
    /// The action plan the episodes' actions come from.
    pub fn plan(&self) -> Result<ActionPlan, crate::EnvError> {
        ActionPlan::named(&self.policy, self.seed)
    }

    /// How to regenerate and score these tasks, `batch` at a time.
    pub fn setup(&self, batch: usize, action_aware: bool) -> Result<ScoreSetup, crate::EnvError> {
        Ok(ScoreSetup {
            seeds: self.seeds.clone(),
            plan: self.plan()?,
            context_frames: self.context_frames,
            horizon: self.horizon,
            size: (self.frame_height, self.frame_width),
            perturbation: self.perturbation,
            batch,
            action_aware,
        })
    }

    /// Bytes of one frame.
    pub fn frame_bytes(&self) -> usize {
        self.frame_height * self.frame_width * 3
    }

    /// Actions per task (`W - 1 + horizon`).
    pub fn actions_per_task(&self) -> usize {
        self.context_frames - 1 + self.horizon
    }
}

/// A task set in memory (without the future frames).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSet {
    pub meta: TaskSetMeta,
    /// `[N, W, H, Wd, 3]` u8.
    pub context: Vec<u8>,
    /// Per task, its `W - 1 + horizon` actions.
    pub actions: Vec<Vec<Action>>,
}

impl TaskSet {
    /// The context frames of task `i`.
    pub fn context_of(&self, i: usize) -> &[u8] {
        let n = self.meta.context_frames * self.meta.frame_bytes();
        &self.context[i * n..(i + 1) * n]
    }

    /// Checks that `task` (regenerated from physics) is task `i` of this set; the
    /// error reads after "the task set was".
    pub fn check(&self, i: usize, task: &Task) -> Result<(), String> {
        let seed = self.meta.seeds.get(i).copied();
        if seed != Some(task.seed) {
            return Err(format!(
                "written for other seeds: task {i} has seed {seed:?}, regenerated {}",
                task.seed
            ));
        }
        if task.context() != self.context_of(i) {
            return Err(format!(
                "written by another version or scenario: context of seed {} differs from physics' now",
                task.seed
            ));
        }
        if task.actions != self.actions[i] {
            return Err(format!(
                "written by another version or scenario: actions of seed {} differ from the action plan's now",
                task.seed
            ));
        }
        Ok(())
    }
}

pub(super) fn view<'a>(
    path: &Path,
    dtype: Dtype,
    shape: Vec<usize>,
    data: &'a [u8],
) -> Result<TensorView<'a>, TaskFileError> {
    TensorView::new(dtype, shape, data).map_err(|e| bad(path, e.to_string()))
}

pub(super) fn write(path: &Path, bytes: &[u8]) -> Result<(), TaskFileError> {
    somnium_files::write_atomic(path, bytes).map_err(|e| bad(path, e.to_string()))
}

/// Writes `meta` and the tasks' contexts and actions into `dir` (which must exist).
pub fn write_task_set(
    dir: &Path,
    meta: &TaskSetMeta,
    context: &[u8],
    actions: &[Vec<Action>],
) -> Result<(), TaskFileError> {
    let tensor_path = dir.join(TENSOR_FILE);
    let (n, a) = (meta.seeds.len(), meta.actions_per_task());
    let seeds: Vec<u8> = meta
        .seeds
        .iter()
        .flat_map(|&s| (s as i64).to_le_bytes())
        .collect();
    let (dtype, shape, action_bytes): (Dtype, Vec<usize>, Vec<u8>) = match &meta.action_space {
        ActionSpaceSpec::Discrete { .. } => {
            let bytes = actions
                .iter()
                .flatten()
                .flat_map(|x| match x {
                    Action::Discrete(i) => (*i as i64).to_le_bytes(),
                    Action::Continuous(_) => (-1i64).to_le_bytes(),
                })
                .collect();
            (Dtype::I64, vec![n, a], bytes)
        }
        ActionSpaceSpec::Box { low, .. } => {
            let bytes = actions
                .iter()
                .flatten()
                .flat_map(Action::to_f32)
                .flat_map(f32::to_le_bytes)
                .collect();
            (Dtype::F32, vec![n, a, low.len()], bytes)
        }
    };
    let (h, w) = (meta.frame_height, meta.frame_width);
    let views = vec![
        (
            "context",
            view(
                &tensor_path,
                Dtype::U8,
                vec![n, meta.context_frames, h, w, 3],
                context,
            )?,
        ),
        ("actions", view(&tensor_path, dtype, shape, &action_bytes)?),
        ("seeds", view(&tensor_path, Dtype::I64, vec![n], &seeds)?),
    ];
    let info = HashMap::from([("format".to_string(), FORMAT.to_string())]);
    let data =
        safetensors::serialize(views, Some(info)).map_err(|e| bad(&tensor_path, e.to_string()))?;
    write(&tensor_path, &data)?;
    let meta_path = dir.join(META_FILE);
    let json = serde_json::to_vec_pretty(meta).map_err(|e| bad(&meta_path, e.to_string()))?;
    write(&meta_path, &json)
}

pub(super) fn read_bytes(path: &Path) -> Result<Vec<u8>, TaskFileError> {
    std::fs::read(path).map_err(|e| bad(path, format!("cannot read it: {e}")))
}

/// The tensor `name` of `tensors`, checked to be `dtype` of `shape`.
pub(super) fn tensor<'a>(
    path: &Path,
    tensors: &'a SafeTensors<'a>,
    name: &str,
    dtype: Dtype,
    shape: &[usize],
    expected: &str,
) -> Result<TensorView<'a>, TaskFileError> {
    let v = tensors.tensor(name).map_err(|_| {
        let mut names: Vec<String> = tensors.names().into_iter().map(String::from).collect();
        names.sort();
        bad(
            path,
            format!("no tensor {name:?} (it holds {names:?}); expected {expected}"),
        )
    })?;
    if v.dtype() != dtype || v.shape() != shape {
        return Err(bad(
            path,
            format!(
                "tensor {name:?} is {:?} {:?}; expected {expected}: {dtype:?} {shape:?}",
                v.dtype(),
                v.shape()
            ),
        ));
    }
    Ok(v)
}

pub(super) fn i64s(data: &[u8]) -> Vec<i64> {
    data.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect()
}

/// Reads and checks the task set in `dir`.
pub fn read_task_set(dir: &Path) -> Result<TaskSet, TaskFileError> {
    let meta_path = dir.join(META_FILE);
    let text = read_bytes(&meta_path)?;
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| bad(&meta_path, format!("not JSON: {e}")))?;
    let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != FORMAT {
        return Err(bad(&meta_path, format!("format {format:?}, expected {FORMAT:?}: not a task set of `somnium benchmark export`")));
    }
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(VERSION)) {
        return Err(bad(
            &meta_path,
            format!("version {version:?}; this somnium reads version {VERSION}"),
        ));
    }
    let meta: TaskSetMeta =
        serde_json::from_value(value).map_err(|e| bad(&meta_path, e.to_string()))?;
    if meta.seeds.len() != meta.episodes
        || meta.episodes == 0
        || meta.context_frames == 0
        || meta.horizon == 0
    {
        return Err(bad(
            &meta_path,
            format!(
                "{} seeds for {} episodes, {} context frames, horizon {}: expected one seed per episode and at least one of each",
                meta.seeds.len(),
                meta.episodes,
                meta.context_frames,
                meta.horizon
            ),
        ));
    }
    let path = dir.join(TENSOR_FILE);
    let bytes = read_bytes(&path)?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(&path, format!("not a safetensors file: {e}")))?;
    let (n, a, h, w) = (
        meta.episodes,
        meta.actions_per_task(),
        meta.frame_height,
        meta.frame_width,
    );
    let context = tensor(
        &path,
        &tensors,
        "context",
        Dtype::U8,
        &[n, meta.context_frames, h, w, 3],
        "context frames",
    )?
    .data()
    .to_vec();
    let seeds = i64s(tensor(&path, &tensors, "seeds", Dtype::I64, &[n], "seeds")?.data());
    if seeds.iter().zip(&meta.seeds).any(|(&a, &b)| a as u64 != b) {
        return Err(bad(
            &path,
            format!("seeds {seeds:?} differ from {META_FILE}'s {:?}", meta.seeds),
        ));
    }
    let actions: Vec<Vec<Action>> = match &meta.action_space {
        ActionSpaceSpec::Discrete { .. } => {
            let v = tensor(
                &path,
                &tensors,
                "actions",
                Dtype::I64,
                &[n, a],
                "discrete actions",
            )?;
            i64s(v.data())
                .chunks(a.max(1))
                .map(|c| {
                    c.iter()
                        .map(|&i| Action::Discrete(i.max(0) as usize))
                        .collect()
                })
                .collect()
        }
        ActionSpaceSpec::Box { low, .. } => {
            let d = low.len();
            let v = tensor(
                &path,
                &tensors,
                "actions",
                Dtype::F32,
                &[n, a, d],
                "box actions",
            )?;
            let f: Vec<f32> = v
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            f.chunks(a.max(1) * d.max(1))
                .map(|task| {
                    task.chunks(d.max(1))
                        .map(|x| Action::Continuous(x.to_vec()))
                        .collect()
                })
                .collect()
        }
    };
    Ok(TaskSet {
        meta,
        context,
        actions,
    })
}

#[cfg(test)]
#[path = "taskfile_tests.rs"]
mod tests;
