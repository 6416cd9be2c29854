//! The server's models directory (`--models-dir`, `models/` by default): the
//! only place a CreateWorld `model` setting may name a model in.
//!
//! The rule: `model` is a path relative to the models directory, in `/`
//! separated components. A first component equal to the directory's own name
//! may be left in, so with `--models-dir models` both `bounce` and
//! `models/bounce` (as in the env string `dream:bounce-v0@models/bounce`) mean
//! `models/bounce`. Refused, all with the same [`ServerError::UnknownModel`]
//! error that echoes only what the client sent: absolute paths, `..`, anything
//! that, with symlinks followed, leaves the directory or is the directory
//! itself, and names that hold no model checkpoint. Whatever exists, a
//! refusal's text is the same, so it tells nothing about the server's files.
//! A model inside the directory that fails to load is named in the error by the
//! client's name, with `<models-dir>` for the directory's server path. The
//! resolved path is canonical (symlinks followed), so two names of one model
//! share one load (see [`super::ModelCache`]).

use std::path::{Component, Path, PathBuf};

use super::settings::{Backend, WorldSettings};
use super::ServerError;
use crate::dream::checkpoint_dir;

/// Longest `model` setting accepted (in bytes).
pub const MAX_MODEL_NAME: usize = 1024;

/// What `<models-dir>` stands for in errors sent to clients.
const SHOWN_ROOT: &str = "<models-dir>";

/// The directory dream worlds' models are loaded from.
#[derive(Clone, Debug)]
pub(crate) struct ModelsDir {
    root: PathBuf,
}

impl ModelsDir {
    pub fn new(root: PathBuf) -> Self {
        ModelsDir { root }
    }

    /// Replace a dream world's `model` with its canonical path inside the
    /// directory (see the module docs); other settings pass unchanged.
    pub fn resolve_settings(&self, settings: WorldSettings) -> Result<WorldSettings, ServerError> {
        match &settings.backend {
            Backend::Physics => Ok(settings),
            Backend::Dream { model } => {
                let model = self.resolve(&model.to_string_lossy())?;
                Ok(WorldSettings {
                    backend: Backend::Dream { model },
                    ..settings
                })
            }
        }
    }

    /// The canonical checkpoint directory `name` stands for.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, ServerError> {
        let unknown = || ServerError::UnknownModel(shown_name(name));
        if name.is_empty() || name.len() > MAX_MODEL_NAME || name.contains('\0') {
            return Err(unknown());
        }
        let relative = Path::new(name);
        let lexically_inside = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !lexically_inside {
            return Err(unknown());
        }
        let root = self.root.canonicalize().map_err(|_| unknown())?;
        for candidate in self.candidates(relative) {
            let Ok(path) = root.join(candidate).canonicalize() else {
                continue;
            };
            if !strictly_inside(&path, &root) {
                continue;
            }
            // the checkpoint directory itself, links followed (`ckpt/` may be one)
            let dir = checkpoint_dir(&path)
                .ok()
                .and_then(|d| d.canonicalize().ok());
            match dir {
                Some(dir) if strictly_inside(&dir, &root) => return Ok(dir),
                _ => continue,
            }
        }
        Err(unknown())
    }

    /// `relative` as given, then without a first component that repeats the
    /// directory's own name.
    fn candidates(&self, relative: &Path) -> Vec<PathBuf> {
        let mut out = vec![relative.to_path_buf()];
        let own_name = self.root.components().rev().find_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        });
        let mut parts = relative.components().filter(|c| *c != Component::CurDir);
        if let (Some(own), Some(Component::Normal(first))) = (own_name, parts.next()) {
            let rest: PathBuf = parts.collect();
            if first == own && !rest.as_os_str().is_empty() {
                out.push(rest);
            }
        }
        out
    }

    /// An error from building a world of this directory's model, with every
    /// mention of the directory's server path replaced by `<models-dir>`.
    pub fn scrub(&self, error: ServerError, name: &str) -> ServerError {
        let message = error.to_string();
        // models are loaded from canonical paths; an absolute --models-dir may
        // show as given too (a relative one is not a server path to hide)
        let mut roots: Vec<String> = self
            .root
            .canonicalize()
            .into_iter()
            .chain(Some(self.root.clone()).filter(|r| r.is_absolute()))
            .map(|r| r.display().to_string())
            .collect();
        roots.dedup();
        let leaks = roots
            .iter()
            .any(|r| !r.is_empty() && message.contains(r.as_str()));
        if !leaks {
            return error;
        }
        let scrubbed = roots
            .iter()
            .filter(|r| !r.is_empty())
            .fold(message, |m, r| m.replace(r.as_str(), SHOWN_ROOT));
        ServerError::BadModel {
            model: shown_name(name),
            reason: scrubbed,
        }
    }
}

