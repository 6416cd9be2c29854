//! One predicted frame scored against the true frame, from the extractor's label
//! images only, the same way for every predictor (the model, a baseline, physics):
//!
//! - per tracked object present in the truth (largest blob of at least
//!   [`COUNTED_MIN_BLOB_PX`] pixels): the IoU of its predicted mask with its true
//!   mask (a mask is every pixel the extractor labels as the object), whether it is
//!   *kept* (IoU at least [`KEPT_IOU`]), the area ratio, and the centroid error in
//!   pixels; an object the prediction misses (no blob of that size) counts the
//!   miss penalty as its error ([`miss_penalty_px`]);
//! - per frame: PSNR, SSIM (luma, see [`super::ssim`]) and the sharpness ratio
//!   ([`gradient_energy_in`] of the prediction over the truth's, both over the
//!   pixels within [`SHARPNESS_MARGIN_PX`] of a tracked object in either frame),
//!   so soft objects show as soft (below 1) and noisy ones as rough (above 1)
//!   however sharp the static scene around them stays;
//! - whether the prediction shows as many tracked objects as the truth.

use super::motion::{velocity_error, Track};
use super::{psnr, ssim};
use crate::objects::ObjectMeasure;

/// An object is present when its largest blob has at least this many pixels: a few
/// stray pixels of an object's hue at another object's edge do not make an object.
pub const COUNTED_MIN_BLOB_PX: usize = 4;

/// Sharpness is measured over the pixels within this many pixels (Chebyshev
/// distance) of a tracked object's pixel in the truth or the prediction: over the
/// whole frame, a static scene drawn sharp (walls, floor edges) outweighs blurred
/// objects (balls blurred at sigma 1.5 px kept a whole-frame ratio of 0.93 on
/// `bounce-v0`).
pub const SHARPNESS_MARGIN_PX: usize = 2;

/// An object is kept where the IoU of its predicted and true masks is at least this.
pub const KEPT_IOU: f64 = 0.5;

/// Whether `m` counts as present (for the truth, for misses and for the object count).
pub fn counts_as_present(m: &ObjectMeasure) -> bool {
    m.present && m.largest_blob_area >= COUNTED_MIN_BLOB_PX
}

/// The error a missed object counts: half the diagonal of the rectangle centroids
/// lie in (`arena = [x_min, y_min, x_max, y_max]`, pixels), the largest error of a
/// guess at the arena's centre. Missing an object is never better than that guess.
pub fn miss_penalty_px(arena: [f32; 4]) -> f64 {
    0.5 * f64::from(arena[2] - arena[0]).hypot(f64::from(arena[3] - arena[1]))
}

/// One tracked object present in the truth, scored in one predicted frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObjectScore {
    /// IoU of the predicted and true masks (0 when missed).
    pub iou: f64,
    /// Centroid distance in pixels, or the miss penalty when missed.
    pub error_px: f64,
    pub missed: bool,
    /// Predicted over true area (pixels labelled as the object).
    pub area_ratio: f64,
}

impl ObjectScore {
    pub fn kept(&self) -> bool {
        self.iou >= KEPT_IOU
    }
}

/// One predicted frame scored against the truth.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameScore {
    /// Per tracked object: `None` where the truth does not show it.
    pub objects: Vec<Option<ObjectScore>>,
    pub psnr: f64,
    pub ssim: f64,
    /// Prediction's gradient energy over the truth's around the tracked objects
    /// (`None`: no object in either frame, or a flat truth there).
    pub sharpness: Option<f64>,
    /// Per tracked object: velocity error (pixels per step), where measurable.
    pub velocity_errors: Vec<Option<f64>>,
    /// The prediction shows as many tracked objects as the truth.
    pub count_preserved: bool,
}

impl FrameScore {
    /// Mean over the true objects of the centroid error (misses at the penalty).
    pub fn mean_error_px(&self) -> Option<f64> {
        mean(self.objects.iter().flatten().map(|o| o.error_px))
    }

    /// Share of the true objects kept.
    pub fn kept_share(&self) -> Option<f64> {
        mean(
            self.objects
                .iter()
                .flatten()
                .map(|o| f64::from(u8::from(o.kept()))),
        )
    }

    /// Mean over objects of the velocity error.
    pub fn mean_velocity_error(&self) -> Option<f64> {
        mean(self.velocity_errors.iter().flatten().copied())
    }
}

/// Mean of an iterator, `None` when empty.
pub(crate) fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// One frame of one side: its pixels, label image and measures.
pub(crate) struct Scored<'a> {
    pub frame: &'a [u8],
    pub labels: &'a [u16],
    pub measures: &'a [ObjectMeasure],
}

/// What [`score_frame`] needs besides the two frames.
pub(crate) struct FrameContext<'a> {
    /// Table indices of the tracked objects.
    pub tracked: &'a [usize],
    pub height: usize,
    pub width: usize,
    pub miss_penalty_px: f64,
    /// The step (horizon) being scored, for the velocity error.
    pub step: usize,
    /// Per tracked object, the predicted and true centroid tracks (index 0 the
    /// last context frame).
    pub pred_tracks: &'a [Track],
    pub true_tracks: &'a [Track],
}

