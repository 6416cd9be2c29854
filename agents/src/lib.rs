//! Policies that act in somnium envs: [`RandomPolicy`], [`ScriptedPolicy`] (the
//! scenario's expert), PPO ([`ppo::PpoTrainer`] trains a [`PpoAgent`], which acts
//! as a [`PpoPolicy`]) and a model-predictive planner ([`CemPlanner`]) that queries
//! [`Imagine`](somnium_env::Imagine) with batches of candidate action sequences.
//! [`evaluate`] runs seeded evaluation episodes and summarises them.
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
pub mod distributions;
mod env_target;
mod error;
mod eval;
mod features;
pub mod nets;
mod planner;
mod policy;
pub mod ppo;

pub use agent::{AgentFile, PpoAgent, PpoPolicy, AGENT_FORMAT, CONFIG_FILE, WEIGHTS_FILE};
pub use env_target::EnvTarget;
pub use error::AgentError;
pub use eval::{evaluate, success_of, EpisodeResult, EvalSummary};
pub use features::{ObsEncoder, ObsKind, ObsSpec};
pub use planner::{CemConfig, CemPlanner};
pub use policy::{views, EnvView, Policy, RandomPolicy, ScriptedPolicy};
