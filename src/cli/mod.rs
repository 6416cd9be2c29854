//! One module per `somnium` subcommand.

pub mod record;
pub mod render;
pub mod scenarios;
pub mod serve;
pub mod train;
pub mod train_codec;
