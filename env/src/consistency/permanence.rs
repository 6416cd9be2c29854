//! Object permanence: an object that goes out of sight (behind `occlusion-v0`'s
//! wall) must come back at the right step and place, once, and never be lost.
//!
//! Per episode and tracked object, the truth gives the *event*: the object is
//! visible, then hidden, and visible again at the return step `r` inside the
//! predicted horizon (the first such event; episodes without one are not
//! counted). The prediction must
//! 1. hide the object too (at or after the truth hides it), then show it again:
//!    its return step `r'`; never shown again is *lost*;
//! 2. return on time: `|r' - r| <=` [`STEP_TOLERANCE`];
//! 3. in place: [`SETTLE_STEPS`] after the later of the two returns, the
//!    centroids are at most [`PLACE_TOLERANCE_PX`] apart (both must show it);
//! 4. never split it: no predicted frame holds two blobs of the object.
//!
//! "Visible" means at least [`VISIBLE_MIN_PX`] pixels of the object's colour.
//! The share of events that pass gets a Wilson 95% interval.

use serde::{Deserialize, Serialize};
use somnium_world_model::metrics::median;
use somnium_world_model::objects::ObjectMeasure;

use super::meter::FrameMeter;
use crate::EnvError;

/// Return steps this far apart still count as on time.
pub const STEP_TOLERANCE: usize = 2;
/// Centroids this close (pixels) count as in place.
pub const PLACE_TOLERANCE_PX: f32 = 2.0;
/// The place is compared this many steps after the later return, once the
/// object has come fully out.
pub const SETTLE_STEPS: usize = 2;
/// Pixels of an object's colour that make it visible (and a blob count).
pub const VISIBLE_MIN_PX: usize = 4;

/// One event of one episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PermanenceEvent {
    pub seed: u64,
    pub object: String,
    /// Predicted step (1-based horizon) at which the truth first hides the object
    /// (0: hidden already in the last context frame).
    pub hidden_at: usize,
    /// Predicted step at which the truth shows it again.
    pub true_return: usize,
    /// Predicted step at which the prediction shows it again (`None`: it never
    /// hid it, or never showed it again; see `lost`).
    pub predicted_return: Option<usize>,
    /// The prediction never showed the object again after hiding it.
    pub lost: bool,
    /// The prediction never hid the object.
    pub never_hidden: bool,
    pub place_error_px: Option<f32>,
    /// Some predicted frame split the object into two or more blobs.
    pub duplicated: bool,
    pub passed: bool,
}

/// Every event of a predictor, and the share that passed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PermanenceSummary {
    pub events: usize,
    pub passed: usize,
    /// `passed / events` with its Wilson 95% interval `[lo, hi]`.
    pub pass_rate: Option<[f64; 3]>,
    pub lost: usize,
    pub never_hidden: usize,
    pub duplicated: usize,
    pub late_or_early: usize,
    pub misplaced: usize,
    /// Median `|predicted - true|` return step over the events with a return.
    pub median_step_error: Option<f64>,
    pub median_place_error_px: Option<f64>,
    pub per_event: Vec<PermanenceEvent>,
}

fn visible(m: &ObjectMeasure) -> bool {
    m.area >= VISIBLE_MIN_PX
}

/// Per frame of `frames` (`[n, h, w, 3]` bytes), the meter's measures.
fn measures(
    meter: &FrameMeter,
    frames: &[u8],
    fb: usize,
) -> Result<Vec<Vec<ObjectMeasure>>, EnvError> {
    frames.chunks_exact(fb).map(|f| meter.objects(f)).collect()
}

/// The truth's first hide-and-return of object `k`: `(hidden_at, return)` as
/// predicted steps (1-based), the hide at 0 when the last context frame hides it.
fn truth_event(
    context_last: &[ObjectMeasure],
    future: &[Vec<ObjectMeasure>],
    k: usize,
) -> Option<(usize, usize)> {
    let mut seen_before = visible(&context_last[k]);
    let mut hidden_at = (!seen_before).then_some(0);
    for (i, frame) in future.iter().enumerate() {
        let step = i + 1;
        let vis = visible(&frame[k]);
        match hidden_at {
            None if seen_before && !vis => hidden_at = Some(step),
            Some(h) if vis => return Some((h, step)),
            _ => {}
        }
        seen_before |= vis;
    }
    None
}

