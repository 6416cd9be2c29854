//! From per-episode frame scores to the report's statistics: one method at one
//! horizon ([`horizon_stats`]), its means over steps 1 to 32 ([`summary`]) and the
//! paired comparison of two methods ([`compare`]).
//!
//! Every mean with an interval is a mean over episodes of a per-episode value
//! (normal 95% interval, [`Stat`]); shares (kept, missed, count preserved) and the
//! median area ratio pool every (episode, object) pair.

use super::paired::{paired_point, verdict, Comparison, PairedPoint};
use super::report::{HorizonStats, ObjectStats, Summary};
use super::scoring::{mean, FrameScore};
use super::{median, Stat};

/// One method's scores: per episode (rollout), its frame scores at steps
/// `1..=len` (`None`: the method did not predict that episode).
pub(crate) type EpisodeScores = Vec<Option<Vec<FrameScore>>>;

/// The score at step `h` (1-based) of every episode that reaches it.
fn at(scores: &EpisodeScores, h: usize) -> impl Iterator<Item = &FrameScore> {
    scores.iter().filter_map(move |e| e.as_ref()?.get(h - 1))
}

fn share(hits: usize, total: usize) -> Option<f64> {
    (total > 0).then(|| hits as f64 / total as f64)
}

/// The statistics of one method at horizon `h`.
pub(crate) fn horizon_stats(
    scores: &EpisodeScores,
    h: usize,
    objects: &[String],
    to_64: f64,
    metres_per_px: Option<f32>,
) -> HorizonStats {
    let frames: Vec<&FrameScore> = at(scores, h).collect();
    let errors: Vec<f64> = frames.iter().filter_map(|f| f.mean_error_px()).collect();
    let error = Stat::of(&errors);
    let all_objects = || frames.iter().flat_map(|f| f.objects.iter().flatten());
    let in_truth = all_objects().count();
    let stat_of = |f: &dyn Fn(&FrameScore) -> Option<f64>| {
        Stat::of(&frames.iter().filter_map(|s| f(s)).collect::<Vec<_>>())
    };
    HorizonStats {
        horizon: h,
        samples: frames.len(),
        centroid_error_px: error,
        centroid_error_64: error.map(|s| s.scaled(to_64)),
        centroid_error_m: error
            .zip(metres_per_px)
            .map(|(s, m)| s.scaled(f64::from(m))),
        miss_rate: share(all_objects().filter(|o| o.missed).count(), in_truth),
        kept_share: share(all_objects().filter(|o| o.kept()).count(), in_truth),
        mean_iou: mean(all_objects().map(|o| o.iou)),
        median_area_ratio: median(&all_objects().map(|o| o.area_ratio).collect::<Vec<_>>()),
        psnr_db: stat_of(&|f| Some(f.psnr)),
        ssim: stat_of(&|f| Some(f.ssim)),
        sharpness: stat_of(&|f| f.sharpness),
        velocity_error_px: stat_of(&|f| f.mean_velocity_error()),
        count_preserved: share(
            frames.iter().filter(|f| f.count_preserved).count(),
            frames.len(),
        ),
        per_object: objects
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let mine: Vec<_> = frames.iter().filter_map(|f| f.objects[k]).collect();
                ObjectStats {
                    name: name.clone(),
                    centroid_error_px: Stat::of(
                        &mine.iter().map(|o| o.error_px).collect::<Vec<_>>(),
                    ),
                    kept_share: share(mine.iter().filter(|o| o.kept()).count(), mine.len()),
                    mean_iou: mean(mine.iter().map(|o| o.iou)),
                    truth_present: mine.len(),
                    missed: mine.iter().filter(|o| o.missed).count(),
                    velocity_error_px: Stat::of(
                        &frames
                            .iter()
                            .filter_map(|f| f.velocity_errors[k])
                            .collect::<Vec<_>>(),
                    ),
                }
            })
            .collect(),
    }
}

/// Per episode, the mean over its steps `1..=steps` of `value` (steps without a
/// value skipped; `None` for an episode without any).
fn episode_means(
    scores: &EpisodeScores,
    steps: usize,
    value: impl Fn(&FrameScore) -> Option<f64>,
) -> Vec<Option<f64>> {
    scores
        .iter()
        .map(|e| mean(e.as_ref()?.iter().take(steps).filter_map(&value)))
        .collect()
}

/// Per episode, the centroid error averaged over its steps `1..=steps`.
pub(crate) fn episode_errors(scores: &EpisodeScores, steps: usize) -> Vec<Option<f64>> {
    episode_means(scores, steps, FrameScore::mean_error_px)
}

