//! Scenario configs as data: named presets (`id`, `ood`), and files in JSON or TOML
//! that name their scenario with a `scenario` (or `id`) field, may start from a
//! preset with `variant`, and override any config field.
//!
//! ```toml
//! scenario = "bounce-v0"
//! variant = "ood"          # optional base preset, default "id"
//! max_episode_steps = 100  # any field of BounceConfig
//! ```

use std::path::Path;

use serde_json::Value;

use crate::{
    Bounce, BounceConfig, CartPole, CartPoleConfig, Occlusion, OcclusionConfig, Push, PushConfig,
    Reach, ReachConfig, Scenario, ScenarioError,
};

/// The config of any registered scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum ScenarioConfig {
    Bounce(BounceConfig),
    Push(PushConfig),
    CartPole(CartPoleConfig),
    Reach(ReachConfig),
    Occlusion(OcclusionConfig),
}

/// The preset named `variant`: `presets` holds one constructor per name of
/// [`variants`]`(id)`, in that order, so the names live in one place.
fn pick<T>(id: &str, variant: &str, presets: &[fn() -> T]) -> Result<T, ScenarioError> {
    let names = variants(id);
    debug_assert_eq!(names.len(), presets.len(), "{id}: one preset per variant");
    names
        .iter()
        .position(|name| *name == variant)
        .and_then(|k| presets.get(k))
        .map(|preset| preset())
        .ok_or_else(|| unknown_variant(id, variant))
}

fn unknown_variant(id: &str, variant: &str) -> ScenarioError {
    ScenarioError::UnknownVariant {
        scenario: id.to_string(),
        variant: variant.to_string(),
        known: variants(id).join(", "),
    }
}

/// The named presets of scenario `id`: every scenario has `id` and `ood`;
/// `push-v0` also has `coarse` (the same task controlled at 5 Hz, see
/// [`PushConfig::coarse`]) and `large` (`coarse` with bigger objects, see
/// [`PushConfig::large`]); `cartpole-v0` has `coarse` (12.5 Hz control, a
/// closer camera, see [`CartPoleConfig::coarse`]).
pub fn variants(id: &str) -> &'static [&'static str] {
    match id {
        "push-v0" => &["id", "ood", "coarse", "large"],
        "cartpole-v0" => &["id", "ood", "coarse"],
        _ => &["id", "ood"],
    }
}

fn fields<T: serde::Serialize>(config: &T) -> Value {
    serde_json::to_value(config).unwrap_or(Value::Null)
}

fn parse<T: serde::de::DeserializeOwned>(id: &str, value: Value) -> Result<T, ScenarioError> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| ScenarioError::BadConfig(format!("{id}: field `{}`: {}", e.path(), e.inner())))
}

impl ScenarioConfig {
    /// The named preset `variant` of scenario `id` (see [`variants`]).
    pub fn preset(id: &str, variant: &str) -> Result<Self, ScenarioError> {
        Ok(match id {
            "bounce-v0" => Self::Bounce(pick(id, variant, &[BounceConfig::id, BounceConfig::ood])?),
            "push-v0" => Self::Push(pick(
                id,
                variant,
                &[
                    PushConfig::id,
                    PushConfig::ood,
                    PushConfig::coarse,
                    PushConfig::large,
                ],
            )?),
            "cartpole-v0" => Self::CartPole(pick(
                id,
                variant,
                &[
                    CartPoleConfig::id,
                    CartPoleConfig::ood,
                    CartPoleConfig::coarse,
                ],
            )?),
            "reach-v0" => Self::Reach(pick(id, variant, &[ReachConfig::id, ReachConfig::ood])?),
            "occlusion-v0" => Self::Occlusion(pick(
                id,
                variant,
                &[OcclusionConfig::id, OcclusionConfig::ood],
            )?),
            _ => return Err(ScenarioError::UnknownScenario(id.to_string())),
        })
    }

    /// The scenario id this config builds.
    pub fn scenario_id(&self) -> &'static str {
        match self {
            Self::Bounce(_) => "bounce-v0",
            Self::Push(_) => "push-v0",
            Self::CartPole(_) => "cartpole-v0",
            Self::Reach(_) => "reach-v0",
            Self::Occlusion(_) => "occlusion-v0",
        }
    }

    /// The config as a JSON object with a `scenario` field naming its id.
    pub fn to_json(&self) -> Value {
        let mut v = match self {
            Self::Bounce(c) => fields(c),
            Self::Push(c) => fields(c),
            Self::CartPole(c) => fields(c),
            Self::Reach(c) => fields(c),
            Self::Occlusion(c) => fields(c),
        };
        if let Value::Object(map) = &mut v {
            map.insert("scenario".into(), Value::String(self.scenario_id().into()));
        }
        v
    }

    /// The config as TOML text (what [`make_from_file`] reads back).
    pub fn to_toml(&self) -> Result<String, ScenarioError> {
        toml::to_string(&self.to_json())
            .map_err(|e| ScenarioError::BadConfig(format!("cannot write TOML: {e}")))
    }

    /// Parse a JSON object: `scenario` (or `id`) names the scenario, optional
    /// `variant` picks the base preset, every other field overrides the preset.
    pub fn from_json(value: Value) -> Result<Self, ScenarioError> {
        let Value::Object(mut map) = value else {
            return Err(ScenarioError::BadConfig(
                "a scenario config must be a table/object".into(),
            ));
        };
        let id = match map.remove("scenario").or_else(|| map.remove("id")) {
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(ScenarioError::BadConfig(format!(
                    "'scenario' must be a string, got {other}"
                )))
            }
            None => {
                return Err(ScenarioError::BadConfig(
                    "missing 'scenario' field naming the scenario id".into(),
                ))
            }
        };
        let variant = match map.remove("variant") {
            Some(Value::String(s)) => s,
            None => "id".to_string(),
            Some(other) => {
                return Err(ScenarioError::BadConfig(format!(
                    "'variant' must be a string, got {other}"
                )))
            }
        };
        let base = Self::preset(&id, &variant)?.to_json();
        let Value::Object(mut merged) = base else {
            return Err(ScenarioError::BadConfig(
                "internal: preset is not an object".into(),
            ));
        };
        merged.remove("scenario");
        merged.extend(map);
        let v = Value::Object(merged);
        Ok(match id.as_str() {
            "bounce-v0" => Self::Bounce(parse(&id, v)?),
            "push-v0" => Self::Push(parse(&id, v)?),
            "cartpole-v0" => Self::CartPole(parse(&id, v)?),
            "reach-v0" => Self::Reach(parse(&id, v)?),
            _ => Self::Occlusion(parse(&id, v)?),
        })
    }
}

