//! The env server: every somnium scenario served as a world over gRPC with
//! DeepMind's dm_env_rpc protocol (`proto/dm_env_rpc/v1/dm_env_rpc.proto`), so
//! agents in any language (Python's `dm-env-rpc` and `somnium_client`) can
//! train in somnium without a Rust toolchain. Enabled by the `server` feature.
//!
//! - CreateWorld settings: `scenario` (required, e.g. `push-v0`), `variant`
//!   (`id`/`ood`), `seed`, `width`, `height`, `backend` (`physics` or `dream`
//!   with `model`, a checkpoint or run directory inside the server's models
//!   directory, [`ServerConfig::models_dir`]). See [`WorldSettings`]. Worlds that
//!   dream with one model share one loaded copy ([`ModelCache`]).
//! - JoinWorld returns the specs: action uid [`ACTION_UID`] (`action`: float32
//!   box or int64 index); observations `frame` (uint8 `[H, W, 3]`), `state`,
//!   `reward`, `discount`, `terminated`, `truncated` (uids in [`world`]).
//! - Step follows dm_env_rpc: the first Step after JoinWorld or Reset starts a
//!   sequence (actions ignored); terminated ends in TERMINATED, truncated in
//!   INTERRUPTED. Reset and ResetWorld take an optional `seed`.
//! - The `extension` request serves dm_env_rpc's properties extension: the
//!   scenario catalog (ids, variants, each one's `control_hz` and `render_fps`),
//!   read-only and without a world ([`catalog`]).
//! - Limits: [`ServerConfig`] (maximum worlds, message size, idle timeout,
//!   optional token, models directory) and the tensor limits in [`tensor`].
//!   Errors: [`ServerError`], sent as `google.rpc.Status`.

pub mod catalog;
mod client;
mod error;
mod factory;
mod models_dir;
mod registry;
mod service;
mod session;
pub mod settings;
pub mod tensor;
pub mod world;

#[cfg(test)]
mod dream_tests;
#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod fuzz_strategies;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use client::{ClientError, EnvClient};
pub use error::ServerError;
pub use factory::{default_factory, factory_with_cache, EnvFactory, ModelCache};
pub use models_dir::MAX_MODEL_NAME;
pub use service::{serve, spawn, RunningServer};
pub use settings::{Backend, WorldSettings};
pub use world::{
    ACTION_UID, DISCOUNT_UID, FRAME_UID, REWARD_UID, STATE_UID, TERMINATED_UID, TRUNCATED_UID,
};

/// The dm_env_rpc messages and the `Environment` service, generated from
/// `proto/` at build time (`google.rpc.Status` is `tonic_types::Status`).
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("dm_env_rpc.v1");
}

/// The server's limits and access control.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Worlds alive at once, over all clients.
    pub max_worlds: usize,
    /// Largest request or response, in bytes.
    pub max_message_bytes: usize,
    /// A world that gets no request for this long is freed.
    pub idle_timeout: Duration,
    /// Shared secret every call must carry as `authorization: Bearer <token>`.
    pub token: Option<String>,
    /// The only directory dream worlds load models from (`models` by default,
    /// relative to the server's working directory). A CreateWorld `model` is a
    /// path relative to it; a first component equal to the directory's own name
    /// may be left in (`models/bounce` and `bounce` are one model). Absolute
    /// paths, `..`, links that lead out of it and names without a checkpoint are
    /// refused alike, with an error that tells nothing of what exists outside.
    pub models_dir: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_worlds: 64,
            max_message_bytes: 4 << 20,
            idle_timeout: Duration::from_secs(300),
            token: None,
            models_dir: PathBuf::from("models"),
        }
    }
}

/// Serve `factory`'s worlds on `bind` until Ctrl-C (or SIGTERM), on a multi-threaded tokio
/// runtime. Prints the address once listening (port 0 picks a free port).
pub fn run_until_ctrl_c(
    bind: SocketAddr,
    config: ServerConfig,
    factory: EnvFactory,
) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        println!("somnium env server (dm_env_rpc) listening on {addr}");
        let shutdown = async {
            stop_signal().await;
            eprintln!("shutting down: ending streams and freeing worlds");
        };
        serve(listener, config, factory, shutdown).await
    })
}

/// Ctrl-C, or SIGTERM on Unix (what `kill` and CI send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
