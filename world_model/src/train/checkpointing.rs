//! Saving a run (weights, EMA, optimizer moments, step, seed and extras) through
//! [`crate::checkpoint`], resuming it exactly, and loading a trained model.

use std::path::Path;

use candle_core::Device;

use super::{TrainConfig, Trainer};
use crate::checkpoint::{self, Checkpoint, CheckpointMeta, FORMAT_VERSION};
use crate::config::ModelConfig;
use crate::dit::DiT;
use crate::model_error::{ModelError, ModelResult};

fn ckpt_err(e: checkpoint::CheckpointError) -> ModelError {
    ModelError::Checkpoint(e.to_string())
}

impl Trainer {
    /// Writes the run to `dir` (atomically, see [`crate::checkpoint::save`]).
    /// `extra` is stored as is next to the training config (data hash, timings...).
    pub fn save(
        &self,
        dir: &Path,
        data_manifest_hash: &str,
        extra: serde_json::Value,
    ) -> ModelResult<()> {
        let ckpt = Checkpoint {
            config_json: serde_json::to_value(self.model.config())?,
            meta: CheckpointMeta {
                format_version: FORMAT_VERSION,
                step: self.step,
                seed: self.cfg.seed,
                data_manifest_hash: data_manifest_hash.to_string(),
                rng_state: vec![self.cfg.seed, self.step],
                data_order_state: vec![self.cfg.seed, self.step],
                extra: serde_json::json!({ "train": self.cfg, "run": extra }),
                provenance: self.provenance.clone(),
            },
            weights: self.model.params().snapshot()?,
            ema: self.ema.tensors(),
            optimizer: self.opt.state_tensors()?,
        };
        checkpoint::save(dir, &ckpt).map_err(ckpt_err)
    }

    /// Writes the model as `somnium export` would, atomically: the EMA weights
    /// (the live ones before the average exists), this run's config, step and
    /// provenance, without optimizer state. A snapshot along training
    /// (`train --keep-every`) that loads anywhere a shipped model does.
    pub fn save_model(
        &self,
        dir: &Path,
        data_manifest_hash: &str,
        extra: serde_json::Value,
    ) -> ModelResult<()> {
        let ema = self.ema.tensors();
        let weights = if ema.is_empty() {
            self.model.params().snapshot()?
        } else {
            ema
        };
        let mut ckpt = Checkpoint::new(
            serde_json::to_value(self.model.config())?,
            self.step,
            weights,
        );
        ckpt.meta.seed = self.cfg.seed;
        ckpt.meta.data_manifest_hash = data_manifest_hash.to_string();
        ckpt.meta.extra = serde_json::json!({ "train": self.cfg, "run": extra });
        ckpt.meta.provenance = self.provenance.clone();
        checkpoint::save(dir, &ckpt).map_err(ckpt_err)
    }

    /// Continues the run saved in `dir`: weights, EMA, optimizer moments and step.
    /// The checkpoint must be of this model config and this seed. Returns the
    /// run extras stored with it.
    pub fn resume(&mut self, dir: &Path) -> ModelResult<serde_json::Value> {
        let expected = serde_json::to_value(self.model.config())?;
        let ckpt = checkpoint::load_for_model(dir, &expected).map_err(ckpt_err)?;
        if ckpt.meta.seed != self.cfg.seed {
            return Err(ModelError::Checkpoint(format!(
                "{}: run seed {} differs from this run's seed {}",
                dir.display(),
                ckpt.meta.seed,
                self.cfg.seed
            )));
        }
        let vars = self.model.params().vars();
        ckpt.restore_weights(&vars).map_err(ckpt_err)?;
        self.ema.load_tensors(&ckpt.ema_map())?;
        self.opt.load_state_tensors(&ckpt.optimizer_map())?;
        if self.opt.step_count() != ckpt.meta.step {
            return Err(ModelError::Checkpoint(format!(
                "{}: optimizer state is at step {}, the run at step {}",
                dir.display(),
                self.opt.step_count(),
                ckpt.meta.step
            )));
        }
        self.step = ckpt.meta.step;
        if self.provenance.is_none() {
            self.provenance = ckpt.meta.provenance.clone();
        }
        Ok(ckpt
            .meta
            .extra
            .get("run")
            .cloned()
            .unwrap_or(serde_json::Value::Null))
    }
    /// Warm start (fine-tuning): loads the weights of the checkpoint in `dir`
    /// (its EMA weights when it has them) into the model and restarts the EMA
    /// from them; the optimizer, step and schedule start fresh. The checkpoint
    /// must be of this model config, except the sampling-only fields
    /// (`sampling_steps`, `sampling_context_noise`), which may differ. Returns
    /// the step the checkpoint was saved at.
    pub fn warm_start(&mut self, dir: &Path) -> ModelResult<u64> {
        let ckpt = checkpoint::load(dir).map_err(ckpt_err)?;
        let mut expected = serde_json::to_value(self.model.config())?;
        if let Some(e) = expected.as_object_mut() {
            for key in ["sampling_steps", "sampling_context_noise"] {
                // Older checkpoints lack the newer field (its default applies).
                match ckpt.config_json.get(key) {
                    Some(v) => e.insert(key.to_string(), v.clone()),
                    None => e.remove(key),
                };
            }
        }
        ckpt.check_config(&expected)
            .map_err(|e| ModelError::Checkpoint(format!("{}: {e}", dir.display())))?;
        let vars = self.model.params().vars();
        if ckpt.ema.is_empty() {
            ckpt.restore_weights(&vars).map_err(ckpt_err)?;
        } else {
            ckpt.restore_ema(&vars).map_err(ckpt_err)?;
        }
        self.ema = crate::optim::Ema::new(vars, self.cfg.ema_decay)?;
        if let (Some(p), Some(parent)) = (self.provenance.as_mut(), ckpt.meta.provenance) {
            p.init_from = Some(Box::new(parent));
        }
        Ok(ckpt.meta.step)
    }
}

/// The training config stored in a checkpoint (to resume with the same settings).
pub fn saved_train_config(dir: &Path) -> ModelResult<(ModelConfig, TrainConfig)> {
    let ckpt = checkpoint::load(dir).map_err(ckpt_err)?;
    let model: ModelConfig = serde_json::from_value(ckpt.config_json)?;
    let train = ckpt.meta.extra.get("train").cloned().unwrap_or_default();
    let train: TrainConfig = serde_json::from_value(train)?;
    Ok((model, train))
}

/// A trained model from the checkpoint in `dir`, with its EMA weights when it
/// has them (`use_ema`), else its live weights.
pub fn load_model(dir: &Path, use_ema: bool, device: &Device) -> ModelResult<DiT> {
    load_model_and_meta(dir, use_ema, device).map(|(model, _)| model)
}

/// [`load_model`], with the checkpoint's metadata (step, provenance...) read
/// in the same load.
pub fn load_model_and_meta(
    dir: &Path,
    use_ema: bool,
    device: &Device,
) -> ModelResult<(DiT, CheckpointMeta)> {
    let ckpt = checkpoint::load(dir).map_err(ckpt_err)?;
    let cfg: ModelConfig = serde_json::from_value(ckpt.config_json.clone())?;
    let model = DiT::new(&cfg, 0, device)?;
    let vars = model.params().vars();
    if use_ema && !ckpt.ema.is_empty() {
        ckpt.restore_ema(&vars).map_err(ckpt_err)?;
    } else {
        ckpt.restore_weights(&vars).map_err(ckpt_err)?;
    }
    Ok((model, ckpt.meta))
}
