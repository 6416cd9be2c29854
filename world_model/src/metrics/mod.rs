//! Horizon metrics (benchmark v2): how far a predicted rollout drifts from the
//! truth, step by step, for every predictor measured the same way.
//!
//! Every predictor is a frame source: the model's dream, physics, perturbed physics
//! (the ceiling), and the baselines this module draws from the true context
//! ([`baselines`]: copy the last frame, constant velocity reflected at the walls,
//! the arena centre, and the action-aware baseline of [`action_model`]). Every
//! frame of every source goes through the one extractor ([`crate::objects`]) and
//! is scored against the true frame by [`scoring`]: per object the mask IoU, kept
//! (IoU >= 0.5), area ratio and centroid error (a missed object at a documented
//! penalty); per frame PSNR, SSIM and sharpness. Centroid tracks of the extracted
//! frames give velocity errors and collision timing ([`motion`]).
//!
//! Every step of every rollout is scored. The report gives the statistics at the
//! table horizons (1, 2, 4, ...), the means over every step 1 to 32
//! ([`Summary`]), and the first source's paired comparisons against every other
//! method with bootstrap intervals and verdicts ([`paired`]).

mod action_model;
mod aggregate;
pub mod baselines;
pub mod motion;
pub mod paired;
mod per_episode;
mod report;
pub mod scoring;
mod stats;

#[cfg(test)]
mod controls_tests;
#[cfg(test)]
mod motion_tests;
#[cfg(test)]
mod paired_tests;
#[cfg(test)]
mod tests;

pub use action_model::ActionModel;
pub use motion::{CollisionParams, CollisionTiming, Track};
pub use paired::{Comparison, Interval, PairedPoint, Verdict};
pub use report::{EvalReport, HorizonStats, MethodReport, ObjectStats, Summary};
pub use scoring::{counts_as_present, miss_penalty_px, COUNTED_MIN_BLOB_PX, KEPT_IOU};
pub use stats::{default_horizons, median, psnr, ssim, Stat, PSNR_IDENTICAL_DB};

use aggregate::{compare, horizon_stats, summary, EpisodeScores};
use baselines::{arena_or_frame, BaselineFrames};
use motion::CollisionAcc;
use scoring::{score_frame, FrameContext, FrameScore, Scored};

use crate::data::ManifestColor;
use crate::eval_error::EvalError;
use crate::objects::{ClassifyParams, Extractor, ObjectMeasure};

/// Steps the summary means and the verdicts average over.
pub const SUMMARY_STEPS: usize = 32;

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
    /// Horizons of the report's tables, in steps (1 = the first predicted frame).
    pub horizons: Vec<usize>,
    /// Objects to track by name; `None`: every dynamic object of the table.
    pub objects: Option<Vec<String>>,
    pub classify: ClassifyParams,
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
            collision: CollisionParams::default(),
        }
    }
}

/// One predictor's frames for one rollout.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub name: &'a str,
    /// `[P, H, W, 3]` u8, frame `k` standing for true frame `start + k`; `P` may be
    /// shorter than the truth (a dream that ended early) or longer (cut).
    pub frames: &'a [u8],
}

/// One episode to score.
#[derive(Clone, Debug)]
pub struct Rollout<'a> {
    /// The episode's true frames, `[T, H, W, 3]` u8.
    pub truth: &'a [u8],
    /// Index of the first predicted frame; `truth[..start]` is the context (`>= 1`).
    pub start: usize,
    /// The frame sources to score, in report order; the first is the model the
    /// comparisons are made for. Empty: the baselines only.
    pub sources: Vec<Source<'a>>,
    /// Encoded actions of the predicted steps: `actions[k]` acts between true frames
    /// `start + k - 1` and `start + k` (a box action's values; a discrete action
    /// one-hot). Used by the action-aware baseline; `None` leaves it out.
    pub actions: Option<&'a [Vec<f32>]>,
}

/// Scores rollouts of every source and baseline and reports their statistics.
pub struct HorizonEvaluator {
    spec: FrameSpec,
    config: EvalConfig,
    extractor: Extractor,
    /// Table indices of the tracked objects.
    tracked: Vec<usize>,
    arena: [f32; 4],
    miss_penalty: f64,
    /// The controlled object (table index) and its fitted action model.
    action: Option<(usize, ActionModel)>,
    /// Source names in order of first appearance, then the baselines.
    sources: Vec<String>,
    /// Per source, per rollout.
    source_scores: Vec<EpisodeScores>,
    source_collisions: Vec<CollisionAcc>,
    /// Per baseline ([`baselines::NAMES`]), per rollout.
    baseline_scores: Vec<EpisodeScores>,
    baseline_collisions: Vec<CollisionAcc>,
    rollouts: usize,
}

