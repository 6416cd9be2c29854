//! `somnium record` (to be implemented).

/// Arguments of `somnium record`.
#[derive(clap::Args)]
pub struct Args {}

/// Run `somnium record`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("somnium record is not implemented yet")
}
