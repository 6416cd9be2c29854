//! [`DatasetWriter`]: appends episodes to a dataset directory, one atomic shard
//! every `episodes_per_shard` episodes, and resumes an interrupted recording.

use std::path::{Path, PathBuf};

use super::manifest::{first_difference, normalized, shard_file_name};
use super::shard::{decode_shard, encode_shard, validate_episode};
use super::MANIFEST_FILE;
use super::{fnv1a64, write_atomic, DataError, DatasetManifest, DatasetSpec, Episode, ShardEntry};

/// Writes episodes into a dataset directory.
///
/// Each shard is written to a temporary file and renamed into place, then the
/// manifest (listing every complete shard) is rewritten the same way, so an
/// interrupted recording keeps every finished shard. Episodes pushed since the
/// last shard are lost if the writer is dropped without [`DatasetWriter::finish`].
///
/// Opening a directory that already holds a dataset with the same spec resumes
/// it: leftover temporary files and unlisted shard files are removed, and a short
/// last shard (from an earlier `finish`) is taken back into the pending episodes
/// so the finished dataset has the same layout as an uninterrupted recording.
/// A dataset with a different spec is refused with [`DataError::ManifestMismatch`].
pub struct DatasetWriter {
    dir: PathBuf,
    manifest: DatasetManifest,
    pending: Vec<Episode>,
}

impl DatasetWriter {
    /// Create a dataset in `dir` (created if needed) or resume the one there.
    pub fn open(dir: impl AsRef<Path>, spec: DatasetSpec) -> Result<Self, DataError> {
        let dir = dir.as_ref().to_path_buf();
        spec.validate().map_err(DataError::BadSpec)?;
        let spec = normalized(&spec)?;
        std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;

        let manifest_path = dir.join(MANIFEST_FILE);
        let mut manifest = if manifest_path.exists() {
            let on_disk = DatasetManifest::load(&dir)?;
            if on_disk.spec != spec {
                let (field, on_disk, requested) = first_difference(&on_disk.spec, &spec)
                    .unwrap_or_else(|| ("spec".into(), "?".into(), "?".into()));
                return Err(DataError::ManifestMismatch {
                    dir: dir.display().to_string(),
                    field,
                    on_disk,
                    requested,
                });
            }
            on_disk
        } else {
            DatasetManifest::new(spec)
        };
        remove_leftovers(&dir, &manifest)?;

        let mut pending = Vec::new();
        let short_last = manifest
            .shards
            .last()
            .is_some_and(|s| s.episodes < manifest.spec.episodes_per_shard);
        if short_last {
            if let Some(entry) = manifest.shards.last().cloned() {
                pending = read_verified(&dir, &manifest.spec, &entry)?;
                manifest.pop_shard();
            }
        }
        for entry in &manifest.shards {
            let path = dir.join(&entry.file);
            if !path.is_file() {
                return Err(DataError::MissingShard {
                    shard: entry.file.clone(),
                    path: path.display().to_string(),
                });
            }
        }
        manifest.save(&dir)?;
        Ok(DatasetWriter {
            dir,
            manifest,
            pending,
        })
    }

    /// The dataset directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest as written so far (complete shards only).
    pub fn manifest(&self) -> &DatasetManifest {
        &self.manifest
    }

    /// Episodes in complete shards plus episodes pushed since: the index the next
    /// pushed episode gets.
    pub fn episodes_written(&self) -> usize {
        self.manifest.total_episodes + self.pending.len()
    }

    /// Append an episode; writes a shard when `episodes_per_shard` are pending.
    pub fn push(&mut self, episode: Episode) -> Result<(), DataError> {
        validate_episode(&self.manifest.spec, &episode).map_err(|(field, reason)| {
            DataError::BadEpisode {
                shard: shard_file_name(self.manifest.shards.len()),
                episode: self.episodes_written(),
                field,
                reason,
            }
        })?;
        self.pending.push(episode);
        if self.pending.len() >= self.manifest.spec.episodes_per_shard {
            self.flush()?;
        }
        Ok(())
    }

    /// Write the pending episodes (if any) as a shard, then the manifest.
    pub fn flush(&mut self) -> Result<(), DataError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let file = shard_file_name(self.manifest.shards.len());
        let bytes = encode_shard(&self.manifest.spec, &self.pending)?;
        write_atomic(&self.dir.join(&file), &bytes)?;
        self.manifest.push_shard(ShardEntry {
            file,
            first_episode: self.manifest.total_episodes,
            episodes: self.pending.len(),
            steps: self.pending.iter().map(Episode::len).sum(),
            fnv1a64: format!("{:016x}", fnv1a64(&bytes)),
        });
        self.manifest.save(&self.dir)?;
        self.pending.clear();
        Ok(())
    }

    /// Write the last (possibly short) shard and return the final manifest.
    pub fn finish(mut self) -> Result<DatasetManifest, DataError> {
        self.flush()?;
        Ok(self.manifest)
    }
}

/// Read a shard listed in the manifest, check its checksum and decode it.
pub(crate) fn read_verified(
    dir: &Path,
    spec: &DatasetSpec,
    entry: &ShardEntry,
) -> Result<Vec<Episode>, DataError> {
    let path = dir.join(&entry.file);
    if !path.is_file() {
        return Err(DataError::MissingShard {
            shard: entry.file.clone(),
            path: path.display().to_string(),
        });
    }
    let bytes = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
    let actual = fnv1a64(&bytes);
    let expected = entry.checksum().unwrap_or(0);
    if actual != expected {
        return Err(DataError::ChecksumMismatch {
            shard: entry.file.clone(),
            expected,
            actual,
        });
    }
    decode_shard(spec, entry, &bytes)
}

/// Remove temporary files of an interrupted write and shard files the manifest
/// does not list. Only files named like this writer's files are touched.
fn remove_leftovers(dir: &Path, manifest: &DatasetManifest) -> Result<(), DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let base = somnium_files::temp_target(&name);
        let ours = |n: &str| n == MANIFEST_FILE || is_shard_name(n);
        let remove = match base {
            Some(base) => ours(base),
            None => is_shard_name(&name) && !manifest.shards.iter().any(|s| s.file == name),
        };
        if remove {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| DataError::io(&path, e))?;
        }
    }
    Ok(())
}

/// Whether `name` looks like `shard-00000.safetensors`.
fn is_shard_name(name: &str) -> bool {
    name.strip_prefix("shard-")
        .and_then(|rest| rest.strip_suffix(".safetensors"))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}
