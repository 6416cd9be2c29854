//! Claiming an output path for one kind of output before anything is written.
//!
//! A directory is granted when it is missing (it is created), empty, or already
//! holds the same kind of output, recognised by a marker file that only that
//! kind writes (a rollout's `rollout.json`, a dataset's `manifest.json`...).
//! A file path is granted when it is missing or already holds that kind of file
//! (recognised by its leading bytes). Everything else is refused, naming what
//! was found, so `--out ~/thesis` can never cost a user their files.

use std::path::Path;

use crate::FileError;

/// A file whose presence shows that a directory holds an output of some kind.
#[derive(Clone, Copy, Debug)]
pub struct Marker {
    /// Path relative to the output directory, e.g. `rollout.json` or `ckpt/config.json`.
    pub file: &'static str,
    /// A top-level key the file must hold as a JSON object (`None`: presence suffices).
    pub json_key: Option<&'static str>,
}

/// One kind of output a command writes.
#[derive(Clone, Copy, Debug)]
pub struct OutputKind {
    /// What it is called in messages, e.g. `rollout`.
    pub name: &'static str,
    /// Any one of these marks a directory as holding this kind.
    pub markers: &'static [Marker],
    /// For single-file outputs: the bytes such a file starts with (e.g. `GIF8`).
    pub magic: &'static [u8],
}

const fn plain(file: &'static str) -> Marker {
    Marker {
        file,
        json_key: None,
    }
}

impl OutputKind {
    /// `somnium dream`: `rollout.json` + `rollout.safetensors` (docs/rollout.md).
    pub const ROLLOUT: OutputKind = OutputKind {
        name: "rollout",
        markers: &[Marker {
            file: "rollout.json",
            json_key: Some("format"),
        }],
        magic: b"",
    };
    /// `somnium record`: a dataset's `manifest.json` and shards.
    pub const DATASET: OutputKind = OutputKind {
        name: "dataset",
        markers: &[Marker {
            file: "manifest.json",
            json_key: Some("shards"),
        }],
        magic: b"",
    };
    /// `somnium train`: a run directory with `ckpt/` and `metrics.jsonl`.
    pub const TRAINING_RUN: OutputKind = OutputKind {
        name: "training run",
        markers: &[
            Marker {
                file: "ckpt/config.json",
                json_key: Some("model_config"),
            },
            plain("metrics.jsonl"),
        ],
        magic: b"",
    };
    /// `somnium export`: a model directory (`config.json` + `model.safetensors`).
    pub const MODEL: OutputKind = OutputKind {
        name: "model",
        markers: &[Marker {
            file: "config.json",
            json_key: Some("model_config"),
        }],
        magic: b"",
    };
    /// `somnium train-codec`: `codec.json` + `codec.safetensors`.
    pub const CODEC: OutputKind = OutputKind {
        name: "codec",
        markers: &[plain("codec.json")],
        magic: b"",
    };
    /// `somnium eval`, `demo`, `eval-agent`: `report.json`, `report.md`, plots, GIFs.
    pub const REPORT: OutputKind = OutputKind {
        name: "report",
        markers: &[plain("report.json")],
        magic: b"",
    };
    /// `somnium benchmark export`: `tasks.json` + `tasks.safetensors` (docs/benchmark.md).
    pub const BENCHMARK_TASKS: OutputKind = OutputKind {
        name: "benchmark task set",
        markers: &[Marker {
            file: "tasks.json",
            json_key: Some("format"),
        }],
        magic: b"",
    };
    /// `somnium benchmark compare`: `comparison.json` + `comparison.md`.
    pub const COMPARISON: OutputKind = OutputKind {
        name: "model comparison",
        markers: &[Marker {
            file: "comparison.json",
            json_key: Some("arms"),
        }],
        magic: b"",
    };
    /// `somnium train-agent`: `ppo_config.json`, the agent, its metrics.
    pub const AGENT_RUN: OutputKind = OutputKind {
        name: "agent run",
        markers: &[plain("ppo_config.json"), plain("agent.json")],
        magic: b"",
    };
    /// `somnium render`: one GIF file.
    pub const GIF: OutputKind = OutputKind {
        name: "GIF",
        markers: &[],
        magic: b"GIF8",
    };
}

/// What [`claim_dir`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The directory did not exist and was created.
    Created,
    /// It existed and was empty.
    Empty,
    /// It already holds this kind of output; its files may be replaced.
    Existing,
}

fn holds_marker(dir: &Path, marker: &Marker) -> bool {
    let path = dir.join(marker.file);
    if !path.is_file() {
        return false;
    }
    let Some(key) = marker.json_key else {
        return true;
    };
    std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get(key).is_some())
}

