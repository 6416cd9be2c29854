//! Counterfactual action fidelity: whether the dream's response to a *change* of
//! actions matches physics', in direction and size (the first interventional
//! test of arXiv 2606.15032's ladder).
//!
//! For each state (a seed's physics reset and context warm-up, as
//! [`super::follow::action_following`] and `DreamEnv::reset` run it), `pairs`
//! pairs `(A, B)` of uniformly random action sequences of `horizon` steps are
//! drawn with a ChaCha8 generator seeded from the state's seed (so the result
//! is deterministic and independent of the order of the seeds). Every sequence
//! is played in a physics twin and, all `2 * pairs` in one batched call of
//! `imagine`, in the dream. The controlled object's centroid at the end
//! (pixels, [`FrameMeter`]) gives per pair a physical difference
//! `end(A) - end(B)` and a dreamed one.
//!
//! - **r** is the *pooled* Pearson correlation: each pair contributes its `x`
//!   and its `y` component as two (physics, dream) points. 1 means the dream
//!   moves the object differently under different actions exactly as physics
//!   does (up to scale); an action-blind dream scores 0 (or no r at all when
//!   every dreamed difference is zero). Its 95% interval is a percentile
//!   bootstrap over states (whole states resampled, fixed seed).
//! - **slope**: least squares of dream on physics components through the
//!   origin; 1 is the right magnitude, below 1 a damped response.
//! - **median relative error** of the difference magnitude,
//!   `| |dream| - |physics| | / |physics|`, over pairs whose physical difference
//!   is at least [`MIN_RELATIVE_PX`] (below it the ratio measures pixel noise).
//!
//! A pair where physics loses the object at either end is left out. Where the
//! dream loses it at either end, the dreamed difference counts as zero (the
//! dream shows no response), and the pair is counted in `dream_lost`.
//! Box bounds that are not finite are sampled within `[-1, 1]`.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use somnium_scenarios::{Action, Scenario, Space};
use somnium_world_model::metrics::Stat;

use super::follow::controlled_object;
use super::meter::FrameMeter;
use crate::dream::DreamModel;
use crate::lockstep::clone_scenario;
use crate::{DreamEnv, Env, EnvError, Imagine};

/// Physical differences shorter than this (pixels) are left out of the relative error.
pub const MIN_RELATIVE_PX: f64 = 1.0;
/// Bootstrap resamples of the interval of r.
const RESAMPLES: usize = 1000;
/// Mixed into a state's seed to seed its action sequences.
const ACTION_SALT: u64 = 0xC0FF_EE5E_0AC7_1035;
/// Seeds the bootstrap.
const BOOTSTRAP_SEED: u64 = 0xB007_57A9;

/// The counterfactual action fidelity of a model on a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CounterfactualFidelity {
    /// The object the actions move.
    pub object: String,
    /// Steps each action sequence is played.
    pub horizon: usize,
    /// Pairs of sequences drawn per state.
    pub pairs_per_state: usize,
    /// States (episodes, one per seed).
    pub states: usize,
    /// Pairs measured (physics found the object at both ends).
    pub pairs: usize,
    /// Of those, the pairs where the dream lost the object (difference counted as zero).
    pub dream_lost: usize,
    /// Pooled Pearson correlation of dreamed and physical difference components.
    pub r: Option<f64>,
    /// 95% percentile-bootstrap interval of `r` over states.
    pub r_ci95: Option<[f64; 2]>,
    /// Dream on physics, least squares through the origin (1 = right magnitude).
    pub slope: Option<f64>,
    /// Median of `| |dream| - |physics| | / |physics|` over pairs with `|physics| >= 1 px`.
    pub median_relative_error: Option<f64>,
    /// Physical difference magnitude, pixels, over pairs.
    pub physics_difference_px: Option<Stat>,
    /// Dreamed difference magnitude, pixels, over pairs.
    pub dream_difference_px: Option<Stat>,
}

/// A (physics, dream) pair of difference vectors, pixels.
type DiffPair = ([f64; 2], [f64; 2]);

