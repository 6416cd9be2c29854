//! Policies that act in somnium envs: [`RandomPolicy`], [`ScriptedPolicy`] (the
//! scenario's expert), PPO ([`ppo::PpoTrainer`] trains a [`PpoAgent`], which acts
//! as a [`PpoPolicy`]) and a model-predictive planner ([`CemPlanner`]) that queries
//! [`Imagine`](somnium_env::Imagine) with batches of candidate action sequences.
//! [`evaluate`] runs seeded evaluation episodes and summarises them.
//!
//! Envs are named by env strings ([`EnvTarget`], over [`somnium_env::EnvString`]):
//! `physics:<id>` trains on rayon-parallel physics, `dream:<id>@MODEL` in a
//! [`somnium_env::DreamVecEnv`] (one batched model forward per step, frames only).
//!
//! ```no_run
//! use somnium_agents::{ppo::{PpoConfig, PpoTrainer}, EnvTarget};
//! let target = EnvTarget::parse("physics:cartpole-v0").unwrap();
//! let mut trainer = PpoTrainer::new(PpoConfig::default(), target).unwrap();
//! while !trainer.is_done() {
//!     let stats = trainer.train_update().unwrap();
//!     println!("{} {:?}", stats.global_step, stats.mean_episode_return);
//! }
//! ```

mod agent;
mod batch_env;
pub mod distributions;
#[cfg(test)]
mod dream_tests;
mod env_target;
mod error;
mod eval;
mod evaluator;
mod features;
pub mod nets;
mod planner;
mod policy;
pub mod ppo;
#[cfg(test)]
mod test_models;

pub use agent::{AgentFile, PpoAgent, PpoPolicy, AGENT_FORMAT, CONFIG_FILE, WEIGHTS_FILE};
pub use batch_env::{AgentVecEnv, BatchEnv};
pub use env_target::EnvTarget;
pub use error::AgentError;
pub use eval::{evaluate, success_of, summarise, EpisodeResult, EvalSummary};
pub use evaluator::{EpisodeRun, EvalOptions, Evaluator};
pub use features::{frame_channels, ObsEncoder, ObsKind, ObsSpec};
pub use planner::{CemConfig, CemPlanner};
pub use policy::{views, EnvView, Policy, RandomPolicy, ScriptedPolicy};
