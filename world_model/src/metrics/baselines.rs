//! The baselines, drawn as frames from the true context frames only, so exactly
//! the same measurement applies to them as to the model:
//! - `copy_last`: the last context frame, unchanged;
//! - `constant_velocity`: each dynamic object's pixels of the last context frame
//!   moved to its centroid extrapolated at the velocity seen between the last two
//!   context frames, reflected at the walls of `arena_px` (the frame's edges when
//!   the scenario gives no arena); a single context frame means zero velocity;
//! - `arena_centre`: each dynamic object's pixels moved to the centre of
//!   `arena_px` (or of the frame);
//! - `action_aware`: constant velocity, except the controlled object, moved by
//!   its actions through the fitted [`ActionModel`] (only where the evaluator has
//!   one and the rollout has actions).
//!
//! A frame moves an object by painting its old pixels with the mean colour of the
//! non-object pixels around it (the floor) and pasting its pixels shifted by the
//! rounded displacement; objects sent to the same place overlap there. The drawn
//! frames are then extracted and scored like any other source: nothing about a
//! baseline is computed analytically.

use super::ActionModel;
use crate::objects::{ObjectMeasure, UNCLASSIFIED};

/// Baseline names, in the order reports list them.
pub const COPY_LAST: &str = "copy_last";
pub const CONSTANT_VELOCITY: &str = "constant_velocity";
pub const ARENA_CENTRE: &str = "arena_centre";
pub const ACTION_AWARE: &str = "action_aware";

/// Every baseline, in report order.
pub const NAMES: [&str; 4] = [COPY_LAST, CONSTANT_VELOCITY, ARENA_CENTRE, ACTION_AWARE];

/// What the baselines are drawn from: the last context frame, measured.
pub(crate) struct BaselineFrames<'a> {
    /// The last context frame, `[H, W, 3]`.
    pub last: &'a [u8],
    pub last_labels: &'a [u16],
    pub last_measures: &'a [ObjectMeasure],
    /// The frame before it, measured (`None`: one context frame, zero velocity).
    pub prev_measures: Option<&'a [ObjectMeasure]>,
    /// Table indices of the tracked objects.
    pub tracked: &'a [usize],
    pub arena: [f32; 4],
    pub height: usize,
    pub width: usize,
}

impl BaselineFrames<'_> {
    /// The frames `[steps, H, W, 3]` of each baseline of [`NAMES`]; `None` for the
    /// action-aware one without an action model or actions.
    pub(crate) fn all(
        &self,
        steps: usize,
        action: Option<&(usize, ActionModel)>,
        actions: Option<&[Vec<f32>]>,
    ) -> [Option<Vec<u8>>; 4] {
        let repeat = |f: &[u8]| f.repeat(steps);
        let centre = [
            (self.arena[0] + self.arena[2]) / 2.0,
            (self.arena[1] + self.arena[3]) / 2.0,
        ];
        let cv = |k: usize, c: [f32; 2], h: usize| {
            let prev = self
                .prev_measures
                .and_then(|m| m[self.tracked[k]].centroid_xy);
            constant_velocity_target(prev, c, h, self.arena)
        };
        let cv_frames: Vec<u8> = (1..=steps)
            .flat_map(|h| self.draw(|k, c| Some(cv(k, c, h))))
            .collect();
        let aware = match (action, actions) {
            (Some((object, model)), Some(actions)) => {
                let k_ctrl = self.tracked.iter().position(|&i| i == *object);
                let last = self.last_measures[*object].centroid_xy;
                let prev = self.prev_measures.and_then(|m| m[*object].centroid_xy);
                let track = last.map(|c| {
                    let v0 = prev.map_or([0.0, 0.0], |p| [c[0] - p[0], c[1] - p[1]]);
                    model.track(c, v0, &actions[..steps.min(actions.len())], self.arena)
                });
                Some(
                    (1..=steps)
                        .flat_map(|h| {
                            self.draw(|k, c| match (&track, Some(k) == k_ctrl) {
                                (Some(t), true) => t.get(h - 1).copied(),
                                _ => Some(cv(k, c, h)),
                            })
                        })
                        .collect(),
                )
            }
            _ => None,
        };
        [
            Some(repeat(self.last)),
            Some(cv_frames),
            Some(repeat(&self.draw(|_, _| Some(centre)))),
            aware,
        ]
    }

    /// The last frame with each tracked object (`k`, centroid) moved to `target`.
    fn draw(&self, target: impl Fn(usize, [f32; 2]) -> Option<[f32; 2]>) -> Vec<u8> {
        let tracked: Vec<(u16, &ObjectMeasure)> = self
            .tracked
            .iter()
            .map(|&i| (i as u16 + 1, &self.last_measures[i]))
            .collect();
        let is_object =
            |l: u16| l == UNCLASSIFIED || self.tracked.iter().any(|&i| i as u16 + 1 == l);
        render_moved(
            self.last,
            self.last_labels,
            self.height,
            self.width,
            &moves_to(&tracked, target),
            is_object,
        )
    }
}

