//! One world: a thread that owns its env and answers commands sent over a
//! channel, so no lock is ever held while an env steps. The world follows
//! dm_env_rpc's sequence rules: the Step after JoinWorld, Reset or the end of an
//! episode ignores its actions and starts a new sequence (RUNNING, first
//! observation); a terminated episode ends in TERMINATED (discount 0), a
//! truncated one (time limit) in INTERRUPTED (discount 1), and both carry
//! Gymnasium's `terminated` / `truncated` flags as observations.
//!
//! A world knows nothing of the registry that holds it: [`World::run`] returns
//! why it ended ([`WorldEnd`]) and the thread that ran it tells the registry.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::error::ServerError;
use super::proto::{ActionObservationSpecs, DataType, EnvironmentStateType, StepResponse, Tensor};
use super::tensor::{
    action_spec, bool_scalar, float_spec, float_tensor, scalar_spec, uint8_tensor, unpack_action,
};
use crate::{Action, Env, Observation, Space};

/// Uid of the one action of every world.
pub const ACTION_UID: u64 = 1;
/// Observation uids: the RGB frame `[height, width, 3]` u8.
pub const FRAME_UID: u64 = 1;
/// The state vector (float32), where the env has one.
pub const STATE_UID: u64 = 2;
/// The reward of the last step (float32 scalar; 0 on the first step).
pub const REWARD_UID: u64 = 3;
/// The discount (float32 scalar): 0 when terminated, else 1.
pub const DISCOUNT_UID: u64 = 4;
/// Gymnasium's `terminated` (bool scalar).
pub const TERMINATED_UID: u64 = 5;
/// Gymnasium's `truncated` (bool scalar).
pub const TRUNCATED_UID: u64 = 6;

type Reply<T> = oneshot::Sender<Result<T, ServerError>>;

/// What a session asks of a world.
pub(crate) enum WorldCommand {
    Step {
        actions: HashMap<u64, Tensor>,
        requested: Vec<u64>,
        reply: Reply<StepResponse>,
    },
    /// Reset (by the joined agent) or ResetWorld: the next Step starts a new sequence.
    Reset {
        seed: Option<u64>,
        interrupt: bool,
        reply: Reply<()>,
    },
    /// The agent left: the next agent starts with a new sequence.
    Leave,
    Shutdown,
}

/// The action and observation specs of `env`.
pub(crate) fn specs_of(env: &dyn Env) -> ActionObservationSpecs {
    let mut specs = ActionObservationSpecs::default();
    specs
        .actions
        .insert(ACTION_UID, action_spec("action", &env.action_space()));
    let space = env.observation_space();
    let (height, width) = space.frame_size();
    specs.observations.insert(
        FRAME_UID,
        super::tensor::uint8_spec("frame", &[height, width, 3]),
    );
    if let Some(Space::Box { low, high, shape }) = &space.state {
        specs
            .observations
            .insert(STATE_UID, float_spec("state", shape, Some((low, high))));
    }
    specs
        .observations
        .insert(REWARD_UID, scalar_spec("reward", DataType::Float));
    let unit = [0.0f32];
    specs.observations.insert(
        DISCOUNT_UID,
        float_spec("discount", &[], Some((&unit, &[1.0]))),
    );
    specs
        .observations
        .insert(TERMINATED_UID, scalar_spec("terminated", DataType::Bool));
    specs
        .observations
        .insert(TRUNCATED_UID, scalar_spec("truncated", DataType::Bool));
    specs
}

/// Why a world's thread stopped serving.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WorldEnd {
    /// Shutdown was asked, or every sender is gone: the registry already forgot it.
    Stopped,
    /// No command came for the idle timeout: the registry must expire it.
    Idle,
    /// The env panicked while stepping: the registry must forget it.
    Failed,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// The next Step starts a sequence.
    Idle,
    Running,
    /// ResetWorld cut a running sequence: the next Step reports INTERRUPTED.
    Interrupted,
}

/// The state one world thread keeps.
pub(crate) struct World {
    name: String,
    env: Box<dyn Env>,
    action_space: Space,
    specs: ActionObservationSpecs,
    phase: Phase,
    next_seed: Option<u64>,
    last_obs: Option<Observation>,
}