/// Claims `dir` for an output of `kind`: creates it if missing; grants it if
/// empty or already holding `kind`; refuses anything else, naming what is there.
pub fn claim_dir(dir: &Path, kind: &OutputKind) -> Result<Claim, FileError> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| FileError::io(dir, e))?;
            return Ok(Claim::Created);
        }
        Err(e) => return Err(FileError::io(dir, e)),
        Ok(m) if !m.is_dir() => {
            return Err(FileError::NotADirectory {
                path: dir.to_path_buf(),
                kind: kind.name,
            })
        }
        Ok(_) => {}
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| FileError::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        return Ok(Claim::Empty);
    }
    if kind.markers.iter().any(|m| holds_marker(dir, m)) {
        return Ok(Claim::Existing);
    }
    names.sort();
    let shown = names.len().min(5);
    let mut found = names[..shown].join(", ");
    if names.len() > shown {
        found.push_str(&format!(" and {} more", names.len() - shown));
    }
    Err(FileError::Foreign {
        path: dir.to_path_buf(),
        kind: kind.name,
        found,
    })
}

/// Claims the file `path` for an output of `kind`: granted if missing (its
/// parent directory is created) or already that kind of file; refused if it is
/// a directory or another kind of file. Returns whether it existed.
pub fn claim_file(path: &Path, kind: &OutputKind) -> Result<bool, FileError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| FileError::io(parent, e))?;
            }
            Ok(false)
        }
        Err(e) => Err(FileError::io(path, e)),
        Ok(m) if m.is_dir() => Err(FileError::NotAFile {
            path: path.to_path_buf(),
            kind: kind.name,
        }),
        Ok(_) => {
            let bytes = std::fs::read(path).map_err(|e| FileError::io(path, e))?;
            if !kind.magic.is_empty() && bytes.starts_with(kind.magic) {
                Ok(true)
            } else {
                Err(FileError::ForeignFile {
                    path: path.to_path_buf(),
                    kind: kind.name,
                    why: format!("{} bytes of something else", bytes.len()),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_created_and_an_empty_one_granted() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("b");
        assert_eq!(
            claim_dir(&dir, &OutputKind::ROLLOUT).unwrap(),
            Claim::Created
        );
        assert!(dir.is_dir());
        assert_eq!(claim_dir(&dir, &OutputKind::ROLLOUT).unwrap(), Claim::Empty);
    }

    #[test]
    fn a_directory_of_someone_elses_files_is_refused_naming_them() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("thesis.txt"), b"years of work").unwrap();
        let e = claim_dir(root.path(), &OutputKind::ROLLOUT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("thesis.txt") && e.contains("rollout"), "{e}");
        assert_eq!(
            std::fs::read(root.path().join("thesis.txt")).unwrap(),
            b"years of work"
        );
    }

    #[test]
    fn a_directory_holding_the_same_kind_is_granted_and_another_kind_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("rollout.json"),
            br#"{"format":"somnium-rollout"}"#,
        )
        .unwrap();
        std::fs::write(root.path().join("notes.txt"), b"mine").unwrap();
        assert_eq!(
            claim_dir(root.path(), &OutputKind::ROLLOUT).unwrap(),
            Claim::Existing
        );
        assert!(claim_dir(root.path(), &OutputKind::DATASET).is_err());
    }

    #[test]
    fn a_marker_that_is_not_the_expected_json_does_not_count() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("config.json"), br#"{"editor":"vim"}"#).unwrap();
        assert!(claim_dir(root.path(), &OutputKind::MODEL).is_err());
        std::fs::write(root.path().join("config.json"), br#"{"model_config":{}}"#).unwrap();
        assert_eq!(
            claim_dir(root.path(), &OutputKind::MODEL).unwrap(),
            Claim::Existing
        );
    }

    #[test]
    fn a_file_given_as_a_directory_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        let e = claim_dir(&f, &OutputKind::REPORT).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
    }

    #[test]
    fn a_file_output_replaces_only_its_own_kind() {
        let root = tempfile::tempdir().unwrap();
        let gif = root.path().join("sub").join("a.gif");
        assert!(!claim_file(&gif, &OutputKind::GIF).unwrap());
        std::fs::write(&gif, b"GIF89a...").unwrap();
        assert!(claim_file(&gif, &OutputKind::GIF).unwrap());
        let essay = root.path().join("essay.gif");
        std::fs::write(&essay, b"not a gif").unwrap();
        let e = claim_file(&essay, &OutputKind::GIF)
            .unwrap_err()
            .to_string();
        assert!(e.contains("essay.gif") && e.contains("GIF"), "{e}");
        assert!(claim_file(root.path(), &OutputKind::GIF).is_err());
    }
}
