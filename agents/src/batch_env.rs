//! [`BatchEnv`]: what the PPO trainer steps, a batch of envs with same-step
//! autoreset, implemented by physics' rayon [`VecEnv`] and the batched
//! [`DreamVecEnv`]; [`AgentVecEnv`] holds either, as built from an env string.

use somnium_env::{
    Action, DreamVecEnv, Env, EnvError, Observation, ObservationSpace, PhysicsEnv, Space, VecEnv,
    VecStep,
};

/// A batch of envs stepped together. **Same-step autoreset**: a sub-env whose
/// episode ends in a step is reset within it; `obs[i]` is then the new episode's
/// first observation and `infos[i].final_observation` the finished one's last.
pub trait BatchEnv {
    /// Number of sub-envs.
    fn num_envs(&self) -> usize;
    /// The action space of each sub-env.
    fn action_space(&self) -> Space;
    /// The observation space of each sub-env.
    fn observation_space(&self) -> ObservationSpace;
    /// Resets every sub-env (`seed + i` when a seed is given); the first observations.
    fn reset(&mut self, seed: Option<u64>) -> Result<Vec<Observation>, EnvError>;
    /// Applies `actions[i]` to sub-env `i`, autoresetting ended episodes.
    fn step(&mut self, actions: &[Action]) -> Result<VecStep, EnvError>;
}

impl<E: Env> BatchEnv for VecEnv<E> {
    fn num_envs(&self) -> usize {
        VecEnv::num_envs(self)
    }
    fn action_space(&self) -> Space {
        VecEnv::action_space(self)
    }
    fn observation_space(&self) -> ObservationSpace {
        VecEnv::observation_space(self)
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<Vec<Observation>, EnvError> {
        Ok(VecEnv::reset(self, seed)?.0)
    }
    fn step(&mut self, actions: &[Action]) -> Result<VecStep, EnvError> {
        VecEnv::step(self, actions)
    }
}

impl BatchEnv for DreamVecEnv {
    fn num_envs(&self) -> usize {
        DreamVecEnv::num_envs(self)
    }
    fn action_space(&self) -> Space {
        DreamVecEnv::action_space(self)
    }
    fn observation_space(&self) -> ObservationSpace {
        DreamVecEnv::observation_space(self)
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<Vec<Observation>, EnvError> {
        Ok(DreamVecEnv::reset(self, seed)?.0)
    }
    fn step(&mut self, actions: &[Action]) -> Result<VecStep, EnvError> {
        DreamVecEnv::step(self, actions)
    }
}

/// The vector env of an env string: physics envs in parallel, or dreams in one
/// batched model forward per step.
pub enum AgentVecEnv {
    Physics(VecEnv<PhysicsEnv>),
    Dream(DreamVecEnv),
}

impl AgentVecEnv {
    /// Steps a dream's reset takes in physics before its first observation (the
    /// `W - 1` warm-up steps of its context); 0 for physics.
    pub fn warmup_steps(&self) -> usize {
        match self {
            AgentVecEnv::Physics(_) => 0,
            AgentVecEnv::Dream(v) => v
                .envs()
                .first()
                .map_or(0, |e| e.model().context_frames().saturating_sub(1)),
        }
    }

    fn inner(&self) -> &dyn BatchEnv {
        match self {
            AgentVecEnv::Physics(v) => v,
            AgentVecEnv::Dream(v) => v,
        }
    }
    fn inner_mut(&mut self) -> &mut dyn BatchEnv {
        match self {
            AgentVecEnv::Physics(v) => v,
            AgentVecEnv::Dream(v) => v,
        }
    }
}

impl BatchEnv for AgentVecEnv {
    fn num_envs(&self) -> usize {
        self.inner().num_envs()
    }
    fn action_space(&self) -> Space {
        self.inner().action_space()
    }
    fn observation_space(&self) -> ObservationSpace {
        self.inner().observation_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<Vec<Observation>, EnvError> {
        self.inner_mut().reset(seed)
    }
    fn step(&mut self, actions: &[Action]) -> Result<VecStep, EnvError> {
        self.inner_mut().step(actions)
    }
}
