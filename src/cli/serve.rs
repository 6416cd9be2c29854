//! `somnium serve`: every scenario as a world over gRPC with DeepMind's
//! dm_env_rpc protocol, for agents in other languages (see `python/`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use somnium_env::server::{default_factory, run_until_ctrl_c, ServerConfig};

/// Arguments of `somnium serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on. Loopback by default; anything else is reachable from
    /// other machines, so set --token then.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub bind: SocketAddr,
    /// Shared secret every call must carry as `authorization: Bearer <token>`.
    #[arg(long)]
    pub token: Option<String>,
    /// Worlds alive at once, over all clients.
    #[arg(long, default_value_t = 64)]
    pub max_worlds: usize,
    /// Largest request or response, in MiB.
    #[arg(long, default_value_t = 4)]
    pub max_message_mib: usize,
    /// Free a world that got no request for this many seconds.
    #[arg(long, default_value_t = 300)]
    pub idle_timeout_s: u64,
    /// The only directory dream worlds load models from. A CreateWorld `model`
    /// names a checkpoint relative to it (`bounce`, or `models/bounce` with its
    /// own name in front); absolute paths, `..` and links out of it are refused.
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
}

/// Run `somnium serve` until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.max_worlds > 0, "--max-worlds must be at least 1");
    anyhow::ensure!(
        (1..=256).contains(&args.max_message_mib),
        "--max-message-mib must be within 1..=256, got {}",
        args.max_message_mib
    );
    anyhow::ensure!(
        args.idle_timeout_s > 0,
        "--idle-timeout-s must be at least 1"
    );
    if !args.bind.ip().is_loopback() && args.token.is_none() {
        eprintln!(
            "warning: serving on {} without --token: anyone who can reach it can use it",
            args.bind
        );
    }
    if !args.models_dir.is_dir() {
        eprintln!(
            "warning: --models-dir {} is not a directory: dream worlds will be refused",
            args.models_dir.display()
        );
    }
    let config = ServerConfig {
        max_worlds: args.max_worlds,
        max_message_bytes: args.max_message_mib << 20,
        idle_timeout: Duration::from_secs(args.idle_timeout_s),
        token: args.token,
        models_dir: args.models_dir,
    };
    run_until_ctrl_c(args.bind, config, default_factory())?;
    Ok(())
}
