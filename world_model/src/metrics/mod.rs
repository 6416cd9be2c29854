//! Horizon metrics: how far a dreamed rollout drifts from the truth, step by step,
//! next to three baselines computed from the same true context (see
//! [`baselines`]).
//!
//! The caller dreams from a start index with the true frames before it as context
//! and hands the predicted frames aligned with the truth ([`Rollout`]). For every
//! horizon `h` (prediction `h - 1` against true frame `start + h - 1`) and every
//! tracked object (default: the table's dynamic objects) the evaluator measures:
//! - centroid error in pixels and in 64-pixel units (`px * 64 / max(H, W)`), over
//!   the cases where the object is present in both frames (a lost object shows in
//!   the kept share instead); a rollout's error is the mean over its objects, and
//!   the 95% interval is over rollouts;
//! - kept share: the share of (rollout, object) pairs with the object present in
//!   the truth whose prediction is kept ([`ObjectMeasure::is_kept`], the true area
//!   measured on the true frame);
//! - median area ratio (predicted over true area, 0 for a lost object);
//! - PSNR and SSIM (8x8 windows on luma) of the whole frame.

pub mod baselines;
mod report;
mod stats;

#[cfg(test)]
mod tests;

pub use report::{EvalReport, HorizonStats, MethodReport, ObjectStats};
pub use stats::{default_horizons, median, psnr, ssim, Stat, PSNR_IDENTICAL_DB};

use baselines::{arena_or_frame, constant_velocity_target, moves_to, render_moved};

use crate::data::ManifestColor;
use crate::eval_error::{check_frame, EvalError};
use crate::objects::{ClassifyParams, Extractor, ObjectMeasure, UNCLASSIFIED};

/// The frames' size, colour table and arena.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrameSpec {
    pub height: usize,
    pub width: usize,
    pub colors: Vec<ManifestColor>,
    pub background: [u8; 3],
    /// Pixel rectangle `[x_min, y_min, x_max, y_max]` where centroids can lie.
    pub arena_px: Option<[f32; 4]>,
}

/// What to measure.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalConfig {
    /// Horizons in steps (1 = the first predicted frame).
    pub horizons: Vec<usize>,
    /// Objects to track by name; `None`: every dynamic object of the table.
    pub objects: Option<Vec<String>>,
    pub classify: ClassifyParams,
    /// Name of the model's row in reports.
    pub model_name: String,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            horizons: default_horizons(32),
            objects: None,
            classify: ClassifyParams::default(),
            model_name: "model".into(),
        }
    }
}

/// One dreamed rollout and the episode it belongs to.
#[derive(Clone, Copy, Debug)]
pub struct Rollout<'a> {
    /// The episode's true frames, `[T, H, W, 3]` u8.
    pub truth: &'a [u8],
    /// Index of the first predicted frame; `truth[..start]` is the context (`>= 1`).
    pub start: usize,
    /// Dreamed frames `[P, H, W, 3]`, frame `k` standing for true frame `start + k`;
    /// `None` to compute the baselines only.
    pub predicted: Option<&'a [u8]>,
}

/// Accumulates measures of one method at one horizon.
#[derive(Clone, Debug, Default)]
struct HorizonAcc {
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
}

/// Accumulates rollouts and reports per-horizon statistics for the model and the
/// baselines.
pub struct HorizonEvaluator {
    spec: FrameSpec,
    config: EvalConfig,
    extractor: Extractor,
    /// Table indices of the tracked objects.
    tracked: Vec<usize>,
    /// `[method][horizon]`; methods: model, then the baselines.
    acc: Vec<Vec<HorizonAcc>>,
    rollouts: usize,
}

/// Method names in accumulator order after the model.
const BASELINES: [&str; 3] = [
    baselines::COPY_LAST,
    baselines::CONSTANT_VELOCITY,
    baselines::ARENA_CENTRE,
];