/// Scores one episode: `truth_context_last` the last context frame, `truth` and
/// `pred` the future frames (`[n, h, w, 3]`, the prediction possibly shorter).
pub fn episode_events(
    meter: &FrameMeter,
    seed: u64,
    truth_context_last: &[u8],
    truth: &[u8],
    pred: &[u8],
) -> Result<Vec<PermanenceEvent>, EnvError> {
    let fb = truth_context_last.len();
    let last = meter.objects(truth_context_last)?;
    let t = measures(meter, truth, fb)?;
    let found: Vec<(usize, (usize, usize))> = (0..meter.names().len())
        .filter_map(|k| Some((k, truth_event(&last, &t, k)?)))
        .collect();
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let p = measures(meter, pred, fb)?;
    let mut events = Vec::new();
    for (k, (hidden_at, true_return)) in found {
        let name = &meter.names()[k];
        // the prediction's own hide (at or after the truth's) and return
        let from = hidden_at.max(1);
        let hide = (from..=p.len()).find(|&s| !visible(&p[s - 1][k]));
        let predicted_return =
            hide.and_then(|h| (h + 1..=p.len()).find(|&s| visible(&p[s - 1][k])));
        let never_hidden = hide.is_none();
        let lost = hide.is_some() && predicted_return.is_none();
        let place_error_px = predicted_return.and_then(|r| {
            let s = r.max(true_return) + SETTLE_STEPS;
            let (a, b) = (p.get(s - 1)?, t.get(s - 1)?);
            let (ca, cb) = (a[k].centroid_xy?, b[k].centroid_xy?);
            (visible(&a[k]) && visible(&b[k]))
                .then(|| ((ca[0] - cb[0]).powi(2) + (ca[1] - cb[1]).powi(2)).sqrt())
        });
        let duplicated = p
            .iter()
            .any(|f| f[k].blobs_of_at_least(VISIBLE_MIN_PX) >= 2);
        let on_time = predicted_return.is_some_and(|r| r.abs_diff(true_return) <= STEP_TOLERANCE);
        let in_place = place_error_px.is_some_and(|e| e <= PLACE_TOLERANCE_PX);
        events.push(PermanenceEvent {
            seed,
            object: name.clone(),
            hidden_at,
            true_return,
            predicted_return,
            lost,
            never_hidden,
            place_error_px,
            duplicated,
            passed: on_time && in_place && !duplicated,
        });
    }
    Ok(events)
}

/// The Wilson 95% interval of `k` successes in `n`: `[share, lo, hi]`.
pub fn wilson(k: usize, n: usize) -> Option<[f64; 3]> {
    if n == 0 {
        return None;
    }
    let (p, n, z) = (k as f64 / n as f64, n as f64, 1.96f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    Some([p, (centre - half).max(0.0), (centre + half).min(1.0)])
}

impl PermanenceSummary {
    /// The summary of `events`; `None` when the truth held no event.
    pub fn of(events: Vec<PermanenceEvent>) -> Option<Self> {
        if events.is_empty() {
            return None;
        }
        let count = |f: &dyn Fn(&PermanenceEvent) -> bool| events.iter().filter(|e| f(e)).count();
        let passed = count(&|e| e.passed);
        Some(Self {
            events: events.len(),
            passed,
            pass_rate: wilson(passed, events.len()),
            lost: count(&|e| e.lost),
            never_hidden: count(&|e| e.never_hidden),
            duplicated: count(&|e| e.duplicated),
            late_or_early: count(&|e| {
                e.predicted_return
                    .is_some_and(|r| r.abs_diff(e.true_return) > STEP_TOLERANCE)
            }),
            misplaced: count(&|e| e.place_error_px.is_some_and(|p| p > PLACE_TOLERANCE_PX)),
            median_step_error: median(
                &events
                    .iter()
                    .filter_map(|e| Some(e.predicted_return?.abs_diff(e.true_return) as f64))
                    .collect::<Vec<_>>(),
            ),
            median_place_error_px: median(
                &events
                    .iter()
                    .filter_map(|e| e.place_error_px.map(f64::from))
                    .collect::<Vec<_>>(),
            ),
            per_event: events,
        })
    }

    /// One line for the console and the report.
    pub fn line(&self) -> String {
        let rate = self.pass_rate.map_or("n/a".into(), |[p, lo, hi]| {
            format!("{:.0}% [{:.0}%, {:.0}%]", 100.0 * p, 100.0 * lo, 100.0 * hi)
        });
        format!(
            "object permanence: {} of {} hide-and-return events passed ({rate}); lost {}, never hidden {}, duplicated {}, off by more than {STEP_TOLERANCE} steps {}, more than {PLACE_TOLERANCE_PX} px away {}",
            self.passed,
            self.events,
            self.lost,
            self.never_hidden,
            self.duplicated,
            self.late_or_early,
            self.misplaced
        )
    }
}