/// Per episode, the kept share of the true objects averaged over its steps `1..=steps`.
pub(crate) fn episode_kept(scores: &EpisodeScores, steps: usize) -> Vec<Option<f64>> {
    episode_means(scores, steps, FrameScore::kept_share)
}

/// Per episode, `(error, kept share)` at each of `horizons` (`None` where the
/// episode does not reach it or nothing was measurable).
pub(crate) fn episode_at(
    scores: &EpisodeScores,
    horizons: &[usize],
) -> Vec<Vec<Option<(f64, f64)>>> {
    let per_h: Vec<_> = horizons.iter().map(|&h| at_step(scores, h)).collect();
    (0..scores.len())
        .map(|e| per_h.iter().map(|v| v[e]).collect())
        .collect()
}

/// The means over steps `1..=steps` of one method.
pub(crate) fn summary(scores: &EpisodeScores, steps: usize, metres_per_px: Option<f32>) -> Summary {
    let stat = |value: &dyn Fn(&FrameScore) -> Option<f64>| {
        Stat::of(
            &episode_means(scores, steps, value)
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
        )
    };
    let error = stat(&|f| f.mean_error_px());
    let frames = || {
        scores
            .iter()
            .filter_map(|e| e.as_ref())
            .flat_map(|e| e.iter().take(steps))
    };
    let objects = || frames().flat_map(|f| f.objects.iter().flatten());
    let in_truth = objects().count();
    let frame_count = frames().count();
    Summary {
        steps,
        episodes: scores.iter().filter(|e| e.is_some()).count(),
        centroid_error_px: error,
        centroid_error_m: error
            .zip(metres_per_px)
            .map(|(s, m)| s.scaled(f64::from(m))),
        kept_share: share(objects().filter(|o| o.kept()).count(), in_truth),
        mean_iou: mean(objects().map(|o| o.iou)),
        miss_rate: share(objects().filter(|o| o.missed).count(), in_truth),
        psnr_db: stat(&|f| Some(f.psnr)),
        ssim: stat(&|f| Some(f.ssim)),
        sharpness: stat(&|f| f.sharpness),
        velocity_error_px: stat(&|f| f.mean_velocity_error()),
        count_preserved: share(frames().filter(|f| f.count_preserved).count(), frame_count),
    }
}

/// Per episode, `(error, kept share)` at step `h`.
fn at_step(scores: &EpisodeScores, h: usize) -> Vec<Option<(f64, f64)>> {
    scores
        .iter()
        .map(|e| {
            let f = e.as_ref()?.get(h - 1)?;
            Some((f.mean_error_px()?, f.kept_share()?))
        })
        .collect()
}

/// Per episode, `(error, kept share)` averaged over the steps `1..=steps` that
/// both methods scored.
fn over_steps(a: &EpisodeScores, b: &EpisodeScores, steps: usize) -> [Vec<Option<(f64, f64)>>; 2] {
    let common = |x: &Option<Vec<FrameScore>>, y: &Option<Vec<FrameScore>>| {
        let n = x.as_ref()?.len().min(y.as_ref()?.len()).min(steps);
        (n > 0).then_some(n)
    };
    let mean_of = |e: &Option<Vec<FrameScore>>, n: usize| -> Option<(f64, f64)> {
        let frames = &e.as_ref()?[..n];
        Some((
            mean(frames.iter().filter_map(FrameScore::mean_error_px))?,
            mean(frames.iter().filter_map(FrameScore::kept_share))?,
        ))
    };
    let pairs: Vec<_> = a
        .iter()
        .zip(b)
        .map(|(x, y)| match common(x, y) {
            Some(n) => (mean_of(x, n), mean_of(y, n)),
            None => (None, None),
        })
        .collect();
    [
        pairs.iter().map(|p| p.0).collect(),
        pairs.iter().map(|p| p.1).collect(),
    ]
}

/// The paired comparison of `model` against `baseline` at `horizons` and over
/// steps `1..=steps`, with its verdict.
pub(crate) fn compare(
    (model, a): (&str, &EpisodeScores),
    (baseline, b): (&str, &EpisodeScores),
    horizons: &[usize],
    steps: usize,
) -> Comparison {
    let points: Vec<PairedPoint> = horizons
        .iter()
        .map(|&h| paired_point(h, &at_step(a, h), &at_step(b, h)))
        .collect();
    let [ma, mb] = over_steps(a, b, steps);
    let h1_32 = paired_point(steps, &ma, &mb);
    let sharpness = summary(a, steps, None).sharpness.map(|s| s.mean);
    Comparison {
        model: model.to_string(),
        baseline: baseline.to_string(),
        verdict: verdict(baseline, &points, &h1_32, sharpness),
        horizons: points,
        h1_32,
    }
}
