//! Files that must not be lost, for every somnium crate.
//!
//! - [`write_atomic`]: a file is written to a temporary name in its directory,
//!   flushed to disk and renamed into place, so a reader sees the old bytes or
//!   the new ones, never a torn file.
//! - [`claim_dir`] / [`claim_file`]: before a command writes into `--out`, it
//!   claims the path for one [`OutputKind`]. A missing or empty directory, or one
//!   that already holds that kind of output, is granted; anything else is refused
//!   with an error naming what is there. No somnium command deletes or
//!   overwrites a file it did not write.
//! - [`json_field_at`]: the field a JSON syntax error in a settings file
//!   belongs to, so the error can name it.

mod json_field;
mod out_dir;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use json_field::json_field_at;
pub use out_dir::{claim_dir, claim_file, Claim, Marker, OutputKind};

/// Why a file could not be written, or an output path could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is a file, not a directory: give a directory for the {kind}")]
    NotADirectory { path: PathBuf, kind: &'static str },
    #[error("{path} is a directory: give a file name for the {kind}")]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error(
        "{path} is not empty and holds no {kind} (it has {found}): \
         give a new or empty directory; somnium never deletes or overwrites files it did not write"
    )]
    Foreign {
        path: PathBuf,
        kind: &'static str,
        found: String,
    },
    #[error(
        "{path} exists and is not a {kind} ({why}): \
         give a new file name; somnium never overwrites files it did not write"
    )]
    ForeignFile {
        path: PathBuf,
        kind: &'static str,
        why: String,
    },
}

impl FileError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FileError::Io {
            path: path.into(),
            source,
        }
    }

    /// The path and an `io::Error` carrying the reason, for crates whose error
    /// enums wrap I/O failures by path.
    pub fn into_io(self) -> (PathBuf, std::io::Error) {
        match self {
            FileError::Io { path, source } => (path, source),
            FileError::NotADirectory { ref path, .. }
            | FileError::NotAFile { ref path, .. }
            | FileError::Foreign { ref path, .. }
            | FileError::ForeignFile { ref path, .. } => {
                (path.clone(), std::io::Error::other(self.to_string()))
            }
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory
/// (readable like any file the user writes), flushed, then renamed over `path`.
/// An interrupted write leaves `path` as it was (and at most a `.*.tmp` file).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{name}.");
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| FileError::io(dir, e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| FileError::io(tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| FileError::io(path, e.error))?;
    sync_dir(dir);
    Ok(())
}

/// The name a leftover temporary file of an interrupted [`write_atomic`] was
/// to become: `.NAME.XXXXXX.tmp` gives `NAME` (the older `NAME.tmp` form too).
/// Writers that clean up after a crash remove only temporaries of their own files.
pub fn temp_target(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(".tmp")?;
    match stem.strip_prefix('.') {
        Some(hidden) => hidden.rsplit_once('.').map(|(target, _)| target),
        None => Some(stem),
    }
}

/// Makes renames in `dir` durable; not every platform can sync a directory.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only report.json: {names:?}");
    }

    #[test]
    fn a_leftover_temporary_names_the_file_it_was_to_become() {
        assert_eq!(
            temp_target(".manifest.json.a1B2c3.tmp"),
            Some("manifest.json")
        );
        assert_eq!(
            temp_target("shard-00001.safetensors.tmp"),
            Some("shard-00001.safetensors")
        );
        assert_eq!(temp_target("shard-00001.safetensors"), None);
    }

    #[test]
    fn a_write_into_a_missing_directory_fails_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("x.json");
        let e = write_atomic(&path, b"x").unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }
}
