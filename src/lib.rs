//! somnium: the command line's library side. A facade that re-exports the
//! crates (scenarios, world model, envs, agents) and the process runtime settings.

pub mod runtime;

pub use somnium_agents as agents;
pub use somnium_env as env;
pub use somnium_scenarios as scenarios;
pub use somnium_world_model as world_model;
