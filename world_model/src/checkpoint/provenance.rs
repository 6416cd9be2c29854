//! Where a checkpoint came from: the scenario and variant its data was recorded
//! in, the frame size and action space, the dataset (path and manifest hash),
//! the command that trained it and, for a fine-tune, the provenance of the
//! checkpoint it started from.
//!
//! Every checkpoint `somnium train` writes carries one, and `somnium export`
//! keeps it, so a model can refuse to dream a scenario it never saw (the env
//! crate compares it with the scenario it is asked to dream).

use serde::{Deserialize, Serialize};

use crate::data::{DatasetSpec, ManifestActionSpace};

/// The data and command behind a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Scenario id of the training data, e.g. `push-v0`.
    pub scenario: String,
    /// Its variant, e.g. `large` (`custom` for a scenario config file).
    pub variant: String,
    /// Frame size of the data `[height, width]`.
    pub frame_size: [usize; 2],
    pub action_space: ManifestActionSpace,
    /// Control steps per second of the data.
    pub control_hz: f32,
    /// The dataset directory as the command named it.
    pub data: String,
    /// FNV-1a of the dataset's `manifest.json`.
    pub data_manifest_hash: String,
    /// The training command line, word by word.
    pub command: Vec<String>,
    /// The provenance of the checkpoint a fine-tune started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<Box<Provenance>>,
}

impl Provenance {
    /// The provenance of a run training on the dataset `spec` (found at `data`,
    /// manifest hash `hash`) with `command`.
    pub fn of_dataset(spec: &DatasetSpec, data: &str, hash: &str, command: Vec<String>) -> Self {
        Provenance {
            scenario: spec.scenario.clone(),
            variant: spec.variant.clone(),
            frame_size: [spec.height, spec.width],
            action_space: spec.action_space.clone(),
            control_hz: spec.control_hz,
            data: data.to_string(),
            data_manifest_hash: hash.to_string(),
            command,
            init_from: None,
        }
    }

    /// `scenario@variant` as env strings write it.
    pub fn scenario_variant(&self) -> String {
        format!("{}@{}", self.scenario, self.variant)
    }

    /// One line for people: what the model was trained on.
    pub fn describe(&self) -> String {
        let space = match &self.action_space {
            ManifestActionSpace::Box { low, .. } => format!("Box^{}", low.len()),
            ManifestActionSpace::Discrete { n } => format!("Discrete({n})"),
        };
        format!(
            "{} ({}x{} frames, actions {space}, {} Hz; data {} {})",
            self.scenario_variant(),
            self.frame_size[0],
            self.frame_size[1],
            self.control_hz,
            self.data,
            self.data_manifest_hash
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Provenance {
        Provenance {
            scenario: "push-v0".into(),
            variant: "large".into(),
            frame_size: [64, 64],
            action_space: ManifestActionSpace::Box {
                low: vec![-1.0; 2],
                high: vec![1.0; 2],
            },
            control_hz: 5.0,
            data: "data/push-lh".into(),
            data_manifest_hash: "eccf4e89cd5c5f4b".into(),
            command: vec!["somnium".into(), "train".into()],
            init_from: None,
        }
    }

    #[test]
    fn a_provenance_round_trips_through_json_with_its_parent() {
        let mut p = sample();
        p.init_from = Some(Box::new(sample()));
        let back: Provenance = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert!(p.describe().contains("push-v0@large") && p.describe().contains("5 Hz"));
    }
}
