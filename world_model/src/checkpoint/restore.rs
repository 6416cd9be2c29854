//! Checking a loaded checkpoint against the model it is meant for, copying its
//! tensors into the model's variables, and capturing or resuming a training run's
//! whole state (weights, EMA, optimizer) so that a resumed run continues bit for bit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Tensor, Var};

use super::{
    load, Checkpoint, CheckpointError, CheckpointMeta, CONFIG_FILE, EMA_PREFIX, FORMAT_VERSION,
    MODEL_FILE,
};
use crate::optim::{AdamW, Ema};

impl Checkpoint {
    /// Refuses a checkpoint whose model config differs from `expected`, naming the
    /// first differing key (dotted path). Compare configs normalised the same way,
    /// e.g. both produced by `serde_json::to_value` of the same config type, so
    /// that fields with defaults are present on both sides.
    pub fn check_config(&self, expected: &serde_json::Value) -> Result<(), CheckpointError> {
        check_config_at(Path::new(CONFIG_FILE), expected, &self.config_json)
    }

    /// Weights by name (e.g. for `candle_nn::VarBuilder::from_tensors`).
    pub fn weights_map(&self) -> HashMap<String, Tensor> {
        self.weights.iter().cloned().collect()
    }

    /// EMA weights by name (without the `ema.` prefix).
    pub fn ema_map(&self) -> HashMap<String, Tensor> {
        self.ema.iter().cloned().collect()
    }

    /// Optimizer state by name (for [`crate::optim::AdamW::load_state_tensors`]).
    pub fn optimizer_map(&self) -> HashMap<String, Tensor> {
        self.optimizer.iter().cloned().collect()
    }

    /// Copies the weights into `vars`. Every variable must have a tensor of its
    /// shape and dtype and every weight must have a variable; nothing is written
    /// unless all match. Errors name the tensor.
    pub fn restore_weights(&self, vars: &[(String, Var)]) -> Result<(), CheckpointError> {
        restore(&self.weights, vars, "")
    }

    /// Copies the EMA weights into `vars` (e.g. to evaluate or dream with them),
    /// with the same checks as [`Checkpoint::restore_weights`].
    pub fn restore_ema(&self, vars: &[(String, Var)]) -> Result<(), CheckpointError> {
        if self.ema.is_empty() {
            return Err(CheckpointError::Invalid(
                "the checkpoint holds no EMA weights".to_string(),
            ));
        }
        restore(&self.ema, vars, EMA_PREFIX)
    }
}

/// Loads the checkpoint in `dir` and refuses it unless its model config equals
/// `expected` (see [`Checkpoint::check_config`]).
pub fn load_for_model(
    dir: &Path,
    expected: &serde_json::Value,
) -> Result<Checkpoint, CheckpointError> {
    let ckpt = load(dir)?;
    check_config_at(&dir.join(CONFIG_FILE), expected, &ckpt.config_json)?;
    Ok(ckpt)
}

fn check_config_at(
    path: &Path,
    expected: &serde_json::Value,
    found: &serde_json::Value,
) -> Result<(), CheckpointError> {
    match first_difference("", expected, found) {
        None => Ok(()),
        Some((key, expected, found)) => Err(CheckpointError::ConfigMismatch {
            path: path.to_path_buf(),
            key: if key.is_empty() { "(root)".into() } else { key },
            expected,
            found,
        }),
    }
}

/// The first key (dotted path) where two JSON values differ, with both values
/// (`absent` where a key is missing on one side).
fn first_difference(
    key: &str,
    expected: &serde_json::Value,
    found: &serde_json::Value,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    let join = |k: &str| {
        if key.is_empty() {
            k.to_string()
        } else {
            format!("{key}.{k}")
        }
    };
    match (expected, found) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (a.get(k), b.get(k)) {
                (Some(x), Some(y)) => first_difference(&join(k), x, y),
                (x, y) => Some((join(k), show(x), show(y))),
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(&join(&i.to_string()), x, y)),
        (a, b) if a == b => None,
        (a, b) => Some((key.to_string(), a.to_string(), b.to_string())),
    }
}

