//! `somnium scenarios` (to be implemented).

/// Arguments of `somnium scenarios`.
#[derive(clap::Args)]
pub struct Args {}

/// Run `somnium scenarios`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("somnium scenarios is not implemented yet")
}
