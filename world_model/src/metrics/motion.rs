//! Motion measures on centroid tracks: velocity error from finite differences and
//! the timing of collisions (bounces).
//!
//! A track is one object's centroid (pixels) per step of a rollout, index 0 the last
//! context frame (identical in truth and prediction), index `h` the frame at
//! horizon `h`; `None` where the object is absent.
//!
//! - Velocity error at horizon `h`: `|(p[h] - p[h-1]) - (t[h] - t[h-1])|` in pixels
//!   per step, for an object present in all four frames.
//! - Collision events: a step `k` where the track turns, from the velocity
//!   `v[k] = c[k] - c[k-1]` into `v[k+1]`: both speeds at least
//!   [`CollisionParams::min_speed_px`] and either the angle between them above
//!   [`CollisionParams::min_turn_deg`] or a velocity component flipping sign with
//!   at least [`CollisionParams::min_flip_px`] on both sides (a glancing bounce off
//!   a wall). A contact in the middle of a step can leave that step's velocity too
//!   slow to judge; then the turn from `v[k]` to `v[k+2]` marks an event at `k + 1`.
//!   Events of one object closer than [`CollisionParams::merge_steps`] are one.
//! - Timing: each true event is matched to a predicted event of the same object at
//!   most [`CollisionParams::window`] steps away, one to one, nearest pairs first;
//!   unmatched true events are missed. Per method: true and predicted events, the
//!   share matched and the mean `|timing error|` in steps (a mean per rollout, the
//!   95% interval over rollouts with a matched event).

use serde::{Deserialize, Serialize};

use super::Stat;

/// One object's centroid per step (`None`: absent), index 0 the last context frame.
pub type Track = Vec<Option<[f32; 2]>>;

/// Thresholds of collision detection and matching.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollisionParams {
    /// Slowest speed (pixels per step) on both sides of a turn.
    pub min_speed_px: f32,
    /// Smallest turn of the velocity direction, degrees.
    pub min_turn_deg: f32,
    /// Smallest magnitude (pixels per step) of a component on both sides of its sign flip.
    pub min_flip_px: f32,
    /// Events of one object fewer steps apart than this are one event.
    pub merge_steps: usize,
    /// Largest `|timing error|` (steps) at which a predicted event matches a true one.
    pub window: usize,
}

impl Default for CollisionParams {
    fn default() -> Self {
        Self {
            min_speed_px: 0.5,
            min_turn_deg: 60.0,
            min_flip_px: 0.5,
            merge_steps: 2,
            window: 8,
        }
    }
}

fn sub(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [a[0] - b[0], a[1] - b[1]]
}

fn norm(v: [f32; 2]) -> f32 {
    v[0].hypot(v[1])
}

/// The step velocity `c[k] - c[k-1]` (`None` at 0 or where either is absent).
fn velocity(track: &[Option<[f32; 2]>], k: usize) -> Option<[f32; 2]> {
    if k == 0 {
        return None;
    }
    Some(sub((*track.get(k)?)?, track[k - 1]?))
}

/// Velocity error at horizon `h >= 1` (pixels per step), `None` unless the object
/// is present at `h - 1` and `h` in both tracks.
pub fn velocity_error(
    pred: &[Option<[f32; 2]>],
    truth: &[Option<[f32; 2]>],
    h: usize,
) -> Option<f64> {
    let (p, t) = (velocity(pred, h)?, velocity(truth, h)?);
    Some(f64::from(norm(sub(p, t))))
}

/// Whether the velocity turns from `a` into `b` (see the module docs).
pub fn is_turn(a: [f32; 2], b: [f32; 2], params: &CollisionParams) -> bool {
    let (na, nb) = (norm(a), norm(b));
    if !(na >= params.min_speed_px && nb >= params.min_speed_px) {
        return false;
    }
    let cos = ((a[0] * b[0] + a[1] * b[1]) / (na * nb)).clamp(-1.0, 1.0);
    let turned = cos.acos().to_degrees() > params.min_turn_deg;
    let flipped = (0..2).any(|i| {
        a[i] * b[i] < 0.0 && a[i].abs() >= params.min_flip_px && b[i].abs() >= params.min_flip_px
    });
    turned || flipped
}