/// Measures counterfactual action fidelity over `seeds` (one state each); `None`
/// where the scenario has no controlled object, its action space is empty, or
/// `pairs` or `horizon` is zero.
pub fn counterfactual_fidelity(
    model: &DreamModel,
    scenario: &dyn Scenario,
    seeds: &[u64],
    pairs: usize,
    horizon: usize,
) -> Result<Option<CounterfactualFidelity>, EnvError> {
    let (h, w) = model.frame_size();
    let dims = (h, w, model.context_frames());
    let dream = |seed: u64, sequences: &[Vec<Action>]| -> Result<Vec<Option<Vec<u8>>>, EnvError> {
        let mut env = DreamEnv::new(clone_scenario(scenario)?, model.clone())?;
        env.set_ignore_termination(true);
        env.reset(Some(seed))?;
        Ok(env
            .imagine(sequences)?
            .into_iter()
            .map(|r| r.frames.and_then(|mut f| f.pop()).map(|f| f.data))
            .collect())
    };
    measure(scenario, dims, seeds, pairs, horizon, dream)
}

/// The end frame of each sequence played in a physics twin from `seed`'s context.
fn physics_ends(
    scenario: &dyn Scenario,
    (h, w, wn): (usize, usize, usize),
    seed: u64,
    sequences: &[Vec<Action>],
) -> Result<Vec<Option<Vec<u8>>>, EnvError> {
    sequences
        .iter()
        .map(|sequence| {
            let mut twin = clone_scenario(scenario)?;
            crate::dream::context_frames(twin.as_mut(), seed, wn, w, h)?;
            for action in sequence {
                twin.step(action)?;
            }
            Ok(Some(twin.render(w, h).data))
        })
        .collect()
}

/// The measurement with the dream's end frames given by `dream(seed, sequences)`.
fn measure(
    scenario: &dyn Scenario,
    dims: (usize, usize, usize),
    seeds: &[u64],
    pairs: usize,
    horizon: usize,
    mut dream: impl FnMut(u64, &[Vec<Action>]) -> Result<Vec<Option<Vec<u8>>>, EnvError>,
) -> Result<Option<CounterfactualFidelity>, EnvError> {
    let (h, w, _) = dims;
    let meter = FrameMeter::new(&scenario.colors(), h, w, scenario.arena_px(w, h));
    let space = scenario.action_space();
    let empty = matches!(&space, Space::Box { low, .. } if low.is_empty())
        || matches!(space, Space::Discrete(0));
    let Some(object) = controlled_object(&meter).filter(|_| !empty && pairs > 0 && horizon > 0)
    else {
        return Ok(None);
    };
    let centroids = |ends: Vec<Option<Vec<u8>>>| -> Result<Vec<Option<[f32; 2]>>, EnvError> {
        let at = |f: Vec<u8>| Ok(meter.objects(&f)?[object].centroid_xy);
        ends.into_iter().map(|f| f.map_or(Ok(None), at)).collect()
    };
    let (mut states, mut lost) = (Vec::with_capacity(seeds.len()), 0);
    for &seed in seeds {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ACTION_SALT);
        let sequences: Vec<Vec<Action>> = (0..2 * pairs)
            .map(|_| (0..horizon).map(|_| sample(&space, &mut rng)).collect())
            .collect();
        let phys = centroids(physics_ends(scenario, dims, seed, &sequences)?)?;
        let dreamed = centroids(dream(seed, &sequences)?)?;
        let mut state = Vec::with_capacity(pairs);
        for k in 0..pairs {
            let Some(p) = difference(phys[2 * k], phys[2 * k + 1]) else {
                continue;
            };
            let d = difference(dreamed[2 * k], dreamed[2 * k + 1]).unwrap_or_else(|| {
                lost += 1;
                [0.0, 0.0]
            });
            state.push((p, d));
        }
        states.push(state);
    }
    let name = meter.names()[object].clone();
    Ok(Some(summarize(name, horizon, pairs, &states, lost)))
}