/// Folds `p` into `[lo, hi]` by reflecting at both ends (a ball bouncing between
/// two walls); a degenerate interval returns `lo`.
pub fn reflect(p: f32, lo: f32, hi: f32) -> f32 {
    let len = hi - lo;
    if !(len > 0.0) || !p.is_finite() {
        return lo;
    }
    let u = (p - lo).rem_euclid(2.0 * len);
    lo + if u > len { 2.0 * len - u } else { u }
}

/// The rectangle `[x_min, y_min, x_max, y_max]` centroids are confined to.
pub fn arena_or_frame(arena_px: Option<[f32; 4]>, height: usize, width: usize) -> [f32; 4] {
    arena_px.unwrap_or([0.0, 0.0, width as f32, height as f32])
}

/// Where a constant-velocity object is `h` steps after `last`, having moved from
/// `prev` to `last` in one step (`prev = None`: it stays).
pub fn constant_velocity_target(
    prev: Option<[f32; 2]>,
    last: [f32; 2],
    h: usize,
    arena: [f32; 4],
) -> [f32; 2] {
    let v = prev.map_or([0.0, 0.0], |p| [last[0] - p[0], last[1] - p[1]]);
    [
        reflect(last[0] + v[0] * h as f32, arena[0], arena[2]),
        reflect(last[1] + v[1] * h as f32, arena[1], arena[3]),
    ]
}

/// One object to move: its label in the label image, and the wanted displacement.
pub struct Move {
    pub label: u16,
    pub dx: f32,
    pub dy: f32,
}

/// Renders `frame` (`[H, W, 3]`, labelled by `labels`) with the objects of `moves`
/// shifted by their displacements (rounded to whole pixels).
pub fn render_moved(
    frame: &[u8],
    labels: &[u16],
    height: usize,
    width: usize,
    moves: &[Move],
    is_object: impl Fn(u16) -> bool,
) -> Vec<u8> {
    let mut out = frame.to_vec();
    let n = height * width;
    // Erase every moved object first, so objects may pass over each other's place.
    for m in moves {
        let fill = surrounding_colour(frame, labels, height, width, m.label, &is_object);
        for i in (0..n).filter(|&i| labels[i] == m.label) {
            out[i * 3..i * 3 + 3].copy_from_slice(&fill);
        }
    }
    for m in moves {
        let (dx, dy) = (m.dx.round() as i64, m.dy.round() as i64);
        for i in (0..n).filter(|&i| labels[i] == m.label) {
            let (x, y) = ((i % width) as i64 + dx, (i / width) as i64 + dy);
            if x < 0 || y < 0 || x >= width as i64 || y >= height as i64 {
                continue;
            }
            let j = y as usize * width + x as usize;
            out[j * 3..j * 3 + 3].copy_from_slice(&frame[i * 3..i * 3 + 3]);
        }
    }
    out
}

/// Mean colour of the non-object pixels 4-adjacent to the object `label`.
fn surrounding_colour(
    frame: &[u8],
    labels: &[u16],
    height: usize,
    width: usize,
    label: u16,
    is_object: &impl Fn(u16) -> bool,
) -> [u8; 3] {
    let mut acc = [0u64; 3];
    let mut count = 0u64;
    for i in (0..height * width).filter(|&i| labels[i] == label) {
        let (x, y) = (i % width, i / width);
        let neighbours = [
            (x > 0).then(|| i - 1),
            (x + 1 < width).then(|| i + 1),
            (y > 0).then(|| i - width),
            (y + 1 < height).then(|| i + width),
        ];
        for j in neighbours.into_iter().flatten() {
            if labels[j] != label && !is_object(labels[j]) {
                for c in 0..3 {
                    acc[c] += u64::from(frame[j * 3 + c]);
                }
                count += 1;
            }
        }
    }
    if count == 0 {
        return [0, 0, 0];
    }
    acc.map(|a| (a / count) as u8)
}

/// Displacements that carry each measured object to its target (absent objects,
/// or objects without a target, stay).
pub fn moves_to(
    measures: &[(u16, &ObjectMeasure)],
    target: impl Fn(usize, [f32; 2]) -> Option<[f32; 2]>,
) -> Vec<Move> {
    measures
        .iter()
        .enumerate()
        .filter_map(|(k, (label, m))| {
            let c = m.centroid_xy?;
            let t = target(k, c)?;
            Some(Move {
                label: *label,
                dx: t[0] - c[0],
                dy: t[1] - c[1],
            })
        })
        .collect()
}
