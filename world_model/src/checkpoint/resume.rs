//! Capturing a training run's whole state into a [`Checkpoint`] and putting it back,
//! so that a resumed run continues bit for bit.

use candle_core::Var;

use super::{Checkpoint, CheckpointError, CheckpointMeta, FORMAT_VERSION};
use crate::optim::{AdamW, Ema};

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
