//! Action-following: whether the dream responds to its actions as physics does.
//!
//! From the same state (the end of an episode's context), two opposite constant
//! action sequences are played for `horizon` steps, once in physics and once
//! imagined by the dream. The response is the distance in pixels between the
//! controlled object's final centroids under the two sequences; a model that
//! ignores its actions has a dream response of zero however well it predicts
//! passive motion.

use serde::{Deserialize, Serialize};
use somnium_scenarios::{Action, Scenario, Space};
use somnium_world_model::metrics::Stat;

use super::meter::FrameMeter;
use crate::dream::DreamModel;
use crate::lockstep::clone_scenario;
use crate::{DreamEnv, Env, EnvError, Imagine};

/// The action-following score of a model on a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionFollowing {
    /// The object the actions move.
    pub object: String,
    /// Steps each action sequence is played.
    pub horizon: usize,
    /// Per episode: distance between the two physics outcomes, pixels.
    pub physics_response_px: Option<Stat>,
    /// Per episode: distance between the two dreamed outcomes, pixels.
    pub dream_response_px: Option<Stat>,
    /// Mean dream response over mean physics response (1 is perfect).
    pub ratio: Option<f64>,
    /// Mean over episodes of `|dream - physics| / physics` response.
    pub relative_error: Option<f64>,
    /// Whether the relative error is within the 25% goal.
    pub within_25pct: bool,
}

/// The object the scenario's actions drive: `pusher` where there is one, else the
/// first dynamic object.
pub fn controlled_object(meter: &FrameMeter) -> Option<usize> {
    let names = meter.names();
    names
        .iter()
        .position(|n| n == "pusher")
        .or_else(|| (!names.is_empty()).then_some(0))
}

/// Two opposite constant actions: `+1` and `-1` on the first axis of a box
/// (clipped to its bounds), or the first and last choice of a discrete space.
pub fn opposite_actions(space: &Space) -> (Action, Action) {
    match space {
        Space::Box { low, high, .. } => {
            let mut a = vec![0.0f32; low.len()];
            let mut b = a.clone();
            if let (Some(l), Some(h)) = (low.first(), high.first()) {
                a[0] = h.min(1.0);
                b[0] = l.max(-1.0);
            }
            (Action::Continuous(a), Action::Continuous(b))
        }
        Space::Discrete(n) => (Action::Discrete(0), Action::Discrete(n.saturating_sub(1))),
    }
}

fn distance(a: Option<[f32; 2]>, b: Option<[f32; 2]>) -> Option<f64> {
    let (a, b) = (a?, b?);
    Some(f64::from((a[0] - b[0]).hypot(a[1] - b[1])))
}

/// Measures action-following over `seeds` (one episode each).
pub fn action_following(
    model: &DreamModel,
    prototype: &dyn Scenario,
    seeds: &[u64],
    horizon: usize,
) -> Result<Option<ActionFollowing>, EnvError> {
    let (h, w) = model.frame_size();
    let wn = model.context_frames();
    let meter = FrameMeter::new(&prototype.colors(), h, w, prototype.arena_px(w, h));
    let Some(object) = controlled_object(&meter) else {
        return Ok(None);
    };
    let (plus, minus) = opposite_actions(&prototype.action_space());
    let (mut phys, mut dream, mut rel) = (Vec::new(), Vec::new(), Vec::new());
    let centroid = |frame: &[u8]| -> Result<Option<[f32; 2]>, EnvError> {
        Ok(meter.objects(frame)?[object].centroid_xy)
    };
    for &seed in seeds {
        let mut outcomes = Vec::new();
        for action in [&plus, &minus] {
            let mut twin = clone_scenario(prototype)?;
            crate::dream::context_frames(twin.as_mut(), seed, wn, w, h)?;
            for _ in 0..horizon {
                twin.step(action)?;
            }
            outcomes.push(centroid(&twin.render(w, h).data)?);
        }
        let Some(p) = distance(outcomes[0], outcomes[1]) else {
            continue;
        };
        let mut env = DreamEnv::new(clone_scenario(prototype)?, model.clone())?;
        env.reset(Some(seed))?;
        let imagined = env.imagine(&[vec![plus.clone(); horizon], vec![minus.clone(); horizon]])?;
        let last = |k: usize| -> Result<Option<[f32; 2]>, EnvError> {
            match imagined[k].frames.as_ref().and_then(|f| f.last()) {
                Some(f) => centroid(&f.data),
                None => Ok(None),
            }
        };
        let d = distance(last(0)?, last(1)?).unwrap_or(0.0);
        phys.push(p);
        dream.push(d);
        if p > 0.0 {
            rel.push((d - p).abs() / p);
        }
    }
    let physics_response_px = Stat::of(&phys);
    let dream_response_px = Stat::of(&dream);
    let ratio = match (physics_response_px, dream_response_px) {
        (Some(p), Some(d)) if p.mean > 0.0 => Some(d.mean / p.mean),
        _ => None,
    };
    let relative_error = Stat::of(&rel).map(|s| s.mean);
    Ok(Some(ActionFollowing {
        object: meter.names()[object].clone(),
        horizon,
        physics_response_px,
        dream_response_px,
        ratio,
        relative_error,
        within_25pct: relative_error.is_some_and(|e| e <= 0.25),
    }))
}
