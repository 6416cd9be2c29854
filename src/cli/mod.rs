//! One module per `somnium` subcommand.

pub mod record;
pub mod render;
pub mod scenarios;