impl World {
    pub fn new(name: String, env: Box<dyn Env>, seed: u64) -> Self {
        let specs = specs_of(env.as_ref());
        let action_space = env.action_space();
        World {
            name,
            env,
            action_space,
            specs,
            phase: Phase::Idle,
            next_seed: Some(seed),
            last_obs: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn specs(&self) -> &ActionObservationSpecs {
        &self.specs
    }

    /// Serve commands until Shutdown, until every sender is gone, or until no
    /// command came for `idle_timeout`; returns why (the env is dropped then).
    pub fn run(
        mut self,
        commands: mpsc::Receiver<WorldCommand>,
        idle_timeout: Duration,
    ) -> WorldEnd {
        loop {
            let command = match commands.recv_timeout(idle_timeout) {
                Ok(c) => c,
                Err(mpsc::RecvTimeoutError::Timeout) => return WorldEnd::Idle,
                Err(mpsc::RecvTimeoutError::Disconnected) => return WorldEnd::Stopped,
            };
            match command {
                WorldCommand::Step {
                    actions,
                    requested,
                    reply,
                } => {
                    let result = catch_unwind(AssertUnwindSafe(|| self.step(&actions, &requested)));
                    match result {
                        Ok(r) => {
                            let _ = reply.send(r);
                        }
                        Err(_) => {
                            let _ = reply.send(Err(ServerError::WorldFailed {
                                world: self.name.clone(),
                                reason: "the env panicked while stepping; the world was freed"
                                    .into(),
                            }));
                            return WorldEnd::Failed;
                        }
                    }
                }
                WorldCommand::Reset {
                    seed,
                    interrupt,
                    reply,
                } => {
                    if seed.is_some() {
                        self.next_seed = seed;
                    }
                    self.phase = match self.phase {
                        Phase::Running if interrupt => Phase::Interrupted,
                        Phase::Interrupted if interrupt => Phase::Interrupted,
                        _ => Phase::Idle,
                    };
                    let _ = reply.send(Ok(()));
                }
                WorldCommand::Leave => self.phase = Phase::Idle,
                WorldCommand::Shutdown => return WorldEnd::Stopped,
            }
        }
    }

    fn step(
        &mut self,
        actions: &HashMap<u64, Tensor>,
        requested: &[u64],
    ) -> Result<StepResponse, ServerError> {
        let mut uids: Vec<u64> = Vec::with_capacity(requested.len());
        for &uid in requested {
            if !self.specs.observations.contains_key(&uid) {
                return Err(ServerError::UnknownObservation {
                    uid,
                    known: known_uids(&self.specs.observations),
                });
            }
            if !uids.contains(&uid) {
                uids.push(uid);
            }
        }
        let (state, obs, reward, terminated, truncated) = match self.phase {
            Phase::Idle => {
                let (obs, _info) = self.env.reset(self.next_seed.take())?;
                self.phase = Phase::Running;
                (EnvironmentStateType::Running, obs, 0.0, false, false)
            }
            Phase::Interrupted => {
                self.phase = Phase::Idle;
                let obs = self
                    .last_obs
                    .take()
                    .ok_or_else(|| ServerError::WorldFailed {
                        world: self.name.clone(),
                        reason: "no observation to report for the interrupted sequence".into(),
                    })?;
                (EnvironmentStateType::Interrupted, obs, 0.0, false, true)
            }
            Phase::Running => {
                let action = self.action(actions)?;
                let step = self.env.step(&action)?;
                let state = if step.terminated {
                    EnvironmentStateType::Terminated
                } else if step.truncated {
                    EnvironmentStateType::Interrupted
                } else {
                    EnvironmentStateType::Running
                };
                if step.done() {
                    self.phase = Phase::Idle;
                }
                (
                    state,
                    step.obs,
                    step.reward,
                    step.terminated,
                    step.truncated,
                )
            }
        };
        let mut response = StepResponse {
            state: state as i32,
            observations: HashMap::with_capacity(uids.len()),
        };
        for uid in uids {
            let tensor = match uid {
                FRAME_UID => uint8_tensor(
                    obs.frame.data.clone(),
                    &[obs.frame.height, obs.frame.width, 3],
                ),
                STATE_UID => {
                    let s = obs.state.clone().unwrap_or_default();
                    let n = s.len();
                    float_tensor(s, &[n])
                }
                REWARD_UID => float_tensor(vec![reward], &[]),
                DISCOUNT_UID => float_tensor(vec![if terminated { 0.0 } else { 1.0 }], &[]),
                TERMINATED_UID => bool_scalar(terminated),
                _ => bool_scalar(truncated),
            };
            response.observations.insert(uid, tensor);
        }
        self.last_obs = Some(obs);
        Ok(response)
    }

    /// The action of a running step: the tensor sent for [`ACTION_UID`], or the
    /// space's neutral action (zeros clipped into the box, or 0) when none was sent.
    fn action(&self, actions: &HashMap<u64, Tensor>) -> Result<Action, ServerError> {
        if let Some(&uid) = actions.keys().find(|&&uid| uid != ACTION_UID) {
            return Err(ServerError::UnknownAction {
                uid,
                known: known_uids(&self.specs.actions),
            });
        }
        match actions.get(&ACTION_UID) {
            Some(t) => unpack_action(t, "action", &self.action_space),
            None => Ok(neutral_action(&self.action_space)),
        }
    }
}

/// Zeros clipped into the box, or index 0.
fn neutral_action(space: &Space) -> Action {
    match space {
        Space::Box { shape, .. } => {
            space.clip(&Action::Continuous(vec![0.0; shape.iter().product()]))
        }
        Space::Discrete(_) => Action::Discrete(0),
    }
}

fn known_uids<V>(map: &HashMap<u64, V>) -> String {
    let mut uids: Vec<u64> = map.keys().copied().collect();
    uids.sort_unstable();
    uids.iter()
        .map(|u| u.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
