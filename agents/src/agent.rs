//! [`PpoAgent`]: a trained actor-critic with its observation encoding, saved as
//! `agent.safetensors` (weights) plus `agent.json` ([`AgentFile`]), both written to
//! a temporary name and renamed into place; and [`PpoPolicy`], the agent acting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use somnium_env::{Action, Observation, Space};

use crate::distributions::{argmax, sample_categorical, sample_gaussian};
use crate::features::{ObsEncoder, ObsSpec};
use crate::nets::{ActionHead, ActorCritic, NetConfig};
use crate::policy::{check_batch, EnvView, Policy};
use crate::AgentError;

/// Format tag of [`AgentFile`].
pub const AGENT_FORMAT: &str = "somnium-agent/1";
/// File name of the weights inside a checkpoint directory.
pub const WEIGHTS_FILE: &str = "agent.safetensors";
/// File name of the description inside a checkpoint directory.
pub const CONFIG_FILE: &str = "agent.json";

/// The JSON half of a checkpoint: everything needed to rebuild the network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentFile {
    pub format: String,
    pub algo: String,
    pub net: NetConfig,
    pub obs: ObsSpec,
    pub action_space: Space,
    /// The env string it was trained in.
    pub env: String,
    /// Env steps it was trained for.
    pub steps_trained: u64,
}

impl AgentFile {
    /// Reads and checks `dir/agent.json`; the error names the file and what was wrong.
    pub fn read(dir: &Path) -> Result<Self, AgentError> {
        let path = dir.join(CONFIG_FILE);
        let bad = |reason: String| AgentError::BadCheckpoint {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let file: AgentFile = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not an agent description: {e}")))?;
        if file.format != AGENT_FORMAT {
            return Err(bad(format!(
                "format '{}', expected '{AGENT_FORMAT}'",
                file.format
            )));
        }
        Ok(file)
    }
}

/// A PPO actor-critic ready to act or to be trained further.
pub struct PpoAgent {
    pub model: ActorCritic,
    pub obs: ObsSpec,
    pub action_space: Space,
    pub device: Device,
}

impl PpoAgent {
    /// A fresh agent for `obs` features and `action_space` (seeded initialisation).
    pub fn new(
        obs: ObsSpec,
        action_space: Space,
        hidden: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self, AgentError> {
        let head = match &action_space {
            Space::Discrete(n) => ActionHead::Discrete { n: *n },
            Space::Box { .. } => ActionHead::Continuous {
                dim: action_space.flat_dim(),
            },
        };
        let encoder = match obs.kind {
            crate::ObsKind::State => crate::nets::Encoder::State { dim: obs.size },
            crate::ObsKind::Frames => crate::nets::Encoder::Frames {
                channels: 3 * obs.stack,
                size: obs.size,
            },
        };
        let net = NetConfig {
            encoder,
            head,
            hidden,
        };
        Ok(PpoAgent {
            model: ActorCritic::new(net, seed, device)?,
            obs,
            action_space,
            device: device.clone(),
        })
    }

    /// Features `[B, F]` (flat, row-major) as the network's input tensor `[B, ...]`.
    pub fn input(&self, features: &[f32], batch: usize) -> Result<Tensor, AgentError> {
        let mut shape = vec![batch];
        shape.extend(self.obs.feature_shape());
        Ok(Tensor::from_slice(features, shape, &self.device)?)
    }

    /// Save to `dir/agent.safetensors` and `dir/agent.json` (atomically each).
    pub fn save(&self, dir: &Path, env: &str, steps_trained: u64) -> Result<(), AgentError> {
        std::fs::create_dir_all(dir).map_err(|e| AgentError::io(dir, e))?;
        let tensors: HashMap<String, Tensor> = self
            .model
            .vars()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        let weights = dir.join(WEIGHTS_FILE);
        let tmp = dir.join(format!(".{WEIGHTS_FILE}.tmp"));
        candle_core::safetensors::save(&tensors, &tmp).map_err(|e| AgentError::io(&tmp, e))?;
        std::fs::rename(&tmp, &weights).map_err(|e| AgentError::io(&weights, e))?;
        let file = AgentFile {
            format: AGENT_FORMAT.into(),
            algo: "ppo".into(),
            net: self.model.config().clone(),
            obs: self.obs.clone(),
            action_space: self.action_space.clone(),
            env: env.into(),
            steps_trained,
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| AgentError::io(dir, e))?;
        write_atomic(&dir.join(CONFIG_FILE), text.as_bytes())
    }

    /// Load a checkpoint directory (or the path of its `agent.json` / `agent.safetensors`).
    pub fn load(path: &Path, device: &Device) -> Result<(Self, AgentFile), AgentError> {
        let dir: PathBuf = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let bad = |p: &Path, reason: String| AgentError::BadCheckpoint {
            path: p.display().to_string(),
            reason,
        };
        let config_path = dir.join(CONFIG_FILE);
        let file = AgentFile::read(&dir)?;
        let model = ActorCritic::new(file.net.clone(), 0, device)
            .map_err(|e| bad(&config_path, e.to_string()))?;
        let weights = dir.join(WEIGHTS_FILE);
        let tensors = candle_core::safetensors::load(&weights, device)
            .map_err(|e| bad(&weights, e.to_string()))?;
        model
            .load(&tensors)
            .map_err(|e| bad(&weights, e.to_string()))?;
        let agent = PpoAgent {
            model,
            obs: file.obs.clone(),
            action_space: file.action_space.clone(),
            device: device.clone(),
        };
        Ok((agent, file))
    }

    /// Sample (or, `deterministic`, take the mode of) one action per row of `head`
    /// (`[B, A]` head output as rows); returns actions, their f32 encoding and log-probs.
    pub fn choose(
        &self,
        head: &[Vec<f32>],
        deterministic: bool,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<(Action, Vec<f32>, f32)>, AgentError> {
        let log_std: Option<Vec<f32>> = match self.model.log_std() {
            Some(t) => Some(t.flatten_all()?.to_vec1()?),
            None => None,
        };
        Ok(head
            .iter()
            .map(|row| match &log_std {
                None => {
                    let (i, lp) = if deterministic {
                        (argmax(row), 0.0)
                    } else {
                        sample_categorical(row, rng)
                    };
                    (Action::Discrete(i), vec![i as f32], lp)
                }
                Some(ls) => {
                    let (a, lp) = if deterministic {
                        (row.clone(), 0.0)
                    } else {
                        sample_gaussian(row, ls, rng)
                    };
                    (Action::Continuous(a.clone()), a, lp)
                }
            })
            .collect())
    }
}

/// Writes `bytes` to `path` atomically (see [`somnium_files::write_atomic`]).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    somnium_files::write_atomic(path, bytes).map_err(|e| {
        let (path, source) = e.into_io();
        AgentError::io(&path, source)
    })
}

