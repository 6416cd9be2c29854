//! Benchmark tasks: the physics episodes every predictor is scored on.
//!
//! A task is one episode from a seed: the scenario reset to the seed and stepped
//! through the `W - 1` warm-up actions gives the `W` context frames (exactly as
//! [`crate::dream::context_frames`] does); then `horizon` actions are drawn from the
//! [`ActionPlan`] (by the evaluation's seeded action source, so the episodes are
//! those `somnium eval` has always scored) and physics plays them, giving the true
//! future frames, where physics terminated, and the ceiling's frames: physics rerun
//! from the end of the context with every object nudged by `nudge_m` metres.
//!
//! Generation is deterministic: the same scenario, seeds, plan and sizes give the
//! same bytes, which is how `somnium benchmark score` rebuilds the truth that
//! `somnium benchmark export` never writes. Callers generate tasks in chunks of
//! seeds so memory stays bounded at long horizons.

use rayon::prelude::*;
use somnium_scenarios::{Action, Scenario, Space};

use super::episodes::{warm_twin, Actor};
use crate::lockstep::{clone_scenario, ActionPlan};
use crate::EnvError;

/// One benchmark episode.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub seed: u64,
    /// Context frames `W`.
    pub context_frames: usize,
    /// `[W + horizon, H, W, 3]` u8: the context frames, then the true future.
    pub frames: Vec<u8>,
    /// `W - 1 + horizon` actions; `actions[t]` acts between frame `t` and `t + 1`
    /// (the first `W - 1` are the warm-up actions of the context).
    pub actions: Vec<Action>,
    /// `[horizon, H, W, 3]` u8: the future of the perturbed-physics twin (the ceiling).
    pub perturbed: Vec<u8>,
    /// The first step after the context where physics terminated (1-based).
    pub physics_end: Option<usize>,
}

impl Task {
    /// Steps predicted after the context.
    pub fn horizon(&self) -> usize {
        self.actions.len() + 1 - self.context_frames
    }

    /// Bytes of one frame.
    pub fn frame_bytes(&self) -> usize {
        self.frames.len() / (self.context_frames + self.horizon()).max(1)
    }

    /// The `W` context frames.
    pub fn context(&self) -> &[u8] {
        &self.frames[..self.context_frames * self.frame_bytes()]
    }

    /// The true future frames, `[horizon, H, W, 3]`.
    pub fn future(&self) -> &[u8] {
        &self.frames[self.context_frames * self.frame_bytes()..]
    }

    /// The actions of the predicted steps (`horizon` of them): `[k]` produces future frame `k`.
    pub fn future_actions(&self) -> &[Action] {
        &self.actions[self.context_frames - 1..]
    }
}

/// An action as the evaluator's action-aware baseline takes it:
/// `Continuous(v)` is `v`, `Discrete(i)` of `n` choices the one-hot vector of length `n`.
pub fn encode_action(space: &Space, action: &Action) -> Vec<f32> {
    match (space, action) {
        (Space::Discrete(n), Action::Discrete(i)) => {
            let mut v = vec![0.0; *n];
            if let Some(x) = v.get_mut(*i) {
                *x = 1.0;
            }
            v
        }
        (_, a) => a.to_f32(),
    }
}

/// Encodes every action of `actions` ([`encode_action`]).
pub fn encode_actions(space: &Space, actions: &[Action]) -> Vec<Vec<f32>> {
    actions.iter().map(|a| encode_action(space, a)).collect()
}

