//! [`DreamVecEnv`]: N dreaming envs stepped in one model forward pass, with the
//! same-step autoreset rule as [`crate::VecEnv`].

use somnium_scenarios::{Action, Space};

use crate::{Env, EnvError, Info, Observation, ObservationSpace, Step, VecStep};

use super::{DreamEnv, DreamModel};

/// Several [`DreamEnv`]s sharing one model; `step` dreams all of them in one
/// batched forward pass. Each sub-env keeps its own seeds and noise streams, so
/// sub-env `i` dreams what a lone `DreamEnv` reset with the same seed would.
///
/// **Autoreset rule: same-step** (as [`crate::VecEnv`]): a sub-env whose episode
/// ends is reset in that step with `reset(None)`; `obs[i]` is then the new
/// episode's first observation and `infos[i].final_observation` / `final_info`
/// hold the finished episode's last ones. `reset(Some(seed))` resets sub-env `i`
/// with `seed + i`.
pub struct DreamVecEnv {
    envs: Vec<DreamEnv>,
}

impl DreamVecEnv {
    /// Gathers `envs` (at least one, all with the same action space and frame size).
    pub fn new(envs: Vec<DreamEnv>) -> Result<Self, EnvError> {
        let first = envs
            .first()
            .ok_or_else(|| EnvError::BadConfig("a DreamVecEnv needs at least one env".into()))?;
        let (space, size) = (first.action_space(), first.frame_size());
        if let Some(i) = envs
            .iter()
            .position(|e| e.action_space() != space || e.frame_size() != size)
        {
            return Err(EnvError::BadConfig(format!(
                "sub-env {i} has a different action space or frame size from sub-env 0"
            )));
        }
        Ok(Self { envs })
    }

    /// `n` dreams of scenario `id` in `variant`, all with `model`.
    pub fn make(id: &str, variant: &str, model: &DreamModel, n: usize) -> Result<Self, EnvError> {
        let envs = (0..n)
            .map(|_| DreamEnv::make(id, variant, model.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(envs)
    }

    /// Number of sub-envs.
    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }

    /// The sub-envs.
    pub fn envs(&self) -> &[DreamEnv] {
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

    /// Resets every sub-env: with `seed + i` when a seed is given, else each
    /// continues its own seed sequence.
    pub fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<Observation>, Vec<Info>), EnvError> {
        let mut obs = Vec::with_capacity(self.envs.len());
        let mut infos = Vec::with_capacity(self.envs.len());
        for (i, env) in self.envs.iter_mut().enumerate() {
            let (o, info) = env
                .reset(seed.map(|s| s.wrapping_add(i as u64)))
                .map_err(|e| sub(i, e))?;
            obs.push(o);
            infos.push(info);
        }
        Ok((obs, infos))
    }

    /// Steps the sub-envs whose `actions[i]` is `Some` in one forward pass and
    /// leaves the others alone; no autoreset (an ended sub-env stays ended until
    /// [`reset_one`](Self::reset_one)). For seeded evaluation episodes.
    pub fn step_some(&mut self, actions: &[Option<Action>]) -> Result<Vec<Option<Step>>, EnvError> {
        if actions.len() != self.envs.len() {
            return Err(EnvError::BadConfig(format!(
                "{} actions for {} sub-envs",
                actions.len(),
                self.envs.len()
            )));
        }
        let mut active = Vec::new();
        let mut states = Vec::new();
        let mut values = Vec::new();
        for (i, (env, action)) in self.envs.iter().zip(actions).enumerate() {
            let Some(action) = action else { continue };
            let state = env.state().ok_or_else(|| {
                sub(
                    i,
                    EnvError::NeedsReset("in a DreamVecEnv step_some: reset the sub-env"),
                )
            })?;
            states.push(state);
            values.push(env.model_action(action).map_err(|e| sub(i, e))?);
            active.push(i);
        }
        let mut result: Vec<Option<Step>> = vec![None; actions.len()];
        if active.is_empty() {
            return Ok(result);
        }
        let (next, out) = self.envs[0].model().step_batch(&states, &values)?;
        for (j, (state, frame)) in next.into_iter().zip(out.frames).enumerate() {
            let i = active[j];
            let step = self.envs[i].apply(state, frame, out.rewards[j], out.terminated_prob[j]);
            result[i] = Some(step);
        }
        Ok(result)
    }

    /// Resets sub-env `index` alone with `seed`.
    pub fn reset_one(&mut self, index: usize, seed: u64) -> Result<(Observation, Info), EnvError> {
        let n = self.envs.len();
        let env = self
            .envs
            .get_mut(index)
            .ok_or_else(|| EnvError::BadConfig(format!("no sub-env {index} of {n}")))?;
        env.reset(Some(seed)).map_err(|e| sub(index, e))
    }

    /// Applies `actions[i]` to sub-env `i` and dreams every next frame in one
    /// forward pass. A bad action or a sub-env needing a reset is an error that
    /// names the sub-env and changes nothing.
    pub fn step(&mut self, actions: &[Action]) -> Result<VecStep, EnvError> {
        if actions.len() != self.envs.len() {
            return Err(EnvError::BadConfig(format!(
                "{} actions for {} sub-envs",
                actions.len(),
                self.envs.len()
            )));
        }
        let mut values = Vec::with_capacity(actions.len());
        let mut states = Vec::with_capacity(actions.len());
        for (i, (env, action)) in self.envs.iter().zip(actions).enumerate() {
            let state = env.state().ok_or_else(|| {
                sub(
                    i,
                    EnvError::NeedsReset("in a DreamVecEnv step: reset the vector env"),
                )
            })?;
            states.push(state);
            values.push(env.model_action(action).map_err(|e| sub(i, e))?);
        }
        let (next, out) = self.envs[0].model().step_batch(&states, &values)?;
        let mut result = VecStep {
            obs: Vec::with_capacity(actions.len()),
            rewards: out.rewards.clone(),
            terminated: Vec::with_capacity(actions.len()),
            truncated: Vec::with_capacity(actions.len()),
            infos: Vec::with_capacity(actions.len()),
        };
        for (i, ((env, state), frame)) in self.envs.iter_mut().zip(next).zip(out.frames).enumerate()
        {
            let step = env.apply(state, frame, out.rewards[i], out.terminated_prob[i]);
            result.terminated.push(step.terminated);
            result.truncated.push(step.truncated);
            if step.done() {
                let (first, mut info) = env.reset(None).map_err(|e| sub(i, e))?;
                info.final_observation = Some(Box::new(step.obs));
                info.final_info = Some(Box::new(step.info));
                result.obs.push(first);
                result.infos.push(info);
            } else {
                result.obs.push(step.obs);
                result.infos.push(step.info);
            }
        }
        Ok(result)
    }
}

fn sub(index: usize, e: EnvError) -> EnvError {
    EnvError::SubEnv {
        index,
        source: Box::new(e),
    }
}