/// Build the scenario a config describes; `variant` is the name it reports.
pub fn make_with_config(
    config: ScenarioConfig,
    variant: &str,
) -> Result<Box<dyn Scenario>, ScenarioError> {
    Ok(match config {
        ScenarioConfig::Bounce(c) => Box::new(Bounce::new(c, variant)?),
        ScenarioConfig::Push(c) => Box::new(Push::new(c, variant)?),
        ScenarioConfig::CartPole(c) => Box::new(CartPole::new(c, variant)?),
        ScenarioConfig::Reach(c) => Box::new(Reach::new(c, variant)?),
        ScenarioConfig::Occlusion(c) => Box::new(Occlusion::new(c, variant)?),
    })
}

/// Parse config text: JSON when it starts with `{`, TOML otherwise.
pub fn make_from_str(text: &str) -> Result<Box<dyn Scenario>, ScenarioError> {
    let value: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| {
            let field = somnium_files::json_field_at(text, e.line(), e.column())
                .map(|k| format!(" (field `{k}`)"))
                .unwrap_or_default();
            ScenarioError::BadConfig(format!("invalid JSON{field}: {e}"))
        })?
    } else {
        toml::from_str(text).map_err(|e| ScenarioError::BadConfig(format!("invalid TOML: {e}")))?
    };
    make_with_config(ScenarioConfig::from_json(value)?, "custom")
}

/// Build a scenario from a JSON or TOML config file (see the module docs).
pub fn make_from_file(path: impl AsRef<Path>) -> Result<Box<dyn Scenario>, ScenarioError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.display().to_string(),
        source,
    })?;
    make_from_str(&text).map_err(|e| match e {
        ScenarioError::BadConfig(m) => ScenarioError::BadConfig(format!("{}: {m}", path.display())),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SCENARIO_IDS;

    #[test]
    fn toml_and_json_round_trip_every_preset() {
        let dir = tempfile::tempdir().unwrap();
        for id in SCENARIO_IDS {
            for &variant in variants(id) {
                let cfg = ScenarioConfig::preset(id, variant).unwrap();
                let json = dir.path().join(format!("{id}-{variant}.json"));
                std::fs::write(&json, cfg.to_json().to_string()).unwrap();
                let s = make_from_file(&json).unwrap();
                assert_eq!(s.id(), *id);
                assert_eq!(ScenarioConfig::from_json(cfg.to_json()).unwrap(), cfg);
                let toml_path = dir.path().join(format!("{id}-{variant}.toml"));
                std::fs::write(&toml_path, cfg.to_toml().unwrap()).unwrap();
                let s = make_from_file(&toml_path).unwrap();
                let mut expected = cfg.to_json();
                expected.as_object_mut().unwrap().remove("scenario");
                assert_eq!(s.config_json(), expected, "{id} {variant}");
            }
        }
    }

    #[test]
    fn a_toml_file_overrides_a_preset() {
        let s =
            make_from_str("scenario = \"bounce-v0\"\nvariant = \"ood\"\nmax_episode_steps = 42\n")
                .unwrap();
        assert_eq!(s.max_episode_steps(), Some(42));
        assert_eq!(s.config_json()["restitution"], serde_json::json!(0.9f32));
        assert_eq!(s.variant(), "custom");
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let err = |t: &str| {
            make_from_str(t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err("max_episode_steps = 3").contains("missing 'scenario'"));
        assert!(err("scenario = \"nope-v0\"").contains("unknown scenario 'nope-v0'"));
        assert!(err("scenario = \"bounce-v0\"\nbal_radius = 0.1").contains("bal_radius"));
        assert!(err("scenario = \"bounce-v0\"\nball_radius = -1.0").contains("ball_radius"));
        assert!(err("{ not json").contains("invalid JSON"));
        assert!(err("scenario = ").contains("invalid TOML"));
        assert!(
            err("scenario = \"push-v0\"\nvariant = \"hard\"").contains("unknown variant 'hard'")
        );
        let missing = make_from_file("/nonexistent/dir/cfg.toml")
            .err()
            .unwrap()
            .to_string();
        assert!(missing.contains("/nonexistent/dir/cfg.toml"));
    }
}
