//! somnium facade.
pub use somnium_scenarios as scenarios;
pub use somnium_world_model as world_model;
pub use somnium_env as env;
pub use somnium_agents as agents;
