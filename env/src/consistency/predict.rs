//! Predictors: whatever turns a chunk of benchmark tasks into predicted frames.
//!
//! somnium's own model ([`ModelPredictor`]) dreams a chunk in one batched forward
//! pass per step ([`DreamVecEnv`]), driven by the tasks' recorded actions, and
//! records where the dream predicted termination (probability above one half).
//! `somnium benchmark score` supplies frames read from a predictions file instead
//! (`src/cli/benchmark.rs`); both are scored by [`super::score`].

use somnium_scenarios::{Action, Scenario};

use super::predfile::Predictions;
use super::taskfile::TaskSet;
use super::tasks::Task;
use crate::dream::DreamModel;
use crate::lockstep::clone_scenario;
use crate::{DreamEnv, DreamVecEnv, EnvError};

/// One task's prediction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prediction {
    /// `[P, H, W, 3]` u8, frame `k` standing for the task's future frame `k`;
    /// `P <= horizon` (shorter where a dream ended its episode early).
    pub frames: Vec<u8>,
    /// The first step after the context where the predictor ended the episode.
    pub end: Option<usize>,
}

/// A frame source scored on benchmark tasks.
pub trait Predictor {
    /// The name the report gives it (the first source).
    fn name(&self) -> &str;
    /// A label of where it came from (a model path, a predictions file), for the report.
    fn source(&self) -> Option<String>;
    /// Predicts every task of `tasks` (a chunk, in order); `on_step` is called once
    /// per predicted step of the chunk where the predictor steps (progress).
    fn predict(
        &mut self,
        tasks: &[Task],
        on_step: &mut dyn FnMut(),
    ) -> Result<Vec<Prediction>, EnvError>;
}

/// somnium's own model as a predictor.
pub struct ModelPredictor<'a> {
    pub model: &'a DreamModel,
    pub scenario: &'a dyn Scenario,
    pub name: String,
}

impl Predictor for ModelPredictor<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn source(&self) -> Option<String> {
        self.model.source().map(|p| p.display().to_string())
    }

    fn predict(
        &mut self,
        tasks: &[Task],
        on_step: &mut dyn FnMut(),
    ) -> Result<Vec<Prediction>, EnvError> {
        dream_tasks(self.model, self.scenario, tasks, on_step)
    }
}

/// Dreams `tasks` in one batch: each sub-env reset to its task's seed (the dream's
/// context is physics' context), then stepped with the task's recorded actions.
pub fn dream_tasks(
    model: &DreamModel,
    prototype: &dyn Scenario,
    tasks: &[Task],
    on_step: &mut dyn FnMut(),
) -> Result<Vec<Prediction>, EnvError> {
    let Some(first) = tasks.first() else {
        return Ok(Vec::new());
    };
    let wn = model.context_frames();
    let horizon = first.horizon();
    if let Some(t) = tasks
        .iter()
        .find(|t| t.context_frames != wn || t.horizon() != horizon)
    {
        return Err(EnvError::BadConfig(format!(
            "task of seed {} has {} context frames and {} steps; the model takes {wn} context \
             frames and the chunk has {horizon} steps",
            t.seed,
            t.context_frames,
            t.horizon()
        )));
    }
    let envs = tasks
        .iter()
        .map(|_| {
            let mut env = DreamEnv::new(clone_scenario(prototype)?, model.clone())?
                .with_max_episode_steps(None);
            env.set_ignore_termination(true);
            Ok(env)
        })
        .collect::<Result<Vec<_>, EnvError>>()?;
    let mut dreams = DreamVecEnv::new(envs)?;
    for (i, t) in tasks.iter().enumerate() {
        dreams.reset_one(i, t.seed)?;
    }
    let fb = first.frame_bytes();
    let mut out: Vec<Prediction> = tasks
        .iter()
        .map(|_| Prediction {
            frames: Vec::with_capacity(horizon * fb),
            end: None,
        })
        .collect();
    let mut alive = vec![true; tasks.len()];
    for k in 0..horizon {
        let actions: Vec<Action> = tasks
            .iter()
            .map(|t| t.future_actions()[k].clone())
            .collect();
        let step = dreams.step(&actions)?;
        for (i, p) in out.iter_mut().enumerate() {
            let predicted = step.infos[i]
                .extra
                .get("terminated_prob")
                .and_then(serde_json::Value::as_f64)
                .is_some_and(|p| p > 0.5);
            if predicted && p.end.is_none() {
                p.end = Some(k + 1);
            }
            if alive[i] {
                // a dream that predicted termination was reset by the vector env: stop its stream
                match &step.infos[i].final_observation {
                    Some(last) => {
                        p.frames.extend_from_slice(&last.frame.data);
                        alive[i] = false;
                    }
                    None => p.frames.extend_from_slice(&step.obs[i].frame.data),
                }
            }
        }
        on_step();
    }
    Ok(out)
}

/// Frames from a predictions file ([`super::taskfile`]) as a predictor: each
/// regenerated task is first checked to be the task set's (context and actions),
/// so a task set from another version or scenario is refused, not misscored.
pub struct FilePredictor {
    pub name: String,
    /// The task set's directory, for messages.
    pub tasks_dir: String,
    pub source: Option<String>,
    pub tasks: TaskSet,
    pub predictions: Predictions,
}

impl Predictor for FilePredictor {
    fn name(&self) -> &str {
        &self.name
    }

    fn source(&self) -> Option<String> {
        self.source.clone()
    }

    fn predict(
        &mut self,
        tasks: &[Task],
        on_step: &mut dyn FnMut(),
    ) -> Result<Vec<Prediction>, EnvError> {
        let fb = self.tasks.meta.frame_bytes();
        for _ in 0..tasks.first().map_or(0, Task::horizon) {
            on_step();
        }
        tasks
            .iter()
            .map(|t| {
                let i = self
                    .tasks
                    .meta
                    .seeds
                    .iter()
                    .position(|&s| s == t.seed)
                    .ok_or_else(|| {
                        EnvError::BadConfig(format!("seed {} is not in the task set", t.seed))
                    })?;
                self.tasks
                    .check(i, t)
                    .map_err(|e| EnvError::BadConfig(format!("{} was {e}", self.tasks_dir)))?;
                Ok(Prediction {
                    frames: self.predictions.of(i, fb).to_vec(),
                    end: None,
                })
            })
            .collect()
    }
}
