//! Settings of CreateWorld, JoinWorld, Reset and ResetWorld requests, parsed
//! from dm_env_rpc's `map<string, Tensor>` into typed values. Unknown keys,
//! wrong dtypes and out-of-range values are errors that name the setting.

use std::collections::HashMap;
use std::path::PathBuf;

use super::proto::{tensor, Tensor};
use super::tensor::{dtype_of, payload_len};
use super::ServerError;

/// The keys CreateWorld accepts.
pub const WORLD_SETTING_KEYS: &[&str] = &[
    "scenario", "variant", "seed", "backend", "model", "width", "height",
];

/// Largest frame side a client may ask for (frames are sent every step).
pub const MAX_FRAME_SIDE: usize = 512;

/// What simulates a world.
#[derive(Clone, Debug, PartialEq)]
pub enum Backend {
    /// The rapier3d ground truth ([`crate::PhysicsEnv`]).
    Physics,
    /// A learned world model loaded from `model` (a checkpoint path).
    Dream { model: PathBuf },
}

/// The settings of a CreateWorld request.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldSettings {
    /// Scenario id, e.g. `push-v0` (required).
    pub scenario: String,
    /// Scenario variant: `id` (default), `ood`, or a scenario's own (push-v0: `coarse`).
    pub variant: String,
    /// Seed of the first episode (default 0); later episodes follow the env's seed sequence.
    pub seed: u64,
    /// `physics` (default) or `dream` (then `model` is required).
    pub backend: Backend,
    /// Frame width in pixels: 64 by default for physics; a dream's frames have
    /// the model's size (a different width here is an error).
    pub width: Option<usize>,
    /// Frame height in pixels (as `width`).
    pub height: Option<usize>,
}

impl WorldSettings {
    /// Settings for `scenario` with every default.
    pub fn new(scenario: &str) -> Self {
        WorldSettings {
            scenario: scenario.to_string(),
            variant: "id".into(),
            seed: 0,
            backend: Backend::Physics,
            width: None,
            height: None,
        }
    }

    /// Parse CreateWorld settings.
    pub fn parse(settings: &HashMap<String, Tensor>) -> Result<Self, ServerError> {
        check_keys(settings, WORLD_SETTING_KEYS, "CreateWorld")?;
        let scenario = match settings.get("scenario") {
            Some(t) => string_setting("scenario", t)?,
            None => return Err(ServerError::MissingSetting("scenario".into())),
        };
        let mut out = WorldSettings::new(&scenario);
        if let Some(t) = settings.get("variant") {
            out.variant = string_setting("variant", t)?;
        }
        if let Some(t) = settings.get("seed") {
            out.seed = u64_setting("seed", t)?;
        }
        for (name, field) in [("width", &mut out.width), ("height", &mut out.height)] {
            if let Some(t) = settings.get(name) {
                let v = u64_setting(name, t)?;
                if v == 0 || v > MAX_FRAME_SIDE as u64 {
                    return Err(bad(name, format!("{v} is outside 1..={MAX_FRAME_SIDE}")));
                }
                *field = Some(v as usize);
            }
        }
        let model = settings
            .get("model")
            .map(|t| string_setting("model", t))
            .transpose()?;
        let backend = settings
            .get("backend")
            .map(|t| string_setting("backend", t))
            .transpose()?;
        out.backend = match (backend.as_deref().unwrap_or("physics"), model) {
            ("physics", None) => Backend::Physics,
            ("physics", Some(_)) => {
                return Err(bad("model", "only dream worlds take a model".into()))
            }
            ("dream", Some(m)) => Backend::Dream {
                model: PathBuf::from(m),
            },
            ("dream", None) => {
                return Err(ServerError::MissingSetting(
                    "model (required by backend 'dream')".into(),
                ))
            }
            (other, _) => {
                return Err(bad(
                    "backend",
                    format!("'{other}' is neither 'physics' nor 'dream'"),
                ))
            }
        };
        Ok(out)
    }
}

/// Parse the settings of Reset or ResetWorld: only an optional `seed`.
pub fn parse_seed(
    settings: &HashMap<String, Tensor>,
    request: &'static str,
) -> Result<Option<u64>, ServerError> {
    check_keys(settings, &["seed"], request)?;
    settings
        .get("seed")
        .map(|t| u64_setting("seed", t))
        .transpose()
}

/// JoinWorld takes no settings: every key is unknown.
pub fn check_join_settings(settings: &HashMap<String, Tensor>) -> Result<(), ServerError> {
    check_keys(settings, &[], "JoinWorld")
}

fn bad(name: &str, reason: String) -> ServerError {
    ServerError::BadSetting {
        name: name.to_string(),
        reason,
    }
}

fn check_keys(
    settings: &HashMap<String, Tensor>,
    known: &[&str],
    request: &'static str,
) -> Result<(), ServerError> {
    let mut keys: Vec<&String> = settings.keys().collect();
    keys.sort();
    match keys.into_iter().find(|k| !known.contains(&k.as_str())) {
        Some(name) => Err(ServerError::UnknownSetting {
            name: name.clone(),
            request,
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        }),
        None => Ok(()),
    }
}

