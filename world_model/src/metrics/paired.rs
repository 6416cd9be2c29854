//! Paired comparisons of two predictors scored on the same episodes: bootstrap 95%
//! intervals of the per-episode difference (model minus baseline) and the
//! "beats" verdict.
//!
//! An episode enters a comparison at a horizon when both predictors have a score
//! there. The interval is the 2.5 and 97.5 percentiles of the mean difference over
//! [`BOOTSTRAP_RESAMPLES`] resamples of the episodes (with replacement), drawn from
//! a fixed seed, so the same scores always give the same interval.
//!
//! The verdict ([`verdict`]): the model beats a baseline when
//! 1. its centroid error, averaged per episode over every step 1 to 32, is lower
//!    and the paired interval of the difference lies entirely below zero;
//! 2. its kept share over those steps is not worse: the paired interval of the
//!    kept-share difference does not lie entirely below zero;
//! 3. it is not worse at any reported horizon up to 32: no horizon's error
//!    interval lies entirely above zero;
//! 4. its frames are sharp: the mean sharpness ratio over those steps (around the
//!    tracked objects, see [`super::scoring`]) is within [`SHARP_RANGE`] (a soft
//!    frame has lost gradient energy, a noisy one gained it).

use serde::{Deserialize, Serialize};

/// Bootstrap resamples per interval.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// Sharpness ratios (prediction over truth) that count as sharp.
pub const SHARP_RANGE: (f64, f64) = (0.8, 1.25);

/// A mean with its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// `mean [lo, hi]` with `digits` decimals.
    pub fn show(&self, digits: usize) -> String {
        format!(
            "{:+.d$} [{:+.d$}, {:+.d$}]",
            self.mean,
            self.lo,
            self.hi,
            d = digits
        )
    }
}

/// Model minus baseline at one horizon (or over steps 1 to 32).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedPoint {
    /// The horizon; for the mean over steps, the number of steps.
    pub horizon: usize,
    /// Episodes in the comparison.
    pub episodes: usize,
    /// Centroid error difference, pixels (below zero: the model is closer).
    pub error_diff_px: Option<Interval>,
    /// Kept-share difference (above zero: the model keeps more objects).
    pub kept_diff: Option<Interval>,
}

/// The verdict of one comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub beats: bool,
    /// Why, in words: the first condition that failed, or the evidence.
    pub why: String,
}

/// One model against one other method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub model: String,
    pub baseline: String,
    /// At each reported horizon.
    pub horizons: Vec<PairedPoint>,
    /// Per episode, the mean over every step 1 to 32 (or fewer where rollouts are
    /// shorter; `horizon` says how many).
    pub h1_32: PairedPoint,
    pub verdict: Verdict,
}

/// The paired 95% bootstrap interval of the mean of `diffs`; `None` when empty.
pub fn paired_interval(diffs: &[f64]) -> Option<Interval> {
    let n = diffs.len();
    if n == 0 {
        return None;
    }
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let mut rng = SplitMix64(0x5EED_B007_5742_u64 ^ n as u64);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| diffs[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
    Some(Interval {
        mean,
        lo: at(0.025),
        hi: at(0.975),
    })
}

/// Paired differences `a - b` over the episodes where both are `Some`.
pub fn paired_point(
    horizon: usize,
    a: &[Option<(f64, f64)>],
    b: &[Option<(f64, f64)>],
) -> PairedPoint {
    let pairs: Vec<((f64, f64), (f64, f64))> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
        .collect();
    let errors: Vec<f64> = pairs.iter().map(|(x, y)| x.0 - y.0).collect();
    let kept: Vec<f64> = pairs.iter().map(|(x, y)| x.1 - y.1).collect();
    PairedPoint {
        horizon,
        episodes: pairs.len(),
        error_diff_px: paired_interval(&errors),
        kept_diff: paired_interval(&kept),
    }
}

/// The verdict (see the module docs); `sharpness` is the model's mean sharpness
/// ratio over steps 1 to 32.
pub fn verdict(
    baseline: &str,
    horizons: &[PairedPoint],
    h1_32: &PairedPoint,
    sharpness: Option<f64>,
) -> Verdict {
    let fail = |why: String| Verdict { beats: false, why };
    let steps = h1_32.horizon;
    let Some(err) = h1_32.error_diff_px else {
        return fail("no episode scored by both".into());
    };
    if err.hi >= 0.0 {
        return fail(format!(
            "error over h1-{steps} minus {baseline}'s: {} px, the interval does not exclude 0",
            err.show(2)
        ));
    }
    if let Some(k) = h1_32.kept_diff {
        if k.hi < 0.0 {
            return fail(format!(
                "keeps fewer objects than {baseline} over h1-{steps}: {} (share)",
                k.show(3)
            ));
        }
    }
    if let Some(p) = horizons
        .iter()
        .filter(|p| p.horizon <= 32)
        .find(|p| p.error_diff_px.is_some_and(|e| e.lo > 0.0))
    {
        let e = p.error_diff_px.expect("checked");
        return fail(format!(
            "worse than {baseline} at h{}: {} px",
            p.horizon,
            e.show(2)
        ));
    }
    match sharpness {
        Some(s) if s >= SHARP_RANGE.0 && s <= SHARP_RANGE.1 => {}
        Some(s) => {
            return fail(format!(
                "frames not sharp: sharpness ratio {s:.2} over h1-{steps} (sharp is {}-{})",
                SHARP_RANGE.0, SHARP_RANGE.1
            ))
        }
        None => return fail("sharpness not measurable".into()),
    }
    Verdict {
        beats: true,
        why: format!(
            "error over h1-{steps} minus {baseline}'s: {} px over {} episodes; kept not worse; not worse at any horizon; sharpness {:.2}",
            err.show(2),
            h1_32.episodes,
            sharpness.unwrap_or(f64::NAN)
        ),
    }
}

/// A small deterministic generator for the resamples (SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}
