//! [`HorizonAcc`]: the measures of one method at one horizon, accumulated rollout by
//! rollout, and their statistics ([`HorizonStats`]).

use super::motion::{velocity_error, Track};
use super::report::{HorizonStats, ObjectStats};
use super::{median, psnr, ssim, Stat};
use crate::objects::ObjectMeasure;

/// An object counts as present for the object count (permanence) when its largest
/// blob has at least this many pixels: a few stray pixels of an object's hue at
/// another object's edge do not make an object.
pub const COUNTED_MIN_BLOB_PX: usize = 4;

/// Whether `m` counts as present for the object count.
pub fn counts_as_present(m: &ObjectMeasure) -> bool {
    m.present && m.largest_blob_area >= COUNTED_MIN_BLOB_PX
}

/// One side (truth or a method) of a frame being scored.
pub(crate) struct Side<'a> {
    /// Every object of the colour table measured in `frame`.
    pub measures: &'a [ObjectMeasure],
    /// The frame, `[H, W, 3]` u8.
    pub frame: &'a [u8],
    /// Per tracked object, its centroid track over the rollout.
    pub tracks: &'a [Track],
}

/// Accumulates measures of one method at one horizon.
#[derive(Clone, Debug, Default)]
pub(crate) struct HorizonAcc {
    rollouts: usize,
    /// Per rollout: mean centroid error over its objects present in both frames.
    mean_error: Vec<f64>,
    /// Per object: one error per rollout where both frames show it.
    object_error: Vec<Vec<f64>>,
    object_kept: Vec<usize>,
    object_in_truth: Vec<usize>,
    area_ratio: Vec<f64>,
    psnr: Vec<f64>,
    ssim: Vec<f64>,
    /// Per rollout: mean velocity error over its objects present at `h - 1` and `h`.
    mean_velocity_error: Vec<f64>,
    /// Per object: one velocity error per rollout where it is measurable.
    object_velocity_error: Vec<Vec<f64>>,
    /// Rollouts whose prediction shows as many tracked objects as the truth.
    count_preserved: usize,
}

impl HorizonAcc {
    /// An empty accumulator for `objects` tracked objects.
    pub(crate) fn new(objects: usize) -> Self {
        Self {
            object_error: vec![Vec::new(); objects],
            object_kept: vec![0; objects],
            object_in_truth: vec![0; objects],
            object_velocity_error: vec![Vec::new(); objects],
            ..Self::default()
        }
    }

    pub(crate) fn has_samples(&self) -> bool {
        self.rollouts > 0
    }

    /// Adds one rollout's frame at horizon `h`: `tracked` are the table indices of
    /// the tracked objects (in the order of the tracks).
    pub(crate) fn record(
        &mut self,
        tracked: &[usize],
        (height, width): (usize, usize),
        h: usize,
        truth: &Side,
        pred: &Side,
    ) {
        self.rollouts += 1;
        self.psnr.push(psnr(pred.frame, truth.frame));
        self.ssim.push(ssim(pred.frame, truth.frame, height, width));
        let (mut errors, mut velocity_errors) = (Vec::new(), Vec::new());
        let (mut true_count, mut pred_count) = (0usize, 0usize);
        for (k, &i) in tracked.iter().enumerate() {
            let (t, p) = (&truth.measures[i], &pred.measures[i]);
            true_count += usize::from(counts_as_present(t));
            pred_count += usize::from(counts_as_present(p));
            if let Some(v) = velocity_error(&pred.tracks[k], &truth.tracks[k], h) {
                self.object_velocity_error[k].push(v);
                velocity_errors.push(v);
            }
            if !t.present {
                continue;
            }
            self.object_in_truth[k] += 1;
            self.object_kept[k] += usize::from(p.is_kept(t.area));
            self.area_ratio.push(p.area as f64 / t.area as f64);
            if let Some(d) = t.centroid_distance(p) {
                self.object_error[k].push(f64::from(d));
                errors.push(f64::from(d));
            }
        }
        self.count_preserved += usize::from(true_count == pred_count);
        for (all, one) in [
            (&mut self.mean_error, errors),
            (&mut self.mean_velocity_error, velocity_errors),
        ] {
            if !one.is_empty() {
                all.push(one.iter().sum::<f64>() / one.len() as f64);
            }
        }
    }

    /// The statistics at `horizon`; `to_64` converts pixels to 64-pixel units and
    /// `metres_per_px` (where known) to metres.
    pub(crate) fn stats(
        &self,
        horizon: usize,
        objects: &[String],
        to_64: f64,
        metres_per_px: Option<f32>,
    ) -> HorizonStats {
        let in_truth: usize = self.object_in_truth.iter().sum();
        let kept: usize = self.object_kept.iter().sum();
        let error = Stat::of(&self.mean_error);
        HorizonStats {
            horizon,
            samples: self.rollouts,
            centroid_error_px: error,
            centroid_error_64: error.map(|s| s.scaled(to_64)),
            centroid_error_m: error
                .zip(metres_per_px)
                .map(|(s, m)| s.scaled(f64::from(m))),
            velocity_error_px: Stat::of(&self.mean_velocity_error),
            count_preserved: (self.rollouts > 0)
                .then(|| self.count_preserved as f64 / self.rollouts as f64),
            kept_share: (in_truth > 0).then(|| kept as f64 / in_truth as f64),
            median_area_ratio: median(&self.area_ratio),
            psnr_db: Stat::of(&self.psnr),
            ssim: Stat::of(&self.ssim),
            per_object: objects
                .iter()
                .enumerate()
                .map(|(k, name)| ObjectStats {
                    name: name.clone(),
                    centroid_error_px: Stat::of(&self.object_error[k]),
                    kept_share: (self.object_in_truth[k] > 0)
                        .then(|| self.object_kept[k] as f64 / self.object_in_truth[k] as f64),
                    truth_present: self.object_in_truth[k],
                    both_present: self.object_error[k].len(),
                    velocity_error_px: Stat::of(&self.object_velocity_error[k]),
                })
                .collect(),
        }
    }
}
