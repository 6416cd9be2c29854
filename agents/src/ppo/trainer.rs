//! [`PpoTrainer`]: collect a rollout from the vector env (physics or dream, any
//! [`BatchEnv`]) with one batched forward per step, compute GAE, then run the
//! clipped-PPO epochs over shuffled minibatches.

use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use somnium_env::{Action, DoneReason, Space};
use somnium_world_model::optim::{AdamW, AdamWParams};

use super::{compute_gae, ppo_loss, LossCoefs, PpoConfig, Rollout};
use crate::agent::PpoAgent;
use crate::distributions::{categorical_log_prob_entropy, gaussian_log_prob_entropy};
use crate::features::{ObsEncoder, ObsKind, ObsSpec};
use crate::{AgentError, AgentVecEnv, BatchEnv, EnvTarget};

/// One finished training episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRecord {
    /// Env steps taken in training when it ended.
    pub global_step: u64,
    pub episode_return: f32,
    pub length: u32,
    pub terminated: bool,
}

/// What one update did (a line of `metrics.jsonl`).
#[derive(Clone, Debug, Serialize)]
pub struct UpdateStats {
    pub update: usize,
    pub global_step: u64,
    pub learning_rate: f64,
    pub policy_loss: f32,
    pub value_loss: f32,
    pub entropy: f32,
    pub approx_kl: f32,
    pub clip_frac: f32,
    pub explained_variance: f32,
    pub grad_norm: f32,
    /// Episodes that ended during this update's rollout.
    pub episodes: usize,
    /// Their mean return (`None` when none ended).
    pub mean_episode_return: Option<f32>,
    /// Env steps per second of this update (rollout and learning).
    pub steps_per_sec: f32,
    /// Env steps per second of the rollout alone (env steps and policy forwards).
    pub rollout_steps_per_sec: f32,
}

/// Trains a [`PpoAgent`] in a batch of envs (physics or dream, as an env string names).
pub struct PpoTrainer<V: BatchEnv = AgentVecEnv> {
    pub(super) config: PpoConfig,
    /// The env string saved with checkpoints.
    pub(super) env_name: String,
    pub(super) agent: PpoAgent,
    pub(super) opt: AdamW,
    pub(super) envs: V,
    pub(super) encoder: ObsEncoder,
    /// Features of the current observations, `[N, F]`.
    pub(super) next_features: Vec<f32>,
    rollout: Rollout,
    pub(super) rng: ChaCha8Rng,
    pub(super) global_step: u64,
    pub(super) update: usize,
    pub(super) episode_returns: Vec<f32>,
    pub(super) episode_lengths: Vec<u32>,
    pub(super) finished: Vec<EpisodeRecord>,
}

impl PpoTrainer<AgentVecEnv> {
    /// Build `config.num_envs` envs of `target` (physics frames rendered only for
    /// frame observations; a dream's model loaded once), the network and the
    /// optimizer. A state-vector policy in a dream is refused.
    pub fn new(config: PpoConfig, target: EnvTarget) -> Result<Self, AgentError> {
        config.validate()?;
        target.check_obs(config.obs)?;
        let size = match config.obs {
            ObsKind::State => 1,
            ObsKind::Frames => config.frame_size,
        };
        let envs = target.make_vec(config.num_envs, size)?;
        Self::with_envs(config, envs, target.to_string())
    }
}