/// Scores `pred` against `truth`.
pub(crate) fn score_frame(ctx: &FrameContext, truth: &Scored, pred: &Scored) -> FrameScore {
    let overlap = mask_overlap(truth.labels, pred.labels, ctx.tracked);
    let mut objects = Vec::with_capacity(ctx.tracked.len());
    let (mut true_count, mut pred_count) = (0, 0);
    for (k, &i) in ctx.tracked.iter().enumerate() {
        let (t, p) = (&truth.measures[i], &pred.measures[i]);
        let (t_present, p_present) = (counts_as_present(t), counts_as_present(p));
        true_count += usize::from(t_present);
        pred_count += usize::from(p_present);
        if !t_present {
            objects.push(None);
            continue;
        }
        let (inter, union) = overlap[k];
        let error = if p_present {
            t.centroid_distance(p).map(f64::from)
        } else {
            None
        };
        objects.push(Some(ObjectScore {
            iou: if union > 0 {
                inter as f64 / union as f64
            } else {
                0.0
            },
            error_px: error.unwrap_or(ctx.miss_penalty_px),
            missed: error.is_none(),
            area_ratio: p.area as f64 / t.area.max(1) as f64,
        }));
    }
    let velocity_errors = (0..ctx.tracked.len())
        .map(|k| velocity_error(&ctx.pred_tracks[k], &ctx.true_tracks[k], ctx.step))
        .collect();
    let region = object_region(truth.labels, pred.labels, ctx.tracked, ctx.width);
    let energy = |f: &[u8]| gradient_energy_in(f, ctx.height, ctx.width, Some(&region));
    let (pred_energy, true_energy) = (energy(pred.frame), energy(truth.frame));
    FrameScore {
        objects,
        psnr: psnr(pred.frame, truth.frame),
        ssim: ssim(pred.frame, truth.frame, ctx.height, ctx.width),
        sharpness: (true_energy > 0.0).then(|| pred_energy / true_energy),
        velocity_errors,
        count_preserved: true_count == pred_count,
    }
}

/// Per tracked object: `(|true ∩ predicted|, |true ∪ predicted|)` of its masks.
fn mask_overlap(truth: &[u16], pred: &[u16], tracked: &[usize]) -> Vec<(usize, usize)> {
    let mut slot = [usize::MAX; 256];
    for (k, &i) in tracked.iter().enumerate() {
        if i + 1 < slot.len() {
            slot[i + 1] = k;
        }
    }
    let lookup = |l: u16| slot.get(l as usize).copied().unwrap_or(usize::MAX);
    let mut out = vec![(0usize, 0usize); tracked.len()];
    for (&t, &p) in truth.iter().zip(pred) {
        let (kt, kp) = (lookup(t), lookup(p));
        if kt != usize::MAX {
            out[kt].1 += 1;
            if t == p {
                out[kt].0 += 1;
            }
        }
        if kp != usize::MAX && t != p {
            out[kp].1 += 1;
        }
    }
    out
}

/// The pixels within [`SHARPNESS_MARGIN_PX`] of a pixel labelled as a tracked
/// object in either label image (`width` pixels a row).
fn object_region(truth: &[u16], pred: &[u16], tracked: &[usize], width: usize) -> Vec<bool> {
    let is_tracked = |l: u16| l > 0 && tracked.contains(&(l as usize - 1));
    let seed: Vec<bool> = truth
        .iter()
        .zip(pred)
        .map(|(&t, &p)| is_tracked(t) || is_tracked(p))
        .collect();
    let r = SHARPNESS_MARGIN_PX;
    let height = seed.len() / width.max(1);
    // A square dilation, one axis at a time.
    let across: Vec<bool> = (0..seed.len())
        .map(|i| {
            let (x, row) = (i % width, i - i % width);
            (x.saturating_sub(r)..(x + r + 1).min(width)).any(|xx| seed[row + xx])
        })
        .collect();
    (0..seed.len())
        .map(|i| {
            let (x, y) = (i % width, i / width);
            (y.saturating_sub(r)..(y + r + 1).min(height)).any(|yy| across[yy * width + x])
        })
        .collect()
}

/// Gradient energy of a `[height, width, 3]` frame's luma: the mean over pixels of
/// the squared horizontal and vertical forward differences. Blur lowers it; noise
/// raises it.
pub fn gradient_energy(frame: &[u8], height: usize, width: usize) -> f64 {
    gradient_energy_in(frame, height, width, None)
}

/// [`gradient_energy`] over the pixels of `region` (`[height * width]`; `None`:
/// every pixel); 0 for an empty region.
pub fn gradient_energy_in(
    frame: &[u8],
    height: usize,
    width: usize,
    region: Option<&[bool]>,
) -> f64 {
    if frame.len() < height * width * 3 || height < 2 || width < 2 {
        return 0.0;
    }
    let inside = |i: usize| region.is_none_or(|r| r.get(i).copied().unwrap_or(false));
    let count = (0..height * width).filter(|&i| inside(i)).count();
    if count == 0 {
        return 0.0;
    }
    let luma = |i: usize| {
        let p = &frame[i * 3..i * 3 + 3];
        0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
    };
    let mut total = 0.0;
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if !inside(i) {
                continue;
            }
            let v = luma(i);
            if x + 1 < width {
                total += (luma(i + 1) - v).powi(2);
            }
            if y + 1 < height {
                total += (luma(i + width) - v).powi(2);
            }
        }
    }
    total / count as f64
}