fn show(v: Option<&serde_json::Value>) -> String {
    v.map_or_else(|| "absent".to_string(), |v| v.to_string())
}

fn restore(
    tensors: &[(String, Tensor)],
    vars: &[(String, Var)],
    prefix: &str,
) -> Result<(), CheckpointError> {
    let path = PathBuf::from(MODEL_FILE);
    let by_name: HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut pairs = Vec::with_capacity(vars.len());
    for (name, var) in vars {
        let tensor = format!("{prefix}{name}");
        let t = by_name
            .get(name.as_str())
            .ok_or_else(|| CheckpointError::MissingTensor {
                path: path.clone(),
                tensor: tensor.clone(),
            })?;
        if t.dims() != var.dims() {
            return Err(CheckpointError::WrongShape {
                path: path.clone(),
                tensor,
                expected: var.dims().to_vec(),
                found: t.dims().to_vec(),
            });
        }
        if t.dtype() != var.dtype() {
            return Err(CheckpointError::WrongDtype {
                path: path.clone(),
                tensor,
                expected: var.dtype().as_str().to_string(),
                found: t.dtype().as_str().to_string(),
            });
        }
        pairs.push((var, *t));
    }
    if tensors.len() != vars.len() {
        let wanted: std::collections::HashSet<&str> =
            vars.iter().map(|(n, _)| n.as_str()).collect();
        if let Some((extra, _)) = tensors.iter().find(|(n, _)| !wanted.contains(n.as_str())) {
            return Err(CheckpointError::UnexpectedTensor {
                path,
                tensor: format!("{prefix}{extra}"),
            });
        }
    }
    for (var, t) in pairs {
        var.set(&t.to_device(var.device())?)?;
    }
    Ok(())
}

impl Checkpoint {
    /// Snapshots the variables (copied, so later steps do not change the
    /// snapshot), the EMA and the optimizer state.
    pub fn capture(
        config_json: serde_json::Value,
        meta: CheckpointMeta,
        vars: &[(String, Var)],
        ema: Option<&Ema>,
        optimizer: Option<&AdamW>,
    ) -> Result<Self, CheckpointError> {
        let weights = vars
            .iter()
            .map(|(n, v)| Ok((n.clone(), v.as_tensor().copy()?)))
            .collect::<Result<Vec<_>, candle_core::Error>>()?;
        let ema = match ema {
            Some(e) => e
                .tensors()
                .into_iter()
                .map(|(n, t)| Ok((n, t.copy()?)))
                .collect::<Result<Vec<_>, candle_core::Error>>()?,
            None => Vec::new(),
        };
        let optimizer = match optimizer {
            Some(o) => o
                .state_tensors()?
                .into_iter()
                .map(|(n, t)| Ok((n, t.copy()?)))
                .collect::<Result<Vec<_>, candle_core::Error>>()?,
            None => Vec::new(),
        };
        Ok(Self {
            config_json,
            meta: CheckpointMeta {
                format_version: FORMAT_VERSION,
                ..meta
            },
            weights,
            ema,
            optimizer,
        })
    }

    /// Restores the variables, and the EMA and optimizer when given, from this
    /// checkpoint. The weights are checked against the variables first
    /// ([`Checkpoint::restore_weights`]); an EMA or optimizer given while the
    /// checkpoint holds none is an error.
    pub fn resume_into(
        &self,
        vars: &[(String, Var)],
        ema: Option<&mut Ema>,
        optimizer: Option<&mut AdamW>,
    ) -> Result<(), CheckpointError> {
        self.restore_weights(vars)?;
        if let Some(e) = ema {
            if self.ema.is_empty() {
                return Err(CheckpointError::Invalid(
                    "the checkpoint holds no EMA weights".into(),
                ));
            }
            e.load_tensors(&self.ema_map())?;
        }
        if let Some(o) = optimizer {
            if self.optimizer.is_empty() {
                return Err(CheckpointError::Invalid(
                    "the checkpoint holds no optimizer state".into(),
                ));
            }
            o.load_state_tensors(&self.optimizer_map())?;
        }
        Ok(())
    }
}
