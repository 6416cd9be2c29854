//! One module per `somnium` subcommand.

mod agent_resume;
pub mod bench;
pub mod benchmark;
pub mod benchmark_compare;
mod config_file;
#[cfg(test)]
mod config_limits_tests;
pub mod demo;
pub mod dream;
pub mod eval;
pub mod eval_agent;
pub mod eval_agent_report;
pub mod export;
pub mod record;
pub mod render;
pub mod results;
pub mod scenarios;
pub mod serve;
pub mod train;
pub mod train_agent;
pub mod train_codec;
mod train_outputs;
mod train_setup;
pub mod view;

use std::path::Path;

use somnium_files::{Claim, OutputKind};

/// This process's command line as a person would type it (`somnium` and its
/// arguments), for reports and checkpoints to record.
pub fn command_line() -> Vec<String> {
    std::iter::once("somnium".to_string())
        .chain(std::env::args().skip(1))
        .collect()
}

/// Claims `--out` for one kind of output before any work is done: a missing
/// directory is created, an empty one or one already holding `kind` granted,
/// anything else refused, naming what is there. No command writes into, or
/// deletes from, a directory it does not own.
pub fn claim_out(dir: &Path, kind: &OutputKind) -> anyhow::Result<Claim> {
    somnium_files::claim_dir(dir, kind).map_err(|e| anyhow::anyhow!("--out {e}"))
}

/// [`claim_out`] for a run that `--resume` continues: an existing run is
/// granted only with `--resume` (so a new run never overwrites an old one's
/// checkpoints and metrics), and `--resume` needs one.
pub fn claim_run_out(dir: &Path, kind: &OutputKind, resume: bool) -> anyhow::Result<()> {
    match (claim_out(dir, kind)?, resume) {
        (Claim::Existing, false) => anyhow::bail!(
            "--out {} already holds a {}: pass --resume to go on with it, or give another --out",
            dir.display(),
            kind.name
        ),
        (Claim::Created | Claim::Empty, true) => anyhow::bail!(
            "--resume: {} holds no {}: there is no run to resume",
            dir.display(),
            kind.name
        ),
        _ => Ok(()),
    }
}