impl HorizonEvaluator {
    /// Prepares the evaluator; refuses unknown object names, empty or zero horizons
    /// and empty frames.
    pub fn new(spec: FrameSpec, config: EvalConfig) -> Result<Self, EvalError> {
        if spec.height == 0 || spec.width == 0 {
            return Err(EvalError::Invalid("frame size must be positive".into()));
        }
        if config.horizons.is_empty() || config.horizons.contains(&0) {
            return Err(EvalError::Invalid(format!(
                "horizons must be a non-empty list of steps >= 1, got {:?}",
                config.horizons
            )));
        }
        let tracked: Vec<usize> = match &config.objects {
            None => (0..spec.colors.len())
                .filter(|&i| spec.colors[i].dynamic)
                .collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    spec.colors
                        .iter()
                        .position(|c| &c.name == n)
                        .ok_or_else(|| {
                            EvalError::Invalid(format!("object `{n}` is not in the colour table"))
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        if tracked.is_empty() {
            return Err(EvalError::Invalid(
                "no objects to track (no dynamic object in the colour table)".into(),
            ));
        }
        let extractor = Extractor::new(
            spec.height,
            spec.width,
            &spec.colors,
            spec.background,
            config.classify,
        );
        let blank = HorizonAcc {
            object_error: vec![Vec::new(); tracked.len()],
            object_kept: vec![0; tracked.len()],
            object_in_truth: vec![0; tracked.len()],
            ..HorizonAcc::default()
        };
        let acc = vec![vec![blank; config.horizons.len()]; 1 + BASELINES.len()];
        Ok(Self {
            spec,
            config,
            extractor,
            tracked,
            acc,
            rollouts: 0,
        })
    }

    fn frame_bytes(&self) -> usize {
        self.spec.height * self.spec.width * 3
    }

    /// Adds one rollout: the model's predictions (if any) and the baselines.
    pub fn add(&mut self, rollout: &Rollout) -> Result<(), EvalError> {
        let fb = self.frame_bytes();
        if rollout.truth.is_empty() || rollout.truth.len() % fb != 0 {
            return Err(EvalError::Invalid(format!(
                "true frames: {} bytes is not a whole number of {}x{}x3 frames",
                rollout.truth.len(),
                self.spec.height,
                self.spec.width
            )));
        }
        let t_len = rollout.truth.len() / fb;
        if rollout.start == 0 || rollout.start >= t_len {
            return Err(EvalError::Invalid(format!(
                "start {} must be in 1..{t_len} (at least one context and one true frame to predict)",
                rollout.start
            )));
        }
        if let Some(p) = rollout.predicted {
            if p.len() % fb != 0 {
                return Err(EvalError::Invalid(format!(
                    "predicted frames: {} bytes is not a whole number of frames",
                    p.len()
                )));
            }
        }
        let frame = |i: usize| &rollout.truth[i * fb..(i + 1) * fb];
        let last = frame(rollout.start - 1);
        let last_labels = self.extractor.labels(last)?;
        let last_m = self.extractor.measure(&last_labels);
        let prev_m = match rollout.start {
            1 => None,
            s => Some(self.extractor.extract(frame(s - 2))?),
        };
        let arena = arena_or_frame(self.spec.arena_px, self.spec.height, self.spec.width);
        let tracked = self.tracked.clone();
        let tracked_labels: Vec<(u16, &ObjectMeasure)> = tracked
            .iter()
            .map(|&i| (i as u16 + 1, &last_m[i]))
            .collect();
        let is_object = |l: u16| l == UNCLASSIFIED || tracked.iter().any(|&i| i as u16 + 1 == l);
        let centre = [(arena[0] + arena[2]) / 2.0, (arena[1] + arena[3]) / 2.0];
        let centre_frame = render_moved(
            last,
            &last_labels,
            self.spec.height,
            self.spec.width,
            &moves_to(&tracked_labels, |_, _| Some(centre)),
            is_object,
        );
        let centre_m = moved_measures(&last_m, &tracked, |_, _| centre);

        let (height, width) = (self.spec.height, self.spec.width);
        for (hi, &h) in self.config.horizons.clone().iter().enumerate() {
            let t_idx = rollout.start + h - 1;
            if t_idx >= t_len {
                continue;
            }
            let truth = frame(t_idx);
            let truth_m = self.extractor.extract(truth)?;
            if let Some(p) = rollout.predicted.filter(|p| p.len() >= h * fb) {
                let pred = &p[(h - 1) * fb..h * fb];
                check_frame(|| format!("predicted frame {}", h - 1), pred, height, width)?;
                let pred_m = self.extractor.extract(pred)?;
                self.record(0, hi, &truth_m, truth, &pred_m, pred);
            }
            self.record(1, hi, &truth_m, truth, &last_m, last);
            let target = |k: usize, c: [f32; 2]| {
                let prev = prev_m.as_ref().and_then(|m| m[tracked[k]].centroid_xy);
                constant_velocity_target(prev, c, h, arena)
            };
            let moves = moves_to(&tracked_labels, |k, c| Some(target(k, c)));
            let cv_frame = render_moved(last, &last_labels, height, width, &moves, is_object);
            let cv_m = moved_measures(&last_m, &tracked, target);
            self.record(2, hi, &truth_m, truth, &cv_m, &cv_frame);
            self.record(3, hi, &truth_m, truth, &centre_m, &centre_frame);
        }
        self.rollouts += 1;
        Ok(())
    }

    fn record(
        &mut self,
        method: usize,
        hi: usize,
        truth_m: &[ObjectMeasure],
        truth: &[u8],
        pred_m: &[ObjectMeasure],
        pred: &[u8],
    ) {
        let acc = &mut self.acc[method][hi];
        acc.rollouts += 1;
        acc.psnr.push(psnr(pred, truth));
        acc.ssim
            .push(ssim(pred, truth, self.spec.height, self.spec.width));
        let mut errors = Vec::new();
        for (k, &i) in self.tracked.iter().enumerate() {
            let (t, p) = (&truth_m[i], &pred_m[i]);
            if !t.present {
                continue;
            }
            acc.object_in_truth[k] += 1;
            acc.object_kept[k] += usize::from(p.is_kept(t.area));
            acc.area_ratio.push(p.area as f64 / t.area as f64);
            if let Some(d) = t.centroid_distance(p) {
                acc.object_error[k].push(f64::from(d));
                errors.push(f64::from(d));
            }
        }
        if !errors.is_empty() {
            acc.mean_error
                .push(errors.iter().sum::<f64>() / errors.len() as f64);
        }
    }

    /// The statistics of everything added so far. Methods without any sample (the
    /// model when no rollout had predictions) are left out.
    pub fn report(&self) -> EvalReport {
        let to_64 = 64.0 / self.spec.height.max(self.spec.width) as f64;
        let names: Vec<String> = std::iter::once(self.config.model_name.clone())
            .chain(BASELINES.iter().map(|s| s.to_string()))
            .collect();
        let objects: Vec<String> = self
            .tracked
            .iter()
            .map(|&i| self.spec.colors[i].name.clone())
            .collect();
        let methods = names
            .into_iter()
            .zip(&self.acc)
            .filter(|(_, accs)| accs.iter().any(|a| a.rollouts > 0))
            .map(|(name, accs)| MethodReport {
                name,
                horizons: accs
                    .iter()
                    .zip(&self.config.horizons)
                    .map(|(a, &h)| horizon_stats(a, h, &objects, to_64))
                    .collect(),
            })
            .collect();
        EvalReport {
            horizons: self.config.horizons.clone(),
            frame_height: self.spec.height,
            frame_width: self.spec.width,
            rollouts: self.rollouts,
            objects,
            methods,
        }
    }
}

fn horizon_stats(a: &HorizonAcc, horizon: usize, objects: &[String], to_64: f64) -> HorizonStats {
    let in_truth: usize = a.object_in_truth.iter().sum();
    let kept: usize = a.object_kept.iter().sum();
    let error = Stat::of(&a.mean_error);
    HorizonStats {
        horizon,
        samples: a.rollouts,
        centroid_error_px: error,
        centroid_error_64: error.map(|s| s.scaled(to_64)),
        kept_share: (in_truth > 0).then(|| kept as f64 / in_truth as f64),
        median_area_ratio: median(&a.area_ratio),
        psnr_db: Stat::of(&a.psnr),
        ssim: Stat::of(&a.ssim),
        per_object: objects
            .iter()
            .enumerate()
            .map(|(k, name)| ObjectStats {
                name: name.clone(),
                centroid_error_px: Stat::of(&a.object_error[k]),
                kept_share: (a.object_in_truth[k] > 0)
                    .then(|| a.object_kept[k] as f64 / a.object_in_truth[k] as f64),
                truth_present: a.object_in_truth[k],
                both_present: a.object_error[k].len(),
            })
            .collect(),
    }
}

/// The last context frame's measures with each tracked object's centroid set to
/// `target(k, centroid)` (area and blobs unchanged; absent objects stay absent).
fn moved_measures(
    last: &[ObjectMeasure],
    tracked: &[usize],
    target: impl Fn(usize, [f32; 2]) -> [f32; 2],
) -> Vec<ObjectMeasure> {
    let mut out = last.to_vec();
    for (k, &i) in tracked.iter().enumerate() {
        if let Some(c) = out[i].centroid_xy {
            out[i].centroid_xy = Some(target(k, c));
        }
    }
    out
}

/// Evaluates `rollouts` in one call (see [`HorizonEvaluator`]).
pub fn evaluate_rollouts(
    spec: FrameSpec,
    config: EvalConfig,
    rollouts: &[Rollout],
) -> Result<EvalReport, EvalError> {
    let mut ev = HorizonEvaluator::new(spec, config)?;
    for r in rollouts {
        ev.add(r)?;
    }
    Ok(ev.report())
}