/// Steps of `track` (1 to `len - 2`) where the object bounces, increasing.
pub fn collision_events(track: &[Option<[f32; 2]>], params: &CollisionParams) -> Vec<usize> {
    let turn = |i: usize, j: usize| match (velocity(track, i), velocity(track, j)) {
        (Some(a), Some(b)) => is_turn(a, b, params),
        _ => false,
    };
    let mut events: Vec<usize> = Vec::new();
    for k in 1..track.len().saturating_sub(1) {
        let at = if turn(k, k + 1) {
            Some(k)
        } else if k + 2 < track.len() && !turn(k + 1, k + 2) && turn(k, k + 2) {
            Some(k + 1)
        } else {
            None
        };
        if let Some(e) = at {
            if events
                .last()
                .is_none_or(|&l| e >= l + params.merge_steps.max(1))
            {
                events.push(e);
            }
        }
    }
    events
}

/// `|timing error|` of each true event matched one to one to a predicted event at
/// most `window` steps away, nearest pairs first (ties: earlier true event first).
pub fn match_events(truth: &[usize], pred: &[usize], window: usize) -> Vec<usize> {
    let mut pairs: Vec<(usize, usize, usize)> = truth
        .iter()
        .enumerate()
        .flat_map(|(i, &t)| {
            pred.iter()
                .enumerate()
                .map(move |(j, &p)| (t.abs_diff(p), i, j))
        })
        .filter(|&(d, _, _)| d <= window)
        .collect();
    pairs.sort_unstable();
    let (mut used_t, mut used_p) = (vec![false; truth.len()], vec![false; pred.len()]);
    let mut errors = Vec::new();
    for (d, i, j) in pairs {
        if !used_t[i] && !used_p[j] {
            used_t[i] = true;
            used_p[j] = true;
            errors.push(d);
        }
    }
    errors
}

/// Collision timing of one method over every rollout added.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollisionTiming {
    /// The matching window, steps.
    pub window_steps: usize,
    /// Events in the true tracks, over the steps the method predicted.
    pub true_events: usize,
    /// Events in the method's tracks.
    pub predicted_events: usize,
    /// True events matched to a predicted one.
    pub matched: usize,
    /// `matched / true_events` (missed events count against it).
    pub matched_share: Option<f64>,
    /// Mean `|timing error|` in steps: per rollout over its matched events, then
    /// over rollouts with at least one (95% interval over those rollouts).
    pub timing_error_steps: Option<Stat>,
}

/// Accumulates [`CollisionTiming`] rollout by rollout.
#[derive(Clone, Debug, Default)]
pub(crate) struct CollisionAcc {
    true_events: usize,
    predicted_events: usize,
    matched: usize,
    rollout_errors: Vec<f64>,
    rollouts: usize,
    window: usize,
}

impl CollisionAcc {
    /// Adds one rollout: per object, the predicted and true tracks, compared over
    /// steps `0..len` (the steps the method predicted, plus the context frame).
    pub(crate) fn add(
        &mut self,
        pred: &[Track],
        truth: &[Track],
        len: usize,
        params: &CollisionParams,
    ) {
        let mut errors = Vec::new();
        for (p, t) in pred.iter().zip(truth) {
            let (p, t) = (&p[..len.min(p.len())], &t[..len.min(t.len())]);
            let (pe, te) = (collision_events(p, params), collision_events(t, params));
            let matched = match_events(&te, &pe, params.window);
            self.true_events += te.len();
            self.predicted_events += pe.len();
            self.matched += matched.len();
            errors.extend(matched.iter().map(|&d| d as f64));
        }
        if !errors.is_empty() {
            self.rollout_errors
                .push(errors.iter().sum::<f64>() / errors.len() as f64);
        }
        self.rollouts += 1;
        self.window = params.window;
    }

    /// The statistics so far; `None` before any rollout.
    pub(crate) fn timing(&self) -> Option<CollisionTiming> {
        (self.rollouts > 0).then(|| CollisionTiming {
            window_steps: self.window,
            true_events: self.true_events,
            predicted_events: self.predicted_events,
            matched: self.matched,
            matched_share: (self.true_events > 0)
                .then(|| self.matched as f64 / self.true_events as f64),
            timing_error_steps: Stat::of(&self.rollout_errors),
        })
    }
}
