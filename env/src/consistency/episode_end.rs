//! Episode ends: whether the dream ends its episodes when physics does.
//!
//! An agent trained in a dream learns from the dream's predicted terminations as
//! much as from its frames: a model that ends balanced episodes early caps every
//! return, one that never ends them rewards anything. Along the evaluation's
//! lockstep episodes (the same actions in both), this compares the first step
//! physics terminates with the first step the dream predicts termination
//! (probability above one half), each censored at the horizon.

use serde::{Deserialize, Serialize};

/// Steps a dreamed end may miss physics' end by and still count as matched.
pub const MATCH_TOLERANCE_STEPS: usize = 1;

/// How the dream's episode ends compare with physics' on the same episodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeEnds {
    pub episodes: usize,
    /// Dreamed steps per episode: an end later than this is not seen.
    pub horizon: usize,
    /// Episodes physics terminated within the horizon.
    pub physics_ended: usize,
    /// Episodes the dream predicted a termination within the horizon.
    pub dream_ended: usize,
    /// Mean steps to physics' end (the horizon where it did not end).
    pub physics_mean_steps: f64,
    /// Mean steps to the dream's first predicted end (the horizon where none).
    pub dream_mean_steps: f64,
    /// Share of episodes whose ends agree within [`MATCH_TOLERANCE_STEPS`] (both
    /// unseen within the horizon counts as agreeing).
    pub matched_share: f64,
    /// Share where the dream ends more than the tolerance before physics.
    pub dream_early_share: f64,
    /// Share where the dream ends more than the tolerance after physics, or never.
    pub dream_late_share: f64,
}

impl EpisodeEnds {
    /// From each episode's `(physics end, dream end)`, in steps after the context
    /// (1 = the first dreamed step), `None` where it did not end within `horizon`.
    /// `None` when neither ever ended: a scenario without terminations.
    pub fn of(ends: &[(Option<usize>, Option<usize>)], horizon: usize) -> Option<Self> {
        if ends.iter().all(|(p, d)| p.is_none() && d.is_none()) {
            return None;
        }
        let n = ends.len() as f64;
        let at = |e: Option<usize>| e.unwrap_or(horizon).min(horizon);
        let (mut matched, mut early, mut late) = (0usize, 0usize, 0usize);
        for &(p, d) in ends {
            let (p, d) = (at(p), at(d));
            if d + MATCH_TOLERANCE_STEPS < p {
                early += 1;
            } else if p + MATCH_TOLERANCE_STEPS < d {
                late += 1;
            } else {
                matched += 1;
            }
        }
        let mean = |f: fn(&(Option<usize>, Option<usize>)) -> Option<usize>| {
            ends.iter().map(|e| at(f(e)) as f64).sum::<f64>() / n
        };
        Some(Self {
            episodes: ends.len(),
            horizon,
            physics_ended: ends.iter().filter(|(p, _)| p.is_some()).count(),
            dream_ended: ends.iter().filter(|(_, d)| d.is_some()).count(),
            physics_mean_steps: mean(|e| e.0),
            dream_mean_steps: mean(|e| e.1),
            matched_share: matched as f64 / n,
            dream_early_share: early as f64 / n,
            dream_late_share: late as f64 / n,
        })
    }

    /// The Markdown section of the consistency report.
    pub fn to_markdown(&self) -> String {
        let pct = |x: f64| format!("{:.0}%", 100.0 * x);
        format!(
            "\n## Episode ends\n\nThe same actions in both; the dream ends where its predicted \
             termination probability first exceeds one half. Steps are counted after the \
             context and censored at {} steps.\n\n\
             | | physics | dream |\n|---|---:|---:|\n\
             | episodes ended | {} of {} | {} of {} |\n\
             | mean steps to the end | {:.1} | {:.1} |\n\n\
             Ends within {} step: {}; dream ends earlier: {}; later or never: {}.\n",
            self.horizon,
            self.physics_ended,
            self.episodes,
            self.dream_ended,
            self.episodes,
            self.physics_mean_steps,
            self.dream_mean_steps,
            MATCH_TOLERANCE_STEPS,
            pct(self.matched_share),
            pct(self.dream_early_share),
            pct(self.dream_late_share),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_without_terminations_has_no_section() {
        assert_eq!(EpisodeEnds::of(&[(None, None), (None, None)], 32), None);
    }

    #[test]
    fn early_late_and_matched_ends_are_told_apart() {
        // physics ends at 10 in all; the dream at 3 (early), 11 (matched), never (late),
        // and one episode where neither ends within the horizon (matched)
        let ends = [
            (Some(10), Some(3)),
            (Some(10), Some(11)),
            (Some(10), None),
            (None, None),
        ];
        let e = EpisodeEnds::of(&ends, 20).unwrap();
        assert_eq!((e.physics_ended, e.dream_ended), (3, 2));
        assert_eq!(e.matched_share, 0.5);
        assert_eq!(e.dream_early_share, 0.25);
        assert_eq!(e.dream_late_share, 0.25);
        assert!((e.physics_mean_steps - 12.5).abs() < 1e-9);
        assert!((e.dream_mean_steps - (3.0 + 11.0 + 20.0 + 20.0) / 4.0).abs() < 1e-9);
        assert!(e
            .to_markdown()
            .contains("| episodes ended | 3 of 4 | 2 of 4 |"));
    }
}