/// A [`PpoAgent`] acting: sampled actions, or the mode when `deterministic`.
pub struct PpoPolicy {
    agent: PpoAgent,
    encoder: ObsEncoder,
    deterministic: bool,
    rng: ChaCha8Rng,
}

impl PpoPolicy {
    pub fn new(agent: PpoAgent, deterministic: bool, seed: u64) -> Self {
        PpoPolicy {
            encoder: ObsEncoder::new(agent.obs.clone(), 0),
            agent,
            deterministic,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn agent(&self) -> &PpoAgent {
        &self.agent
    }
}

impl Policy for PpoPolicy {
    fn name(&self) -> String {
        "ppo".into()
    }

    fn act(
        &mut self,
        envs: &[&dyn EnvView],
        obs: &[Observation],
    ) -> Result<Vec<Action>, AgentError> {
        check_batch(envs, obs)?;
        if obs.is_empty() {
            return Ok(Vec::new());
        }
        let mut features = Vec::with_capacity(obs.len() * self.agent.obs.feature_len());
        for (i, (env, o)) in envs.iter().zip(obs).enumerate() {
            self.encoder
                .push(i, o, env.elapsed_steps() == 0, &mut features)?;
        }
        let input = self.agent.input(&features, obs.len())?;
        let (head, _) = self.agent.model.forward(&input)?;
        let rows: Vec<Vec<f32>> = head.to_vec2()?;
        let chosen = self
            .agent
            .choose(&rows, self.deterministic, &mut self.rng)?;
        Ok(chosen.into_iter().map(|(a, _, _)| a).collect())
    }
}
