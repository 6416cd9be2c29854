//! [`DatasetReader`]: opens a dataset directory, validates its manifest and
//! shards, and loads episodes.

use std::path::{Path, PathBuf};

use super::writer::read_verified;
use super::{DataError, DatasetManifest, DatasetSpec, Episode};

/// Reads a dataset written by [`super::DatasetWriter`].
///
/// `open` validates the manifest and checks every listed shard file exists;
/// loading a shard verifies its checksum and every tensor's name, dtype and shape
/// against the manifest, so a corrupt or mismatched file is refused with a
/// [`DataError`] naming the shard, episode and field.
#[derive(Clone, Debug)]
pub struct DatasetReader {
    dir: PathBuf,
    manifest: DatasetManifest,
}

impl DatasetReader {
    /// Open the dataset in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, DataError> {
        let dir = dir.as_ref().to_path_buf();
        let manifest = DatasetManifest::load(&dir)?;
        for entry in &manifest.shards {
            let path = dir.join(&entry.file);
            if !path.is_file() {
                return Err(DataError::MissingShard {
                    shard: entry.file.clone(),
                    path: path.display().to_string(),
                });
            }
        }
        Ok(DatasetReader { dir, manifest })
    }

    /// The dataset directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &DatasetManifest {
        &self.manifest
    }

    /// How the data was recorded (sizes, spaces, colours).
    pub fn spec(&self) -> &DatasetSpec {
        &self.manifest.spec
    }

    /// Number of episodes.
    pub fn len(&self) -> usize {
        self.manifest.total_episodes
    }

    /// Whether the dataset holds no episodes.
    pub fn is_empty(&self) -> bool {
        self.manifest.total_episodes == 0
    }

    /// Number of shards.
    pub fn num_shards(&self) -> usize {
        self.manifest.shards.len()
    }

    /// Load and validate every episode of shard `k`.
    pub fn load_shard(&self, k: usize) -> Result<Vec<Episode>, DataError> {
        let entry = self
            .manifest
            .shards
            .get(k)
            .ok_or_else(|| DataError::BadManifest {
                path: self.dir.join(super::MANIFEST_FILE).display().to_string(),
                reason: format!(
                    "shard index {k} is out of range ({} shards)",
                    self.manifest.shards.len()
                ),
            })?;
        read_verified(&self.dir, &self.manifest.spec, entry)
    }

    /// Load episode `index` (counted over the whole dataset); reads its shard.
    pub fn load_episode(&self, index: usize) -> Result<Episode, DataError> {
        let out_of_range = || DataError::EpisodeOutOfRange {
            index,
            total: self.len(),
        };
        let k = self
            .manifest
            .shards
            .iter()
            .position(|s| index >= s.first_episode && index < s.first_episode + s.episodes)
            .ok_or_else(out_of_range)?;
        let first = self.manifest.shards[k].first_episode;
        self.load_shard(k)?
            .into_iter()
            .nth(index - first)
            .ok_or_else(out_of_range)
    }

    /// Every episode in order, one shard in memory at a time.
    pub fn episodes(&self) -> EpisodeIter<'_> {
        EpisodeIter {
            reader: self,
            next_shard: 0,
            buffer: Vec::new().into_iter(),
            failed: false,
        }
    }

    /// Load every episode into memory (fine for datasets of a few hundred MB).
    pub fn load_all(&self) -> Result<Vec<Episode>, DataError> {
        self.episodes().collect()
    }

    /// Read and validate every shard without keeping the episodes.
    pub fn verify(&self) -> Result<(), DataError> {
        for k in 0..self.num_shards() {
            self.load_shard(k)?;
        }
        Ok(())
    }
}

/// Iterator over a dataset's episodes; yields the first error and then stops.
pub struct EpisodeIter<'a> {
    reader: &'a DatasetReader,
    next_shard: usize,
    buffer: std::vec::IntoIter<Episode>,
    failed: bool,
}

impl Iterator for EpisodeIter<'_> {
    type Item = Result<Episode, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(ep) = self.buffer.next() {
                return Some(Ok(ep));
            }
            if self.next_shard >= self.reader.num_shards() {
                return None;
            }
            match self.reader.load_shard(self.next_shard) {
                Ok(eps) => self.buffer = eps.into_iter(),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
            self.next_shard += 1;
        }
    }
}
