//! [`CemPlanner`]: model-predictive control by the cross-entropy method. For each
//! env it samples a population of action sequences, asks the env's
//! [`Imagine`](somnium_env::Imagine) what they lead to, refits the sampling
//! distribution to the best (elite) sequences, and executes the first actions of
//! the best sequence found; the rest warm-starts the next plan.
//!
//! Continuous actions use a diagonal Gaussian per step (clipped to the box);
//! discrete actions a categorical per step.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use somnium_env::{Action, Observation, Space};

use crate::policy::{check_batch, EnvView, Policy};
use crate::AgentError;

/// Settings of [`CemPlanner`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CemConfig {
    /// Decisions looked ahead; each is held for `action_repeat` env steps.
    pub horizon: usize,
    /// Env steps each planned action is held for (looks further for the same cost).
    pub action_repeat: usize,
    /// Sequences imagined per iteration.
    pub population: usize,
    /// Best sequences the distribution is refitted to.
    pub elites: usize,
    pub iterations: usize,
    /// Weight of the old distribution when refitting (0: forget it).
    pub smoothing: f32,
    /// Initial std as a fraction of the box's half width.
    pub init_std: f32,
    /// Actions executed from each plan before planning again.
    pub replan_every: usize,
    /// Discount of imagined rewards.
    pub gamma: f32,
    pub seed: u64,
}

impl Default for CemConfig {
    fn default() -> Self {
        CemConfig {
            horizon: 12,
            action_repeat: 1,
            population: 48,
            elites: 6,
            iterations: 3,
            smoothing: 0.1,
            init_std: 0.6,
            replan_every: 2,
            gamma: 0.98,
            seed: 0,
        }
    }
}

/// The plan of one env: the sampling distribution and the actions still queued.
#[derive(Clone, Default)]
struct EnvPlan {
    /// Continuous: per-step means `[H][A]`; discrete: per-step probabilities `[H][n]`.
    params: Vec<Vec<f32>>,
    queue: VecDeque<Action>,
}

/// CEM over an env's imagination.
pub struct CemPlanner {
    config: CemConfig,
    rng: ChaCha8Rng,
    plans: Vec<EnvPlan>,
}

impl CemPlanner {
    pub fn new(config: CemConfig) -> Result<Self, AgentError> {
        if config.horizon == 0
            || config.population == 0
            || config.elites == 0
            || config.elites > config.population
            || config.iterations == 0
            || config.replan_every == 0
            || config.action_repeat == 0
        {
            return Err(AgentError::BadConfig(format!(
                "CEM needs horizon, population, iterations, replan_every >= 1 and 1 <= elites <= population: {config:?}"
            )));
        }
        Ok(CemPlanner {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            plans: Vec::new(),
        })
    }

    pub fn config(&self) -> &CemConfig {
        &self.config
    }

