//! Settings files: a JSON object whose fields override a config's defaults.
//!
//! `train --config` (model settings) and `train-agent --config` (PPO settings)
//! both read one; a field the config does not have is refused by name, with the
//! known fields listed, so a misspelt setting never goes silently unused.

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
    let over: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    overlay_value(base, over, &path.display().to_string(), what)
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
    serde_json::from_value(merged).with_context(|| format!("{what} in {source}"))
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
    fn a_non_object_and_a_wrong_type_are_refused() {
        let e = overlay_value(&BASE, serde_json::json!([1]), "f.json", "PPO").unwrap_err();
        assert!(e.to_string().contains("JSON object"), "{e}");
        let e = overlay_value(&BASE, serde_json::json!({"steps": "x"}), "f.json", "PPO");
        assert!(format!("{:#}", e.unwrap_err()).contains("f.json"));
    }
}
