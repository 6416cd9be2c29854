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
//! - PSNR and SSIM (8x8 windows on luma) of the whole frame;
//! - the centroid error in metres, where [`FrameSpec::metres_per_px`] is known;
//! - velocity error (finite differences of centroids, pixels per step, see
//!   [`motion`]) over the objects present at `h - 1` and `h` in both;
//! - object count preserved: the share of rollouts whose prediction shows as many
//!   tracked objects as the truth ([`counts_as_present`]).
//!
//! Over each whole rollout (every predicted step, not per horizon) it also times
//! collisions: bounces found in the true and predicted centroid tracks, matched
//! within a window ([`motion::CollisionTiming`]).
//!
//! The baselines' tracks are their extrapolated centroids at every step, so their
//! velocities and bounces are measured like the model's.

pub mod baselines;
mod horizon;
pub mod motion;
mod report;
mod stats;

#[cfg(test)]
mod motion_tests;
#[cfg(test)]
mod tests;

pub use horizon::{counts_as_present, COUNTED_MIN_BLOB_PX};
pub use motion::{CollisionParams, CollisionTiming, Track};
pub use report::{EvalReport, HorizonStats, MethodReport, ObjectStats};
pub use stats::{default_horizons, median, psnr, ssim, Stat, PSNR_IDENTICAL_DB};

use baselines::{arena_or_frame, constant_velocity_target, moves_to, render_moved};

use crate::data::ManifestColor;
use crate::eval_error::EvalError;
use crate::objects::{ClassifyParams, Extractor, ObjectMeasure, UNCLASSIFIED};
use horizon::{HorizonAcc, Side};
use motion::CollisionAcc;

/// The frames' size, colour table and arena.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrameSpec {
    pub height: usize,
    pub width: usize,
    pub colors: Vec<ManifestColor>,
    pub background: [u8; 3],
    /// Pixel rectangle `[x_min, y_min, x_max, y_max]` where centroids can lie.
    pub arena_px: Option<[f32; 4]>,
    /// Metres per pixel at the height of the objects' centres (a camera looking
    /// straight down has one scale over that plane); `None`: errors in pixels only.
    #[serde(default)]
    pub metres_per_px: Option<f32>,
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
    /// Collision detection and matching.
    #[serde(default)]
    pub collision: CollisionParams,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            horizons: default_horizons(32),
            objects: None,
            classify: ClassifyParams::default(),
            model_name: "model".into(),
            collision: CollisionParams::default(),
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
    /// Per method: collision timing over whole rollouts.
    collisions: Vec<CollisionAcc>,
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
        let blank = HorizonAcc::new(tracked.len());
        let acc = vec![vec![blank; config.horizons.len()]; 1 + BASELINES.len()];
        Ok(Self {
            spec,
            config,
            extractor,
            tracked,
            acc,
            collisions: vec![CollisionAcc::default(); 1 + BASELINES.len()],
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

        // Every true frame from the last context frame on (index = step), and every
        // predicted frame (index = step - 1), measured once.
        let steps = t_len - rollout.start;
        let truth_ms = std::iter::once(Ok(last_m.clone()))
            .chain((rollout.start..t_len).map(|i| self.extractor.extract(frame(i))))
            .collect::<Result<Vec<_>, _>>()?;
        let pred_ms = match rollout.predicted {
            Some(p) => p
                .chunks_exact(fb)
                .take(steps)
                .map(|f| self.extractor.extract(f))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let track_of = |k: usize, ms: &mut dyn Iterator<Item = &Vec<ObjectMeasure>>| -> Track {
            ms.map(|m| m[tracked[k]].centroid_xy).collect()
        };
        let n = tracked.len();
        let truth_tracks: Vec<Track> = (0..n).map(|k| track_of(k, &mut truth_ms.iter())).collect();
        let model_tracks: Vec<Track> = (0..n)
            .map(|k| track_of(k, &mut std::iter::once(&last_m).chain(&pred_ms)))
            .collect();
        let cv_target = |k: usize, c: [f32; 2], h: usize| {
            let prev = prev_m.as_ref().and_then(|m| m[tracked[k]].centroid_xy);
            constant_velocity_target(prev, c, h, arena)
        };
        // Baseline tracks: the last context centroid at step 0, then the extrapolation.
        let baseline_track = |k: usize, at: &dyn Fn([f32; 2], usize) -> [f32; 2]| -> Track {
            let c = last_m[tracked[k]].centroid_xy;
            (0..=steps)
                .map(|h| c.map(|c| if h == 0 { c } else { at(c, h) }))
                .collect()
        };
        let baseline_tracks: Vec<Vec<Track>> = vec![
            (0..n).map(|k| baseline_track(k, &|c, _| c)).collect(),
            (0..n)
                .map(|k| baseline_track(k, &|c, h| cv_target(k, c, h)))
                .collect(),
            (0..n).map(|k| baseline_track(k, &|_, _| centre)).collect(),
        ];

        let size = (self.spec.height, self.spec.width);
        for (hi, &h) in self.config.horizons.clone().iter().enumerate() {
            if h > steps {
                continue;
            }
            let truth = Side {
                measures: &truth_ms[h],
                frame: frame(rollout.start + h - 1),
                tracks: &truth_tracks,
            };
            if let (Some(p), Some(pred_m)) = (rollout.predicted, pred_ms.get(h - 1)) {
                let pred = Side {
                    measures: pred_m,
                    frame: &p[(h - 1) * fb..h * fb],
                    tracks: &model_tracks,
                };
                self.acc[0][hi].record(&tracked, size, h, &truth, &pred);
            }
            let copy = Side {
                measures: &last_m,
                frame: last,
                tracks: &baseline_tracks[0],
            };
            self.acc[1][hi].record(&tracked, size, h, &truth, &copy);
            let moves = moves_to(&tracked_labels, |k, c| Some(cv_target(k, c, h)));
            let cv_frame = render_moved(last, &last_labels, size.0, size.1, &moves, is_object);
            let cv_m = moved_measures(&last_m, &tracked, |k, c| cv_target(k, c, h));
            let cv = Side {
                measures: &cv_m,
                frame: &cv_frame,
                tracks: &baseline_tracks[1],
            };
            self.acc[2][hi].record(&tracked, size, h, &truth, &cv);
            let to_centre = Side {
                measures: &centre_m,
                frame: &centre_frame,
                tracks: &baseline_tracks[2],
            };
            self.acc[3][hi].record(&tracked, size, h, &truth, &to_centre);
        }
        let params = self.config.collision;
        if rollout.predicted.is_some() {
            let len = pred_ms.len() + 1;
            self.collisions[0].add(&model_tracks, &truth_tracks, len, &params);
        }
        for (acc, tracks) in self.collisions[1..].iter_mut().zip(&baseline_tracks) {
            acc.add(tracks, &truth_tracks, steps + 1, &params);
        }
        self.rollouts += 1;
        Ok(())
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
            .zip(&self.collisions)
            .filter(|((_, accs), _)| accs.iter().any(HorizonAcc::has_samples))
            .map(|((name, accs), collisions)| MethodReport {
                name,
                horizons: accs
                    .iter()
                    .zip(&self.config.horizons)
                    .map(|(a, &h)| a.stats(h, &objects, to_64, self.spec.metres_per_px))
                    .collect(),
                collision_timing: collisions.timing(),
            })
            .collect();
        EvalReport {
            horizons: self.config.horizons.clone(),
            frame_height: self.spec.height,
            frame_width: self.spec.width,
            rollouts: self.rollouts,
            objects,
            methods,
            metres_per_px: self.spec.metres_per_px,
        }
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
