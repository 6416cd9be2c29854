//! Saving and resuming a PPO run: beside the agent's checkpoint (`agent.json`,
//! `agent.safetensors`), `optimizer.safetensors` holds AdamW's moments and
//! `trainer.json` the step and update counts and the latest finished episodes.
//!
//! [`PpoTrainer::resume`] restores all of it, so the learning-rate schedule, the
//! optimizer and the step budget go on where the checkpoint left them. The envs
//! cannot be restored mid-episode (a dream's state lives in the model, physics'
//! in rapier): they restart with fresh episodes from a seed derived from the
//! run's seed and the update count, so a resumed run is reproducible from its
//! checkpoint but not bit-identical to an uninterrupted one.

use std::collections::HashMap;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::trainer::{EpisodeRecord, PpoTrainer};
use crate::agent::write_atomic;
use crate::{AgentError, AgentFile, BatchEnv, CONFIG_FILE, WEIGHTS_FILE};

/// The trainer's state beside the agent checkpoint.
pub const TRAINER_FILE: &str = "trainer.json";
/// AdamW's moments beside the agent checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// Format tag of [`TRAINER_FILE`].
const TRAINER_FORMAT: &str = "somnium-ppo-trainer/1";
/// Finished episodes kept in [`TRAINER_FILE`] (for rolling returns after a resume).
const EPISODES_KEPT: usize = 100;

#[derive(Serialize, Deserialize)]
struct TrainerState {
    format: String,
    global_step: u64,
    update: usize,
    /// The latest finished episodes, oldest first.
    episodes: Vec<EpisodeRecord>,
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> AgentError {
    AgentError::BadCheckpoint {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl<V: BatchEnv> PpoTrainer<V> {
    /// Writes [`OPTIMIZER_FILE`] and [`TRAINER_FILE`] into `dir` (atomically each).
    pub(super) fn save_training_state(&self, dir: &Path) -> Result<(), AgentError> {
        let tensors: HashMap<String, candle_core::Tensor> =
            self.opt.state_tensors()?.into_iter().collect();
        let path = dir.join(OPTIMIZER_FILE);
        let tmp = dir.join(format!(".{OPTIMIZER_FILE}.tmp"));
        candle_core::safetensors::save(&tensors, &tmp).map_err(|e| AgentError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| AgentError::io(&path, e))?;
        let keep = self.finished.len().saturating_sub(EPISODES_KEPT);
        let state = TrainerState {
            format: TRAINER_FORMAT.into(),
            global_step: self.global_step,
            update: self.update,
            episodes: self.finished[keep..].to_vec(),
        };
        let text = serde_json::to_string_pretty(&state).map_err(|e| AgentError::io(dir, e))?;
        write_atomic(&dir.join(TRAINER_FILE), text.as_bytes())
    }

    /// Continues the run saved in `dir` by [`PpoTrainer::save`]: its weights,
    /// optimizer moments, step and update counts. The trainer must have been
    /// built with the same settings (the network's shape is checked); nothing
    /// changes if any file is missing or does not fit. The envs restart (see
    /// the module docs).
    pub fn resume(&mut self, dir: &Path) -> Result<(), AgentError> {
        let file = AgentFile::read(dir)?;
        if file.net != *self.agent.model.config() || file.obs != self.agent.obs {
            return Err(bad(
                &dir.join(CONFIG_FILE),
                "its network or observations differ from this run's settings",
            ));
        }
        let state_path = dir.join(TRAINER_FILE);
        let text = std::fs::read_to_string(&state_path).map_err(|e| {
            bad(
                &state_path,
                format!("cannot read ({e}): no training state to resume from"),
            )
        })?;
        let state: TrainerState = serde_json::from_str(&text)
            .map_err(|e| bad(&state_path, format!("not a trainer state: {e}")))?;
        if state.format != TRAINER_FORMAT {
            return Err(bad(
                &state_path,
                format!("format '{}', expected '{TRAINER_FORMAT}'", state.format),
            ));
        }
        let device = self.agent.device.clone();
        let weights_path = dir.join(WEIGHTS_FILE);
        let weights = candle_core::safetensors::load(&weights_path, &device)
            .map_err(|e| bad(&weights_path, e))?;
        let opt_path = dir.join(OPTIMIZER_FILE);
        let moments =
            candle_core::safetensors::load(&opt_path, &device).map_err(|e| bad(&opt_path, e))?;
        // The optimizer checks every moment before changing anything; then the weights.
        self.opt
            .load_state_tensors(&moments)
            .map_err(|e| bad(&opt_path, e))?;
        self.agent
            .model
            .load(&weights)
            .map_err(|e| bad(&weights_path, e))?;
        self.global_step = state.global_step;
        self.update = state.update;
        self.finished = state.episodes;
        let salt = (state.update as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.rng = ChaCha8Rng::seed_from_u64(self.config.seed ^ 0x5eed_0f_99 ^ salt);
        self.restart_envs(self.config.seed ^ salt)
    }
}