/// One frame extracted: labels and measures.
struct Extracted {
    labels: Vec<u16>,
    measures: Vec<ObjectMeasure>,
}

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
        let arena = arena_or_frame(spec.arena_px, spec.height, spec.width);
        Ok(Self {
            miss_penalty: miss_penalty_px(arena),
            arena,
            spec,
            config,
            extractor,
            tracked,
            action: None,
            sources: Vec::new(),
            source_scores: Vec::new(),
            source_collisions: Vec::new(),
            baseline_scores: vec![Vec::new(); baselines::NAMES.len()],
            baseline_collisions: vec![CollisionAcc::default(); baselines::NAMES.len()],
            rollouts: 0,
        })
    }

    /// Enables the action-aware baseline: `object` is the table index of the
    /// controlled object, `model` its fitted dynamics ([`ActionModel::fit`]).
    pub fn with_action_model(mut self, object: usize, model: ActionModel) -> Self {
        self.action = Some((object, model));
        self
    }

    fn frame_bytes(&self) -> usize {
        self.spec.height * self.spec.width * 3
    }

    fn extract(&self, frame: &[u8]) -> Result<Extracted, EvalError> {
        let labels = self.extractor.labels(frame)?;
        let measures = self.extractor.measure(&labels);
        Ok(Extracted { labels, measures })
    }

    /// Adds one rollout: every source, and the baselines drawn from its context.
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
        for s in &rollout.sources {
            if s.frames.len() % fb != 0 {
                return Err(EvalError::Invalid(format!(
                    "source `{}`: {} bytes is not a whole number of {}x{}x3 frames",
                    s.name,
                    s.frames.len(),
                    self.spec.height,
                    self.spec.width
                )));
            }
        }
        let steps = t_len - rollout.start;
        if let Some(a) = rollout.actions {
            if a.len() < steps {
                return Err(EvalError::Invalid(format!(
                    "{} actions for {steps} predicted steps",
                    a.len()
                )));
            }
        }
        let frame = |i: usize| &rollout.truth[i * fb..(i + 1) * fb];
        // The truth from the last context frame on: index = step.
        let truth: Vec<Extracted> = (rollout.start - 1..t_len)
            .map(|i| self.extract(frame(i)))
            .collect::<Result<_, _>>()?;
        let truth_tracks = self.tracks(&truth);
        let future = &rollout.truth[rollout.start * fb..];
        let prev = match rollout.start {
            1 => None,
            s => Some(self.extract(frame(s - 2))?.measures),
        };
        let drawn = BaselineFrames {
            last: frame(rollout.start - 1),
            last_labels: &truth[0].labels,
            last_measures: &truth[0].measures,
            prev_measures: prev.as_deref(),
            tracked: &self.tracked,
            arena: self.arena,
            height: self.spec.height,
            width: self.spec.width,
        };
        let actions = rollout.actions.map(|a| &a[..steps]);
        let baseline_frames = drawn.all(steps, self.action.as_ref(), actions);

        let mut seen = Vec::new();
        for s in &rollout.sources {
            let k = match self.sources.iter().position(|n| n == s.name) {
                Some(k) => k,
                None => {
                    self.sources.push(s.name.to_string());
                    self.source_scores.push(vec![None; self.rollouts]);
                    self.source_collisions.push(CollisionAcc::default());
                    self.sources.len() - 1
                }
            };
            if seen.contains(&k) {
                return Err(EvalError::Invalid(format!(
                    "source `{}` given twice in one rollout",
                    s.name
                )));
            }
            seen.push(k);
            let (scores, tracks, len) =
                self.score_source(s.frames, steps, future, &truth, &truth_tracks)?;
            self.source_collisions[k].add(&tracks, &truth_tracks, len + 1, &self.config.collision);
            self.source_scores[k].push((len > 0).then_some(scores));
        }
        for (k, scores) in self.source_scores.iter_mut().enumerate() {
            if !seen.contains(&k) {
                scores.push(None);
            }
        }
        for (b, frames) in baseline_frames.iter().enumerate() {
            let Some(frames) = frames else {
                self.baseline_scores[b].push(None);
                continue;
            };
            let (scores, tracks, len) =
                self.score_source(frames, steps, future, &truth, &truth_tracks)?;
            self.baseline_collisions[b].add(
                &tracks,
                &truth_tracks,
                len + 1,
                &self.config.collision,
            );
            self.baseline_scores[b].push(Some(scores));
        }
        self.rollouts += 1;
        Ok(())
    }

    /// Per tracked object, its centroid track over `frames` (index 0 the last
    /// context frame).
    fn tracks(&self, frames: &[Extracted]) -> Vec<Track> {
        self.tracked
            .iter()
            .map(|&i| frames.iter().map(|f| f.measures[i].centroid_xy).collect())
            .collect()
    }

    /// Scores `frames` (`[P, H, W, 3]`) at steps `1..=min(P, steps)` against the
    /// true frames `truth_pixels` (`[steps, H, W, 3]`, measured in `truth`, index 0
    /// the last context frame): the scores, the tracks and the steps scored.
    fn score_source(
        &self,
        frames: &[u8],
        steps: usize,
        truth_pixels: &[u8],
        truth: &[Extracted],
        truth_tracks: &[Track],
    ) -> Result<(Vec<FrameScore>, Vec<Track>, usize), EvalError> {
        let fb = self.frame_bytes();
        let len = (frames.len() / fb).min(steps);
        let pred: Vec<Extracted> = frames
            .chunks_exact(fb)
            .take(len)
            .map(|f| self.extract(f))
            .collect::<Result<_, _>>()?;
        // Index 0 is the last context frame, shared with the truth.
        let mut tracks = truth_tracks
            .iter()
            .map(|t| vec![t[0]])
            .collect::<Vec<Track>>();
        for (k, &i) in self.tracked.iter().enumerate() {
            tracks[k].extend(pred.iter().map(|p| p.measures[i].centroid_xy));
        }
        let scores = (1..=len)
            .map(|h| {
                let ctx = FrameContext {
                    tracked: &self.tracked,
                    height: self.spec.height,
                    width: self.spec.width,
                    miss_penalty_px: self.miss_penalty,
                    step: h,
                    pred_tracks: &tracks,
                    true_tracks: truth_tracks,
                };
                let t = &truth[h];
                let p = &pred[h - 1];
                score_frame(
                    &ctx,
                    &Scored {
                        frame: &truth_pixels[(h - 1) * fb..h * fb],
                        labels: &t.labels,
                        measures: &t.measures,
                    },
                    &Scored {
                        frame: &frames[(h - 1) * fb..h * fb],
                        labels: &p.labels,
                        measures: &p.measures,
                    },
                )
            })
            .collect();
        Ok((scores, tracks, len))
    }

    /// Names and scores of every method with at least one scored rollout: the
    /// sources in order, then the baselines.
    fn methods(&self) -> Vec<(&str, &EpisodeScores, &CollisionAcc)> {
        let sources = self
            .sources
            .iter()
            .zip(&self.source_scores)
            .zip(&self.source_collisions)
            .map(|((n, s), c)| (n.as_str(), s, c));
        let drawn = baselines::NAMES
            .iter()
            .zip(&self.baseline_scores)
            .zip(&self.baseline_collisions)
            .map(|((n, s), c)| (*n, s, c));
        sources
            .chain(drawn)
            .filter(|(_, s, _)| s.iter().any(Option::is_some))
            .collect()
    }

    /// The statistics of everything added so far.
    pub fn report(&self) -> EvalReport {
        let to_64 = 64.0 / self.spec.height.max(self.spec.width) as f64;
        let objects: Vec<String> = self
            .tracked
            .iter()
            .map(|&i| self.spec.colors[i].name.clone())
            .collect();
        let methods = self.methods();
        let longest = methods
            .iter()
            .flat_map(|(_, s, _)| s.iter().flatten().map(Vec::len))
            .max()
            .unwrap_or(0);
        let steps = longest.min(SUMMARY_STEPS);
        let comparisons = match methods.first() {
            Some(&(model, a, _)) if !self.sources.is_empty() => methods[1..]
                .iter()
                .map(|&(name, b, _)| compare((model, a), (name, b), &self.config.horizons, steps))
                .collect(),
            _ => Vec::new(),
        };
        EvalReport {
            horizons: self.config.horizons.clone(),
            frame_height: self.spec.height,
            frame_width: self.spec.width,
            rollouts: self.rollouts,
            metres_per_px: self.spec.metres_per_px,
            miss_penalty_px: self.miss_penalty,
            methods: methods
                .iter()
                .map(|&(name, scores, collisions)| MethodReport {
                    name: name.to_string(),
                    horizons: self
                        .config
                        .horizons
                        .iter()
                        .map(|&h| {
                            horizon_stats(scores, h, &objects, to_64, self.spec.metres_per_px)
                        })
                        .collect(),
                    summary: summary(scores, steps, self.spec.metres_per_px),
                    collision_timing: collisions.timing(),
                })
                .collect(),
            objects,
            comparisons,
        }
    }
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