    /// Plan from `env`'s current state; returns the best sequence found (in env
    /// steps, `horizon * action_repeat` long) and its score.
    pub fn plan(
        &mut self,
        env: &dyn EnvView,
        index: usize,
    ) -> Result<(Vec<Action>, f32), AgentError> {
        let imaginer = env.imaginer().ok_or_else(|| AgentError::Unsupported {
            policy: "cem".into(),
            reason: "the env cannot imagine (no look-ahead)".into(),
        })?;
        let space = env.action_space();
        let c = self.config.clone();
        if self.plans.len() <= index {
            self.plans.resize(index + 1, EnvPlan::default());
        }
        let mut params = std::mem::take(&mut self.plans[index].params);
        let fresh = || -> Vec<f32> {
            match &space {
                Space::Discrete(n) => vec![1.0 / *n as f32; *n],
                Space::Box { low, high, .. } => {
                    low.iter().zip(high).map(|(l, h)| 0.5 * (l + h)).collect()
                }
            }
        };
        params.truncate(c.horizon);
        while params.len() < c.horizon {
            params.push(fresh());
        }
        let half_width: Vec<f32> = match &space {
            Space::Box { low, high, .. } => {
                low.iter().zip(high).map(|(l, h)| 0.5 * (h - l)).collect()
            }
            Space::Discrete(_) => Vec::new(),
        };
        let mut stds: Vec<Vec<f32>> =
            vec![half_width.iter().map(|w| w * c.init_std).collect(); c.horizon];
        let mut best: Option<(Vec<Action>, f32)> = None;
        for _ in 0..c.iterations {
            let mut candidates: Vec<Vec<Action>> = Vec::with_capacity(c.population);
            for k in 0..c.population {
                candidates.push(
                    (0..c.horizon)
                        .map(|t| match &space {
                            Space::Discrete(_) => {
                                Action::Discrete(sample_index(&params[t], &mut self.rng))
                            }
                            Space::Box { .. } => {
                                let a = params[t]
                                    .iter()
                                    .zip(&stds[t])
                                    .map(|(m, s)| {
                                        // Candidate 0 is the current mean itself.
                                        let z: f32 = if k == 0 {
                                            0.0
                                        } else {
                                            StandardNormal.sample(&mut self.rng)
                                        };
                                        m + s * z
                                    })
                                    .collect();
                                space.clip(&Action::Continuous(a))
                            }
                        })
                        .collect(),
                );
            }
            let expanded: Vec<Vec<Action>> = candidates
                .iter()
                .map(|knots| repeat_each(knots, c.action_repeat))
                .collect();
            let rollouts = imaginer.imagine(&expanded)?;
            let mut scored: Vec<(usize, f32)> = rollouts
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    let s = r.discounted_return(c.gamma);
                    (k, if s.is_finite() { s } else { f32::NEG_INFINITY })
                })
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let elites: Vec<&Vec<Action>> = scored[..c.elites]
                .iter()
                .map(|(k, _)| &candidates[*k])
                .collect();
            if best.as_ref().is_none_or(|(_, s)| scored[0].1 > *s) {
                best = Some((candidates[scored[0].0].clone(), scored[0].1));
            }
            for t in 0..c.horizon {
                match &space {
                    Space::Discrete(n) => {
                        let mut freq = vec![0.0f32; *n];
                        for e in &elites {
                            if let Action::Discrete(i) = e[t] {
                                freq[i] += 1.0 / elites.len() as f32;
                            }
                        }
                        for (p, f) in params[t].iter_mut().zip(freq) {
                            *p = c.smoothing * *p + (1.0 - c.smoothing) * f;
                        }
                    }
                    Space::Box { .. } => {
                        let vals: Vec<Vec<f32>> = elites.iter().map(|e| e[t].to_f32()).collect();
                        for d in 0..params[t].len() {
                            let m = vals.iter().map(|v| v[d]).sum::<f32>() / vals.len() as f32;
                            let var = vals.iter().map(|v| (v[d] - m).powi(2)).sum::<f32>()
                                / vals.len() as f32;
                            params[t][d] = c.smoothing * params[t][d] + (1.0 - c.smoothing) * m;
                            stds[t][d] = (c.smoothing * stds[t][d]
                                + (1.0 - c.smoothing) * var.sqrt())
                            .max(0.02 * half_width[d]);
                        }
                    }
                }
            }
        }
        let (sequence, score) =
            best.ok_or_else(|| AgentError::BadConfig("no candidates".into()))?;
        // Warm start: the best sequence, shifted by the actions about to be executed.
        let keep = c.replan_every.div_ceil(c.action_repeat).min(c.horizon);
        self.plans[index].params = match &space {
            Space::Box { .. } => sequence[keep..].iter().map(Action::to_f32).collect(),
            Space::Discrete(n) => sequence[keep..]
                .iter()
                .map(|a| {
                    let mut p = vec![0.5 / *n as f32; *n];
                    if let Action::Discrete(i) = a {
                        p[*i] += 0.5;
                    }
                    p
                })
                .collect(),
        };
        Ok((repeat_each(&sequence, c.action_repeat), score))
    }
}

/// Each action of `knots` held for `repeat` steps.
fn repeat_each(knots: &[Action], repeat: usize) -> Vec<Action> {
    knots
        .iter()
        .flat_map(|a| std::iter::repeat_n(a.clone(), repeat))
        .collect()
}

fn sample_index(probs: &[f32], rng: &mut ChaCha8Rng) -> usize {
    let u: f32 = rng.random::<f32>() * probs.iter().sum::<f32>();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    probs.len() - 1
}

impl Policy for CemPlanner {
    fn name(&self) -> String {
        "cem".into()
    }

