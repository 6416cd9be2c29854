//! `somnium render` (to be implemented).

/// Arguments of `somnium render`.
#[derive(clap::Args)]
pub struct Args {}

/// Run `somnium render`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("somnium render is not implemented yet")
}
