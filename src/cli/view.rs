//! `somnium view ROLLOUT_DIR`: opens a rollout in the Bevy viewer. The viewer is
//! its own binary (`somnium-viewer`, kept out of the default build because Bevy
//! is heavy), so this runs it from next to the `somnium` binary or from `PATH`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};

#[derive(clap::Args)]
pub struct Args {
    /// The rollout directory (rollout.json + rollout.safetensors).
    rollout: PathBuf,
    /// Render the full layout to this PNG without a person, then exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// The step to show first (and to screenshot).
    #[arg(long, default_value_t = 0)]
    at_step: usize,
}

/// The viewer binary: beside this executable when built in the same target, else from `PATH`.
fn viewer_binary() -> PathBuf {
    let name = format!("somnium-viewer{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let binary = viewer_binary();
    let mut command = Command::new(&binary);
    command
        .arg(&args.rollout)
        .arg("--at-step")
        .arg(args.at_step.to_string());
    if let Some(png) = &args.screenshot {
        command.arg("--screenshot").arg(png);
    }
    let status = match command.status() {
        Ok(status) => status,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "the viewer is not built: run `cargo build --release -p somnium-viewer` \
             (it needs Bevy's system packages, see .ci/viewer_tests.sh)"
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot start {}", binary.display())),
    };
    if !status.success() {
        // The viewer has printed what was wrong; pass its exit code on.
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}
