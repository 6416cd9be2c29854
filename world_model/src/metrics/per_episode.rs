//! Per-episode values of one frame source, for comparing reports episode by
//! episode (the same seeds scored for two models pair up) and for finding the
//! worst and median episodes.

use super::{aggregate, HorizonEvaluator, SUMMARY_STEPS};

impl HorizonEvaluator {
    /// The frame scores of the source or baseline `name`, if it scored anything.
    fn scores_of(&self, name: &str) -> Option<&aggregate::EpisodeScores> {
        self.methods()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, scores, _)| scores)
    }

    /// Per rollout added, the source `name`'s centroid error averaged over its
    /// steps 1 to 32 (misses at the penalty, as in [`super::Summary`]); `None` where it
    /// predicted nothing measurable. Empty for an unknown name.
    pub fn episode_errors(&self, name: &str) -> Vec<Option<f64>> {
        self.scores_of(name)
            .map(|scores| aggregate::episode_errors(scores, SUMMARY_STEPS))
            .unwrap_or_default()
    }

    /// Per rollout added, the source `name`'s kept share over its steps 1 to 32.
    pub fn episode_kept(&self, name: &str) -> Vec<Option<f64>> {
        self.scores_of(name)
            .map(|scores| aggregate::episode_kept(scores, SUMMARY_STEPS))
            .unwrap_or_default()
    }

    /// Per rollout added, the source `name`'s `(centroid error, kept share)` at
    /// each table horizon up to 32 ([`HorizonEvaluator::table_horizons`]).
    pub fn episode_at_horizons(&self, name: &str) -> Vec<Vec<Option<(f64, f64)>>> {
        let horizons = self.table_horizons();
        self.scores_of(name)
            .map(|scores| aggregate::episode_at(scores, &horizons))
            .unwrap_or_default()
    }

    /// The configured horizons up to 32, where per-episode values are kept.
    pub fn table_horizons(&self) -> Vec<usize> {
        self.config
            .horizons
            .iter()
            .copied()
            .filter(|&h| h <= SUMMARY_STEPS)
            .collect()
    }
}