fn strictly_inside(path: &Path, root: &Path) -> bool {
    path != root && path.starts_with(root)
}

/// The client's name for a model, cut to a readable length for errors.
fn shown_name(name: &str) -> String {
    const SHOWN: usize = 200;
    if name.len() <= SHOWN {
        return name.to_string();
    }
    let mut end = SHOWN;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &name[..end])
}

#[cfg(test)]
mod tests {
    use super::super::test_support::tiny_models_dir;
    use super::*;

    fn refused(dir: &ModelsDir, name: &str) -> String {
        match dir.resolve(name) {
            Err(e @ ServerError::UnknownModel(_)) => e.to_string(),
            other => panic!("'{name}' was not refused: {other:?}"),
        }
    }

    #[test]
    fn names_resolve_inside_the_directory_with_or_without_its_own_name() {
        let models = tiny_models_dir();
        let dir = ModelsDir::new(models.path().join("models"));
        let canonical = models.path().join("models/tiny").canonicalize().unwrap();
        for name in ["tiny", "models/tiny", "./tiny", "tiny/", "tiny/config.json"] {
            let got = dir.resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, canonical, "{name}");
        }
        // a link inside the directory to a model inside it is fine
        std::os::unix::fs::symlink(&canonical, models.path().join("models/alias")).unwrap();
        assert_eq!(dir.resolve("alias").unwrap(), canonical);
    }

    #[test]
    fn paths_outside_missing_models_and_escapes_get_one_error_that_leaks_nothing() {
        let models = tiny_models_dir();
        let root = models.path().join("models");
        let dir = ModelsDir::new(root.clone());
        // a real model outside the directory, reachable by `..`, a link and an absolute path
        let outside = models.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::rename(root.join("other"), outside.join("other")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        let absolute = outside.join("other").display().to_string();
        let names = [
            "../outside/other",
            "tiny/../../outside/other",
            "escape/other",
            absolute.as_str(),
            "/etc/passwd",
            "no-such-model",
            "../no-such-model",
            "empty",
            ".",
            "models",
            "",
            "tiny\0",
        ];
        let server_path = models.path().display().to_string();
        for name in names {
            let message = refused(&dir, name);
            assert_eq!(
                message,
                ServerError::UnknownModel(name.to_string()).to_string(),
                "{name}: the text must not depend on what exists"
            );
            if !name.starts_with(&server_path) {
                assert!(!message.contains(&server_path), "{message}");
            }
        }
        let long = "x".repeat(5000);
        assert!(refused(&dir, &long).len() < 400);
    }

    #[test]
    fn a_missing_models_directory_refuses_every_model_alike() {
        let dir = ModelsDir::new(PathBuf::from("/nonexistent/somnium/models"));
        assert_eq!(
            refused(&dir, "bounce"),
            ServerError::UnknownModel("bounce".into()).to_string()
        );
    }

    #[test]
    fn load_errors_name_the_directory_not_its_server_path() {
        let models = tiny_models_dir();
        let root = models.path().join("models");
        let dir = ModelsDir::new(root.clone());
        let canonical = root.canonicalize().unwrap();
        let e = ServerError::BadSetting {
            name: "model".into(),
            reason: format!(
                "loading the model in {}/tiny: bad weights",
                canonical.display()
            ),
        };
        let scrubbed = dir.scrub(e, "tiny").to_string();
        assert!(scrubbed.contains("<models-dir>/tiny"), "{scrubbed}");
        assert!(
            !scrubbed.contains(&canonical.display().to_string()),
            "{scrubbed}"
        );
        let other = dir.scrub(ServerError::UnknownScenario("nope-v0".into()), "tiny");
        assert!(matches!(other, ServerError::UnknownScenario(_)));
    }
}