/// Generates the tasks of `seeds` (one each, in order); see the module docs.
pub fn generate_tasks(
    scenario: &dyn Scenario,
    seeds: &[u64],
    plan: &ActionPlan,
    context_frames: usize,
    horizon: usize,
    size: (usize, usize),
    nudge_m: f32,
) -> Result<Vec<Task>, EnvError> {
    if context_frames == 0 {
        return Err(EnvError::BadConfig(
            "a benchmark task needs at least one context frame".into(),
        ));
    }
    // scenarios are Send but not Sync: one fresh pair per episode, made here
    let twins = seeds
        .iter()
        .map(|&s| Ok((s, clone_scenario(scenario)?, clone_scenario(scenario)?)))
        .collect::<Result<Vec<_>, EnvError>>()?;
    twins
        .into_par_iter()
        .map(|(seed, twin, other)| {
            one_task(
                twin,
                other,
                seed,
                plan,
                context_frames,
                horizon,
                size,
                nudge_m,
            )
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn one_task(
    mut twin: Box<dyn Scenario>,
    mut perturbed: Box<dyn Scenario>,
    seed: u64,
    plan: &ActionPlan,
    wn: usize,
    horizon: usize,
    (h, w): (usize, usize),
    nudge_m: f32,
) -> Result<Task, EnvError> {
    let mut frames = warm_twin(twin.as_mut(), seed, wn, (h, w))?;
    warm_twin(perturbed.as_mut(), seed, wn, (h, w))?;
    perturbed.nudge(nudge_m, seed ^ 0xBADC_0FFE);
    let warmup = crate::dream::warmup_action(&twin.action_space());
    let mut actions = vec![warmup; wn - 1];
    let mut future = Vec::with_capacity(horizon * h * w * 3);
    let mut physics_end = None;
    let mut actor = Actor::new(plan, seed);
    frames.reserve(horizon * h * w * 3);
    for k in 0..horizon {
        let action = actor.next(twin.as_ref());
        if twin.step(&action)?.terminated && physics_end.is_none() {
            physics_end = Some(k + 1);
        }
        perturbed.step(&action)?;
        frames.extend(twin.render(w, h).data);
        future.extend(perturbed.render(w, h).data);
        actions.push(action);
    }
    Ok(Task {
        seed,
        context_frames: wn,
        frames,
        actions,
        perturbed: future,
        physics_end,
    })
}

#[cfg(test)]
mod tests {
    use somnium_scenarios::make;

    use super::*;

    #[test]
    fn the_same_seeds_give_the_same_bytes() {
        let s = make("push-v0", "id").unwrap();
        let plan = ActionPlan::Random { seed: 3 };
        let a = generate_tasks(s.as_ref(), &[5, 6], &plan, 3, 6, (32, 32), 1e-4).unwrap();
        let b = generate_tasks(s.as_ref(), &[6], &plan, 3, 6, (32, 32), 1e-4).unwrap();
        assert_eq!(
            a[1], b[0],
            "a task does not depend on the chunk it is made in"
        );
        assert_ne!(a[0].frames, a[1].frames);
        let t = &a[0];
        assert_eq!((t.horizon(), t.actions.len()), (6, 8));
        assert_eq!(t.frames.len(), 9 * 32 * 32 * 3);
        assert_eq!(t.perturbed.len(), 6 * 32 * 32 * 3);
        let mut twin = make("push-v0", "id").unwrap();
        let ctx = crate::dream::context_frames(twin.as_mut(), 5, 3, 32, 32).unwrap();
        let ctx: Vec<u8> = ctx.into_iter().flat_map(|f| f.data).collect();
        assert_eq!(
            t.context(),
            &ctx[..],
            "the context is dream::context_frames'"
        );
        // replaying the recorded actions in physics gives the recorded future
        for a in t.future_actions() {
            twin.step(a).unwrap();
        }
        assert_eq!(
            &twin.render(32, 32).data[..],
            &t.future()[5 * 32 * 32 * 3..]
        );
    }

    #[test]
    fn discrete_actions_are_one_hot() {
        let space = Space::Discrete(3);
        assert_eq!(
            encode_action(&space, &Action::Discrete(2)),
            vec![0.0, 0.0, 1.0]
        );
        let boxed = make("push-v0", "id").unwrap().action_space();
        assert_eq!(
            encode_action(&boxed, &Action::Continuous(vec![0.5, -1.0])),
            vec![0.5, -1.0]
        );
    }
}
