//! Settings files: a JSON object (or a TOML table, for a `.toml` file) whose
//! fields override a config's defaults.
//!
//! `train --config` (model settings) and `train-agent --config` (PPO settings)
//! both read one; a field the config does not have is refused by name, with the
//! known fields listed, so a misspelt setting never goes silently unused. A
//! value of the wrong type, and a JSON syntax error, are reported with the field
//! they belong to.

use std::path::Path;

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// `base` with the fields of the JSON object in `path` put over it.
/// `what` names the settings in errors (e.g. "model config").
pub fn overlay<T: Serialize + DeserializeOwned>(
    base: &T,
    path: &Path,
    what: &str,
) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let over = parse_settings(&text, path)?;
    overlay_value(base, over, &path.display().to_string(), what)
}

/// The settings in `text`: TOML for a `.toml` file, JSON otherwise.
fn parse_settings(text: &str, path: &Path) -> anyhow::Result<serde_json::Value> {
    if path.extension().is_some_and(|e| e == "toml") {
        let table: toml::Table =
            toml::from_str(text).with_context(|| format!("parsing {}", path.display()))?;
        return serde_json::to_value(table).with_context(|| format!("reading {}", path.display()));
    }
    serde_json::from_str(text).map_err(|e| {
        let field = somnium_files::json_field_at(text, e.line(), e.column())
            .map(|k| format!(" (field `{k}`)"))
            .unwrap_or_default();
        anyhow::anyhow!("parsing {}{field}: {e}", path.display())
    })
}

fn overlay_value<T: Serialize + DeserializeOwned>(
    base: &T,
    over: serde_json::Value,
    source: &str,
    what: &str,
) -> anyhow::Result<T> {
    let mut merged = serde_json::to_value(base)?;
    let (Some(b), Some(o)) = (merged.as_object_mut(), over.as_object()) else {
        bail!("{source} must hold a JSON object of {what} fields");
    };
    for (k, v) in o {
        if !b.contains_key(k) {
            let known: Vec<&String> = b.keys().collect();
            bail!("{source}: unknown {what} field `{k}` (known: {known:?})");
        }
        b.insert(k.clone(), v.clone());
    }
    serde_path_to_error::deserialize(merged)
        .map_err(|e| anyhow::anyhow!("{what} in {source}: field `{}`: {}", e.path(), e.inner()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Settings {
        lr: f64,
        steps: u32,
    }

    const BASE: Settings = Settings { lr: 1e-3, steps: 8 };

    #[test]
    fn named_fields_override_and_the_rest_keep_their_defaults() {
        let got = overlay_value(&BASE, serde_json::json!({"steps": 16}), "f.json", "PPO").unwrap();
        assert_eq!(
            got,
            Settings {
                lr: 1e-3,
                steps: 16
            }
        );
    }

    #[test]
    fn an_unknown_field_is_refused_by_name_with_the_known_ones() {
        let e = overlay_value(
            &BASE,
            serde_json::json!({"learning_rat": 0.1}),
            "f.json",
            "PPO",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("learning_rat") && e.contains("\"lr\""), "{e}");
    }

    #[test]
    fn a_nan_in_json_is_refused_naming_its_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{\"steps\": 4, \"lr\": NaN}").unwrap();
        let e = overlay(&BASE, &path, "PPO").unwrap_err().to_string();
        assert!(e.contains("`lr`"), "{e}");
    }

    #[test]
    fn a_toml_file_overrides_like_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "steps = 16\n").unwrap();
        assert_eq!(overlay(&BASE, &path, "PPO").unwrap().steps, 16);
        std::fs::write(&path, "steps = -1\n").unwrap();
        let e = overlay(&BASE, &path, "PPO").unwrap_err().to_string();
        assert!(e.contains("`steps`"), "{e}");
    }

    #[test]
    fn a_non_object_and_a_wrong_type_are_refused() {
        let e = overlay_value(&BASE, serde_json::json!([1]), "f.json", "PPO").unwrap_err();
        assert!(e.to_string().contains("JSON object"), "{e}");
        let e = overlay_value(&BASE, serde_json::json!({"steps": "x"}), "f.json", "PPO");
        assert!(format!("{:#}", e.unwrap_err()).contains("f.json"));
    }
}