/// A uniformly random action (non-finite box bounds taken as `[-1, 1]`).
fn sample(space: &Space, rng: &mut dyn RngCore) -> Action {
    match space {
        Space::Box { low, high, .. } => Action::Continuous(
            low.iter()
                .zip(high)
                .map(|(l, h)| {
                    let lo = if l.is_finite() { *l } else { -1.0 };
                    let hi = if h.is_finite() { *h } else { 1.0 };
                    rng.random_range(lo..=hi.max(lo))
                })
                .collect(),
        ),
        Space::Discrete(n) => Action::Discrete(rng.random_range(0..*n)),
    }
}

fn difference(a: Option<[f32; 2]>, b: Option<[f32; 2]>) -> Option<[f64; 2]> {
    let (a, b) = (a?, b?);
    Some([f64::from(a[0] - b[0]), f64::from(a[1] - b[1])])
}

/// The pooled components: physics `xs` and dream `ys`, `x` and `y` of every pair.
fn components<'a>(pairs: impl Iterator<Item = &'a DiffPair>) -> (Vec<f64>, Vec<f64>) {
    pairs
        .flat_map(|(p, d)| [(p[0], d[0]), (p[1], d[1])])
        .unzip()
}

/// The score of per-state (physics, dream) difference pairs.
fn summarize(
    object: String,
    horizon: usize,
    pairs_per_state: usize,
    states: &[Vec<DiffPair>],
    dream_lost: usize,
) -> CounterfactualFidelity {
    let all: Vec<&DiffPair> = states.iter().flatten().collect();
    let (xs, ys) = components(all.iter().copied());
    let norm = |v: &[f64; 2]| v[0].hypot(v[1]);
    let phys: Vec<f64> = all.iter().map(|(p, _)| norm(p)).collect();
    let dream: Vec<f64> = all.iter().map(|(_, d)| norm(d)).collect();
    let relative: Vec<f64> = phys
        .iter()
        .zip(&dream)
        .filter(|(p, _)| **p >= MIN_RELATIVE_PX)
        .map(|(p, d)| (d - p).abs() / p)
        .collect();
    CounterfactualFidelity {
        object,
        horizon,
        pairs_per_state,
        states: states.len(),
        pairs: all.len(),
        dream_lost,
        r: pearson(&xs, &ys),
        r_ci95: bootstrap_r(states, RESAMPLES, BOOTSTRAP_SEED),
        slope: slope_through_origin(&xs, &ys),
        median_relative_error: somnium_world_model::metrics::median(&relative),
        physics_difference_px: Stat::of(&phys),
        dream_difference_px: Stat::of(&dream),
    }
}

/// Pearson's correlation of `xs` and `ys`; `None` for fewer than two points or
/// where either has no variance.
fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return None;
    }
    let mean = |v: &[f64]| v[..n].iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(xs), mean(ys));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let (dx, dy) = (x - mx, y - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// The least-squares slope of `ys` on `xs` through the origin; `None` where every `x` is zero.
fn slope_through_origin(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let sxx: f64 = xs.iter().map(|x| x * x).sum();
    (sxx > 0.0).then(|| xs.iter().zip(ys).map(|(x, y)| x * y).sum::<f64>() / sxx)
}

/// The 2.5 and 97.5 percentiles of the pooled r over `resamples` resamples of
/// whole states (seeded); `None` for fewer than two states or no defined r.
fn bootstrap_r(states: &[Vec<DiffPair>], resamples: usize, seed: u64) -> Option<[f64; 2]> {
    if states.len() < 2 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rs: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            let picks: Vec<usize> = (0..states.len())
                .map(|_| rng.random_range(0..states.len()))
                .collect();
            let (xs, ys) = components(picks.iter().flat_map(|&i| &states[i]));
            pearson(&xs, &ys)
        })
        .collect();
    rs.sort_by(f64::total_cmp);
    let last = rs.len().saturating_sub(1) as f64;
    let at = |q: f64| rs.get((q * last).round() as usize).copied();
    Some([at(0.025)?, at(0.975)?])
}

#[cfg(test)]
#[path = "counterfactual_tests.rs"]
mod tests;
