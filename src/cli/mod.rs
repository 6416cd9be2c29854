//! One module per `somnium` subcommand.

mod agent_resume;
pub mod bench;
mod config_file;
pub mod demo;
pub mod dream;
pub mod eval;
pub mod eval_agent;
pub mod eval_agent_report;
pub mod export;
pub mod record;
pub mod render;
pub mod scenarios;
pub mod serve;
pub mod train;
pub mod train_agent;
pub mod train_codec;
mod train_setup;
pub mod view;
