//! A model dreams only the scenario it was trained on: the provenance a
//! checkpoint records (scenario, variant, action space, control rate) is
//! compared with the scenario a dream is asked for, and a mismatch is refused by
//! name, with the env string that fits and the way to override the check.
//!
//! Override, for someone who means it (e.g. a transfer experiment): set the
//! environment variable [`ALLOW_MISMATCH_ENV`] to `1`, or pass
//! `somnium --allow-model-mismatch`. Checkpoints written before provenance was
//! recorded are not checked (there is nothing to compare).

use somnium_scenarios::{Scenario, Space};
use somnium_world_model::checkpoint::Provenance;
use somnium_world_model::data::ManifestActionSpace;

use super::DreamModel;
use crate::EnvError;

/// Set to `1` to let a model dream a scenario other than its own.
pub const ALLOW_MISMATCH_ENV: &str = "SOMNIUM_ALLOW_MODEL_MISMATCH";

/// Whether the override is set.
pub fn mismatch_allowed() -> bool {
    std::env::var(ALLOW_MISMATCH_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// What differs between the scenario a model was trained on and `scenario`.
pub fn differences(p: &Provenance, scenario: &dyn Scenario) -> Vec<String> {
    let mut diffs = Vec::new();
    if p.scenario != scenario.id() {
        diffs.push(format!("scenario {} is not {}", scenario.id(), p.scenario));
    }
    // A scenario built from a config file is "custom": its rate and actions are
    // compared, its name cannot be.
    if scenario.variant() != "custom" && p.variant != scenario.variant() {
        diffs.push(format!(
            "variant {} is not {}",
            scenario.variant(),
            p.variant
        ));
    }
    let same_space = match (&p.action_space, scenario.action_space()) {
        (
            ManifestActionSpace::Box { low, high },
            Space::Box {
                low: l, high: h, ..
            },
        ) => *low == l && *high == h,
        (ManifestActionSpace::Discrete { n }, Space::Discrete(m)) => *n == m,
        _ => false,
    };
    if !same_space {
        diffs.push(format!(
            "action space {:?} is not {:?}",
            scenario.action_space(),
            p.action_space
        ));
    }
    if (p.control_hz - scenario.control_hz()).abs() > 1e-3 * p.control_hz.abs().max(1.0) {
        diffs.push(format!(
            "control rate {} Hz is not {} Hz",
            scenario.control_hz(),
            p.control_hz
        ));
    }
    diffs
}

impl DreamModel {
    /// Refuses to dream `scenario` when the model's provenance says it was
    /// trained on another one (see the module docs for the override).
    pub fn check_scenario(&self, scenario: &dyn Scenario) -> Result<(), EnvError> {
        let Some(p) = self.provenance() else {
            return Ok(());
        };
        let diffs = differences(p, scenario);
        if diffs.is_empty() || mismatch_allowed() {
            return Ok(());
        }
        let name = self
            .source()
            .map_or_else(|| "the model".to_string(), |s| s.display().to_string());
        Err(EnvError::BadConfig(format!(
            "{name} was trained on {}; it cannot dream {}@{}: {}. Dream it as \
             dream:{}:{}@{name}, or set {ALLOW_MISMATCH_ENV}=1 (somnium --allow-model-mismatch) \
             to use it anyway",
            p.describe(),
            scenario.id(),
            scenario.variant(),
            diffs.join(", "),
            p.scenario,
            p.variant,
        )))
    }
}