    fn act(
        &mut self,
        envs: &[&dyn EnvView],
        obs: &[Observation],
    ) -> Result<Vec<Action>, AgentError> {
        check_batch(envs, obs)?;
        if self.plans.len() < envs.len() {
            self.plans.resize(envs.len(), EnvPlan::default());
        }
        let mut actions = Vec::with_capacity(envs.len());
        for (i, env) in envs.iter().enumerate() {
            if env.elapsed_steps() == 0 {
                self.plans[i] = EnvPlan::default();
            }
            if self.plans[i].queue.is_empty() {
                let (sequence, _) = self.plan(*env, i)?;
                let keep = self.config.replan_every.min(sequence.len());
                self.plans[i].queue = sequence.into_iter().take(keep).collect();
            }
            let action = self.plans[i]
                .queue
                .pop_front()
                .ok_or_else(|| AgentError::BadConfig("empty plan".into()))?;
            actions.push(action);
        }
        Ok(actions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use somnium_env::{EnvError, Frame, Imagine, ImaginedRollout, Scenario};

    /// A toy env whose imagined reward per step is known: `-(a - 0.7)^2` per
    /// dimension (continuous) or `1` for action 2 (discrete).
    struct Toy {
        space: Space,
    }

    impl Imagine for Toy {
        fn imagine(&self, seqs: &[Vec<Action>]) -> Result<Vec<ImaginedRollout>, EnvError> {
            Ok(seqs
                .iter()
                .map(|s| ImaginedRollout {
                    rewards: s
                        .iter()
                        .map(|a| match a {
                            Action::Discrete(i) => f32::from(*i == 2),
                            Action::Continuous(v) => {
                                -v.iter().map(|x| (x - 0.7).powi(2)).sum::<f32>()
                            }
                        })
                        .collect(),
                    terminated: vec![false; s.len()],
                    frames: None,
                })
                .collect())
        }
    }

    impl EnvView for Toy {
        fn action_space(&self) -> Space {
            self.space.clone()
        }
        fn elapsed_steps(&self) -> u32 {
            1
        }
        fn scenario(&self) -> Option<&dyn Scenario> {
            None
        }
        fn imaginer(&self) -> Option<&dyn Imagine> {
            Some(self)
        }
    }

    fn obs() -> Observation {
        Observation {
            frame: Frame {
                width: 1,
                height: 1,
                data: vec![0; 3],
            },
            state: None,
        }
    }

    #[test]
    fn the_planner_picks_the_better_action_on_a_toy_env() {
        let continuous = Toy {
            space: Space::Box {
                low: vec![-1.0; 2],
                high: vec![1.0; 2],
                shape: vec![2],
            },
        };
        let mut cem = CemPlanner::new(CemConfig {
            horizon: 3,
            iterations: 6,
            ..CemConfig::default()
        })
        .unwrap();
        let a = cem.act(&[&continuous], &[obs()]).unwrap();
        let Action::Continuous(v) = &a[0] else {
            panic!("{a:?}")
        };
        assert!(v.iter().all(|x| (x - 0.7).abs() < 0.15), "{v:?}");
        let discrete = Toy {
            space: Space::Discrete(4),
        };
        let mut cem = CemPlanner::new(CemConfig {
            horizon: 3,
            ..CemConfig::default()
        })
        .unwrap();
        for _ in 0..4 {
            assert_eq!(
                cem.act(&[&discrete], &[obs()]).unwrap(),
                vec![Action::Discrete(2)]
            );
        }
    }

    #[test]
    fn held_actions_make_plans_longer_for_the_same_decisions() {
        let discrete = Toy {
            space: Space::Discrete(4),
        };
        let mut cem = CemPlanner::new(CemConfig {
            horizon: 3,
            action_repeat: 2,
            ..CemConfig::default()
        })
        .unwrap();
        let (plan, score) = cem.plan(&discrete, 0).unwrap();
        assert_eq!(plan.len(), 6);
        assert_eq!(plan[0], plan[1]);
        assert!(score > 0.0);
    }

    #[test]
    fn bad_settings_are_refused() {
        let err = CemPlanner::new(CemConfig {
            elites: 100,
            population: 10,
            ..CemConfig::default()
        });
        assert!(err.is_err());
    }
}