fn check_scalar(name: &str, t: &Tensor) -> Result<(), ServerError> {
    if payload_len(t) != 1 || t.shape.iter().any(|&d| d != 1) {
        return Err(bad(
            name,
            format!(
                "expected one value, got {} with shape {:?}",
                payload_len(t),
                t.shape
            ),
        ));
    }
    Ok(())
}

fn string_setting(name: &str, t: &Tensor) -> Result<String, ServerError> {
    check_scalar(name, t)?;
    match &t.payload {
        Some(tensor::Payload::Strings(a)) => Ok(a.array[0].clone()),
        _ => Err(bad(
            name,
            format!("expected a string, got {}", dtype_of(t).as_str_name()),
        )),
    }
}

fn u64_setting(name: &str, t: &Tensor) -> Result<u64, ServerError> {
    check_scalar(name, t)?;
    let signed = |v: i64| u64::try_from(v).map_err(|_| bad(name, format!("{v} is negative")));
    match &t.payload {
        Some(tensor::Payload::Int32s(a)) => signed(a.array[0] as i64),
        Some(tensor::Payload::Int64s(a)) => signed(a.array[0]),
        Some(tensor::Payload::Uint32s(a)) => Ok(a.array[0] as u64),
        Some(tensor::Payload::Uint64s(a)) => Ok(a.array[0]),
        _ => Err(bad(
            name,
            format!("expected an integer, got {}", dtype_of(t).as_str_name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tensor::{float_tensor, int64_scalar, string_scalar};
    use super::*;

    fn map(entries: &[(&str, Tensor)]) -> HashMap<String, Tensor> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn parses_defaults_and_every_setting() {
        let s = WorldSettings::parse(&map(&[("scenario", string_scalar("push-v0"))])).unwrap();
        assert_eq!(s, WorldSettings::new("push-v0"));
        let s = WorldSettings::parse(&map(&[
            ("scenario", string_scalar("bounce-v0")),
            ("variant", string_scalar("ood")),
            ("seed", int64_scalar(9)),
            ("width", int64_scalar(32)),
            ("height", int64_scalar(48)),
            ("backend", string_scalar("dream")),
            ("model", string_scalar("/tmp/m")),
        ]))
        .unwrap();
        assert_eq!(
            (s.variant.as_str(), s.seed, s.width, s.height),
            ("ood", 9, Some(32), Some(48))
        );
        assert_eq!(
            s.backend,
            Backend::Dream {
                model: "/tmp/m".into()
            }
        );
    }

    #[test]
    fn rejects_missing_unknown_and_mistyped_settings() {
        let e = WorldSettings::parse(&HashMap::new()).unwrap_err();
        assert!(matches!(e, ServerError::MissingSetting(ref s) if s == "scenario"));
        let e = WorldSettings::parse(&map(&[
            ("scenario", string_scalar("push-v0")),
            ("colour", int64_scalar(1)),
        ]));
        assert!(e.unwrap_err().to_string().contains("colour"));
        let e = WorldSettings::parse(&map(&[("scenario", int64_scalar(3))])).unwrap_err();
        assert!(e.to_string().contains("expected a string"), "{e}");
        let e = WorldSettings::parse(&map(&[
            ("scenario", string_scalar("push-v0")),
            ("seed", int64_scalar(-1)),
        ]));
        assert!(e.unwrap_err().to_string().contains("negative"));
        let e = WorldSettings::parse(&map(&[
            ("scenario", string_scalar("x")),
            ("width", int64_scalar(100_000)),
        ]));
        assert!(e.unwrap_err().to_string().contains("width"));
        let e = WorldSettings::parse(&map(&[
            ("scenario", string_scalar("x")),
            ("backend", string_scalar("warp")),
        ]));
        assert!(e.unwrap_err().to_string().contains("warp"));
        let e = WorldSettings::parse(&map(&[
            ("scenario", string_scalar("x")),
            ("backend", string_scalar("dream")),
        ]));
        assert!(matches!(e.unwrap_err(), ServerError::MissingSetting(_)));
        let e = WorldSettings::parse(&map(&[
            ("scenario", string_scalar("x")),
            ("seed", float_tensor(vec![1.0], &[])),
        ]));
        assert!(e.unwrap_err().to_string().contains("FLOAT"));
    }

    #[test]
    fn reset_takes_only_a_seed_and_join_nothing() {
        assert_eq!(
            parse_seed(&map(&[("seed", int64_scalar(4))]), "Reset").unwrap(),
            Some(4)
        );
        assert_eq!(parse_seed(&HashMap::new(), "Reset").unwrap(), None);
        assert!(parse_seed(&map(&[("level", int64_scalar(4))]), "Reset").is_err());
        assert!(check_join_settings(&map(&[("agent", int64_scalar(1))])).is_err());
        assert!(check_join_settings(&HashMap::new()).is_ok());
    }
}