impl<V: BatchEnv> PpoTrainer<V> {
    /// Train in `envs` (their number overrides `config.num_envs`); `env_name` is
    /// saved with checkpoints. Resets the envs with `config.seed`.
    pub fn with_envs(mut config: PpoConfig, envs: V, env_name: String) -> Result<Self, AgentError> {
        config.num_envs = envs.num_envs();
        config.validate()?;
        let obs_space = envs.observation_space();
        let spec = match config.obs {
            ObsKind::State => ObsSpec::state(
                obs_space
                    .state
                    .as_ref()
                    .map(Space::flat_dim)
                    .ok_or(AgentError::MissingObservation("state vector"))?,
            ),
            ObsKind::Frames => {
                let (h, w) = obs_space.frame_size();
                let render = ((h, w) != (config.frame_size, config.frame_size)).then_some([h, w]);
                ObsSpec::frames(config.frame_size, config.frame_stack, render)
            }
        };
        let device = Device::Cpu;
        let agent = PpoAgent::new(
            spec.clone(),
            envs.action_space(),
            config.hidden,
            config.seed,
            &device,
        )?;
        let opt = AdamW::new(
            agent.model.vars().to_vec(),
            AdamWParams {
                lr: config.learning_rate,
                eps: 1e-5,
                weight_decay: 0.0,
                ..AdamWParams::default()
            },
        )?;
        let encoder = ObsEncoder::new(spec.clone(), config.num_envs);
        let mut trainer = PpoTrainer {
            rollout: Rollout::new(config.num_envs, spec.feature_len()),
            rng: ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed_0f_99),
            episode_returns: vec![0.0; config.num_envs],
            episode_lengths: vec![0; config.num_envs],
            config,
            env_name,
            agent,
            opt,
            envs,
            encoder,
            next_features: Vec::new(),
            global_step: 0,
            update: 0,
            finished: Vec::new(),
        };
        let seed = trainer.config.seed;
        trainer.restart_envs(seed)?;
        Ok(trainer)
    }

    /// Resets every env with `seed` and starts fresh episodes (returns, lengths
    /// and frame histories).
    pub(super) fn restart_envs(&mut self, seed: u64) -> Result<(), AgentError> {
        let obs = self.envs.reset(Some(seed))?;
        self.next_features.clear();
        for (i, o) in obs.iter().enumerate() {
            self.encoder.push(i, o, true, &mut self.next_features)?;
        }
        self.episode_returns.iter_mut().for_each(|r| *r = 0.0);
        self.episode_lengths.iter_mut().for_each(|l| *l = 0);
        Ok(())
    }

    pub fn config(&self) -> &PpoConfig {
        &self.config
    }
    pub fn agent(&self) -> &PpoAgent {
        &self.agent
    }
    /// The envs it trains in.
    pub fn envs(&self) -> &V {
        &self.envs
    }
    pub fn global_step(&self) -> u64 {
        self.global_step
    }
    /// Updates done so far.
    pub fn updates_done(&self) -> usize {
        self.update
    }
    /// Whether all `config.num_updates()` updates are done.
    pub fn is_done(&self) -> bool {
        self.update >= self.config.num_updates()
    }
    /// Every training episode finished so far.
    pub fn episodes(&self) -> &[EpisodeRecord] {
        &self.finished
    }

    /// Save the agent (see [`PpoAgent::save`]) and what [`Self::resume`] needs
    /// to go on: the optimizer's moments and the step and update counts.
    pub fn save(&self, dir: &std::path::Path) -> Result<(), AgentError> {
        self.agent.save(dir, &self.env_name, self.global_step)?;
        self.save_training_state(dir)
    }

    /// One rollout of `num_steps` vector steps, then the PPO epochs.
    pub fn train_update(&mut self) -> Result<UpdateStats, AgentError> {
        let start = Instant::now();
        let c = self.config.clone();
        let lr = if c.anneal_lr {
            let frac = 1.0 - self.update as f64 / c.num_updates() as f64;
            frac * c.learning_rate
        } else {
            c.learning_rate
        };
        let episodes_before = self.finished.len();
        self.collect()?;
        let rollout_secs = start.elapsed().as_secs_f32().max(1e-9);
        let stats = self.learn(lr)?;
        self.update += 1;
        let new_eps = &self.finished[episodes_before..];
        let mean_episode_return = (!new_eps.is_empty())
            .then(|| new_eps.iter().map(|e| e.episode_return).sum::<f32>() / new_eps.len() as f32);
        let secs = start.elapsed().as_secs_f32().max(1e-9);
        Ok(UpdateStats {
            update: self.update,
            global_step: self.global_step,
            learning_rate: lr,
            episodes: new_eps.len(),
            mean_episode_return,
            steps_per_sec: c.batch_size() as f32 / secs,
            rollout_steps_per_sec: c.batch_size() as f32 / rollout_secs,
            ..stats
        })
    }

    /// Fill the rollout: one batched forward per vector step.
    fn collect(&mut self) -> Result<(), AgentError> {
        let n = self.config.num_envs;
        let gamma = self.config.gamma;
        self.rollout.clear();
        for _ in 0..self.config.num_steps {
            let input = self.agent.input(&self.next_features, n)?;
            let (head, value) = self.agent.model.forward(&input)?;
            let rows: Vec<Vec<f32>> = head.to_vec2()?;
            let values: Vec<f32> = value.to_vec1()?;
            let chosen = self.agent.choose(&rows, false, &mut self.rng)?;
            let mut actions: Vec<Action> = Vec::with_capacity(n);
            self.rollout.obs.extend_from_slice(&self.next_features);
            for (a, flat, lp) in chosen {
                self.rollout.actions.extend_from_slice(&flat);
                self.rollout.log_probs.push(lp);
                actions.push(a);
            }
            self.rollout.values.extend_from_slice(&values);
            let step = self.envs.step(&actions)?;
            self.global_step += n as u64;
            let mut rewards = step.rewards.clone();
            // Bootstrap truncated episodes from their last observation's value.
            let mut last_features = Vec::new();
            let mut truncated_envs = Vec::new();
            for i in 0..n {
                if step.truncated[i] && !step.terminated[i] {
                    if let Some(final_obs) = &step.infos[i].final_observation {
                        self.encoder.peek(i, final_obs, &mut last_features)?;
                        truncated_envs.push(i);
                    }
                }
            }
            if !truncated_envs.is_empty() {
                let input = self.agent.input(&last_features, truncated_envs.len())?;
                let last_values: Vec<f32> = self.agent.model.forward(&input)?.1.to_vec1()?;
                for (i, v) in truncated_envs.iter().zip(last_values) {
                    rewards[*i] += gamma * v;
                }
            }
            self.next_features.clear();
            for i in 0..n {
                let done = step.terminated[i] || step.truncated[i];
                self.episode_returns[i] += step.rewards[i];
                self.episode_lengths[i] += 1;
                if done {
                    self.finished.push(EpisodeRecord {
                        global_step: self.global_step,
                        episode_return: self.episode_returns[i],
                        length: self.episode_lengths[i],
                        terminated: step.infos[i]
                            .final_info
                            .as_ref()
                            .and_then(|f| f.done_reason)
                            .map_or(step.terminated[i], |r| r == DoneReason::Terminated),
                    });
                    self.episode_returns[i] = 0.0;
                    self.episode_lengths[i] = 0;
                }
                self.rollout.episode_ends.push(done);
                self.encoder
                    .push(i, &step.obs[i], done, &mut self.next_features)?;
            }
            self.rollout.rewards.extend_from_slice(&rewards);
        }
        Ok(())
    }

    /// GAE, then `update_epochs` passes of shuffled minibatches.
    fn learn(&mut self, lr: f64) -> Result<UpdateStats, AgentError> {
        let c = self.config.clone();
        let n = c.num_envs;
        let input = self.agent.input(&self.next_features, n)?;
        let next_values: Vec<f32> = self.agent.model.forward(&input)?.1.to_vec1()?;
        let r = &self.rollout;
        let (advantages, returns) = compute_gae(
            &r.rewards,
            &r.values,
            &r.episode_ends,
            &next_values,
            c.gamma,
            c.gae_lambda,
        );
        let b = r.len();
        let dev = self.agent.device.clone();
        let obs = self.agent.input(&r.obs, b)?;
        let act_dim = r.actions.len() / b;
        let actions = Tensor::from_slice(&r.actions, (b, act_dim), &dev)?;
        let old_lp = Tensor::from_slice(&r.log_probs, b, &dev)?;
        let old_v = Tensor::from_slice(&r.values, b, &dev)?;
        let adv_t = Tensor::from_slice(&advantages, b, &dev)?;
        let ret_t = Tensor::from_slice(&returns, b, &dev)?;
        let coefs = LossCoefs {
            clip_coef: c.clip_coef,
            clip_vloss: c.clip_vloss,
            ent_coef: c.ent_coef,
            vf_coef: c.vf_coef,
            norm_adv: c.norm_adv,
        };
        let mb = c.minibatch_size().max(1);
        let mut indices: Vec<u32> = (0..b as u32).collect();
        let mut last = UpdateStats {
            update: 0,
            global_step: 0,
            learning_rate: lr,
            policy_loss: 0.0,
            value_loss: 0.0,
            entropy: 0.0,
            approx_kl: 0.0,
            clip_frac: 0.0,
            explained_variance: explained_variance(&r.values, &returns),
            grad_norm: 0.0,
            episodes: 0,
            mean_episode_return: None,
            steps_per_sec: 0.0,
            rollout_steps_per_sec: 0.0,
        };
        let (mut clip_sum, mut clip_n) = (0.0f32, 0usize);
        'epochs: for _ in 0..c.update_epochs {
            indices.shuffle(&mut self.rng);
            for chunk in indices.chunks(mb) {
                let idx = Tensor::from_slice(chunk, chunk.len(), &dev)?;
                let (head, value) = self.agent.model.forward(&obs.index_select(&idx, 0)?)?;
                let mb_actions = actions.index_select(&idx, 0)?;
                let (new_lp, entropy) = match self.agent.model.log_std() {
                    None => categorical_log_prob_entropy(&head, &mb_actions.squeeze(1)?)?,
                    Some(ls) => gaussian_log_prob_entropy(&head, ls, &mb_actions)?,
                };
                let loss = ppo_loss(
                    &new_lp,
                    &entropy,
                    &value,
                    &old_lp.index_select(&idx, 0)?,
                    &old_v.index_select(&idx, 0)?,
                    &adv_t.index_select(&idx, 0)?,
                    &ret_t.index_select(&idx, 0)?,
                    &coefs,
                )?;
                if !loss.policy.is_finite() || !loss.value.is_finite() {
                    return Err(AgentError::Diverged(format!(
                        "non-finite loss at update {} (policy {}, value {})",
                        self.update + 1,
                        loss.policy,
                        loss.value
                    )));
                }
                let mut grads = loss.total.backward()?;
                let norm = self.opt.clip_grad_norm(&mut grads, c.max_grad_norm)?;
                if norm.is_finite() {
                    self.opt.step(&grads, lr)?;
                }
                clip_sum += loss.clip_frac;
                clip_n += 1;
                last.policy_loss = loss.policy;
                last.value_loss = loss.value;
                last.entropy = loss.entropy;
                last.approx_kl = loss.approx_kl;
                last.grad_norm = norm;
                if c.target_kl.is_some_and(|t| loss.approx_kl > t) {
                    break 'epochs;
                }
            }
        }
        last.clip_frac = clip_sum / clip_n.max(1) as f32;
        Ok(last)
    }
}

/// `1 - Var(returns - values) / Var(returns)` (NaN when the returns are constant).
pub fn explained_variance(values: &[f32], returns: &[f32]) -> f32 {
    let var = |x: &mut dyn Iterator<Item = f32>, n: usize| {
        let v: Vec<f32> = x.collect();
        let m = v.iter().sum::<f32>() / n as f32;
        v.iter().map(|a| (a - m) * (a - m)).sum::<f32>() / n as f32
    };
    let n = values.len().max(1);
    let var_y = var(&mut returns.iter().cloned(), n);
    let var_diff = var(&mut returns.iter().zip(values).map(|(r, v)| r - v), n);
    if var_y == 0.0 {
        f32::NAN
    } else {
        1.0 - var_diff / var_y
    }
}
