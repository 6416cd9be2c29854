//! [`VecEnv`]: N envs stepped in parallel with rayon, with same-step autoreset.

use rayon::prelude::*;
use somnium_scenarios::{Action, Space};

use crate::{Env, EnvError, Info, Observation, ObservationSpace, PhysicsEnv};

/// The batched result of [`VecEnv::step`]; index `i` belongs to sub-env `i`.
#[derive(Clone, Debug, PartialEq)]
pub struct VecStep {
    pub obs: Vec<Observation>,
    pub rewards: Vec<f32>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    pub infos: Vec<Info>,
}

/// Several envs of the same kind, stepped in parallel on rayon's thread pool.
///
/// **Autoreset rule: same-step.** When sub-env `i` terminates or is truncated in
/// a step, it is reset (with `reset(None)`, continuing its seed sequence) within
/// that same step: `obs[i]` is the new episode's first observation,
/// `rewards[i]`, `terminated[i]` and `truncated[i]` still describe the finished
/// episode's last step, and `infos[i].final_observation` / `final_info` hold the
/// finished episode's last observation and info. The next action for `i` then
/// acts on the new episode; no step is wasted.
///
/// `reset(Some(seed))` resets sub-env `i` with `seed + i`.
pub struct VecEnv<E: Env> {
    envs: Vec<E>,
}

impl<E: Env> VecEnv<E> {
    /// Gather `envs` (at least one, all with the same action space).
    pub fn new(envs: Vec<E>) -> Result<Self, EnvError> {
        let first = envs
            .first()
            .ok_or_else(|| EnvError::BadConfig("a VecEnv needs at least one env".into()))?;
        let space = first.action_space();
        if let Some(i) = envs.iter().position(|e| e.action_space() != space) {
            return Err(EnvError::BadConfig(format!(
                "sub-env {i} has a different action space from sub-env 0"
            )));
        }
        Ok(VecEnv { envs })
    }

    /// Number of sub-envs.
    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }

    /// The sub-envs.
    pub fn envs(&self) -> &[E] {
        &self.envs
    }

    /// The action space of each sub-env.
    pub fn action_space(&self) -> Space {
        self.envs[0].action_space()
    }

    /// The observation space of each sub-env.
    pub fn observation_space(&self) -> ObservationSpace {
        self.envs[0].observation_space()
    }

    /// Reset every sub-env: with `seed + i` when a seed is given, else each
    /// continues its own seed sequence.
    pub fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<Observation>, Vec<Info>), EnvError> {
        let results: Vec<(Observation, Info)> = self
            .envs
            .par_iter_mut()
            .enumerate()
            .map(|(i, env)| {
                env.reset(seed.map(|s| s.wrapping_add(i as u64)))
                    .map_err(|e| EnvError::SubEnv {
                        index: i,
                        source: Box::new(e),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(results.into_iter().unzip())
    }

    /// Step sub-env `i` with `actions[i]`, autoresetting finished ones (see the type docs).
    pub fn step(&mut self, actions: &[Action]) -> Result<VecStep, EnvError> {
        if actions.len() != self.envs.len() {
            return Err(EnvError::BadAction {
                env: "VecEnv".into(),
                reason: format!(
                    "got {} actions for {} sub-envs",
                    actions.len(),
                    self.envs.len()
                ),
            });
        }
        let steps: Vec<_> = self
            .envs
            .par_iter_mut()
            .zip(actions.par_iter())
            .enumerate()
            .map(|(i, (env, action))| {
                let wrap = |e| EnvError::SubEnv {
                    index: i,
                    source: Box::new(e),
                };
                let mut step = env.step(action).map_err(wrap)?;
                if step.done() {
                    let (obs, mut info) = env.reset(None).map_err(wrap)?;
                    info.final_observation = Some(Box::new(std::mem::replace(&mut step.obs, obs)));
                    info.final_info =
                        Some(Box::new(std::mem::replace(&mut step.info, info.clone())));
                    step.info = info;
                }
                Ok(step)
            })
            .collect::<Result<_, EnvError>>()?;
        let mut out = VecStep {
            obs: Vec::with_capacity(steps.len()),
            rewards: Vec::with_capacity(steps.len()),
            terminated: Vec::with_capacity(steps.len()),
            truncated: Vec::with_capacity(steps.len()),
            infos: Vec::with_capacity(steps.len()),
        };
        for s in steps {
            out.obs.push(s.obs);
            out.rewards.push(s.reward);
            out.terminated.push(s.terminated);
            out.truncated.push(s.truncated);
            out.infos.push(s.info);
        }
        Ok(out)
    }
}

impl VecEnv<PhysicsEnv> {
    /// `n` physics envs of scenario `id` in `variant`, rendering `width x height`.
    pub fn make(
        id: &str,
        variant: &str,
        n: usize,
        width: usize,
        height: usize,
    ) -> Result<Self, EnvError> {
        let envs = (0..n)
            .map(|_| PhysicsEnv::make(id, variant, width, height))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(envs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeScenario;

    fn vec_env(n: usize) -> VecEnv<PhysicsEnv> {
        let envs = (0..n)
            .map(|_| PhysicsEnv::new(Box::new(FakeScenario::new()), 8, 8).unwrap())
            .collect();
        VecEnv::new(envs).unwrap()
    }

    #[test]
    fn sub_env_i_is_seeded_with_seed_plus_i() {
        let mut v = vec_env(3);
        let (obs, infos) = v.reset(Some(40)).unwrap();
        assert_eq!(
            infos.iter().map(|i| i.seed).collect::<Vec<_>>(),
            vec![40, 41, 42]
        );
        let mut single = PhysicsEnv::new(Box::new(FakeScenario::new()), 8, 8).unwrap();
        assert_eq!(single.reset(Some(41)).unwrap().0, obs[1]);
    }

    #[test]
    fn finished_envs_reset_in_the_same_step_with_the_final_observation_in_info() {
        let mut v = vec_env(2);
        v.reset(Some(0)).unwrap();
        let still = vec![Action::Continuous(vec![0.0, 0.0]); 2];
        let mut last = None;
        for _ in 0..FakeScenario::LIMIT {
            last = Some(v.step(&still).unwrap());
        }
        let last = last.unwrap();
        assert_eq!(last.truncated, vec![true, true]);
        for i in 0..2 {
            let info = &last.infos[i];
            assert_eq!(info.elapsed_steps, 0, "obs is the new episode's first");
            let final_info = info.final_info.as_ref().expect("final info");
            assert_eq!(final_info.elapsed_steps, FakeScenario::LIMIT);
            assert!(info.final_observation.is_some());
            assert_ne!(info.seed, final_info.seed, "a new episode seed");
        }
        // The envs keep going without an explicit reset.
        let next = v.step(&still).unwrap();
        assert_eq!(next.infos[0].elapsed_steps, 1);
    }

    #[test]
    fn a_wrong_number_of_actions_is_refused() {
        let mut v = vec_env(2);
        v.reset(Some(0)).unwrap();
        assert!(matches!(
            v.step(&[Action::Continuous(vec![0.0, 0.0])]),
            Err(EnvError::BadAction { .. })
        ));
    }
}
