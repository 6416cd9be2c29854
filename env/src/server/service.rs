//! The tonic service: one task per `Process` stream, the optional shared-secret
//! check on every call, the message-size limit, keepalives that notice dead
//! clients, and graceful shutdown (streams end with UNAVAILABLE, worlds stop).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::service::interceptor::InterceptedService;
use tonic::{Code, Request, Response, Status, Streaming};

use super::proto::environment_server::{Environment, EnvironmentServer};
use super::proto::{EnvironmentRequest, EnvironmentResponse};
use super::registry::Registry;
use super::session::Session;
use super::{EnvFactory, ServerConfig, ServerError};

/// The dm_env_rpc `Environment` service over a [`Registry`].
pub(crate) struct EnvService {
    registry: Arc<Registry>,
    next_session: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

#[tonic::async_trait]
impl Environment for EnvService {
    type ProcessStream = ReceiverStream<Result<EnvironmentResponse, Status>>;

    async fn process(
        &self,
        request: Request<Streaming<EnvironmentRequest>>,
    ) -> Result<Response<Self::ProcessStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(4);
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let mut session = Session::new(id, self.registry.clone());
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    message = inbound.message() => match message {
                        Ok(Some(request)) => {
                            let response = session.handle(request).await;
                            if tx.send(Ok(response)).await.is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(status) => {
                            let _ = tx.send(Err(malformed(status))).await;
                            break;
                        }
                    },
                    _ = tx.closed() => break,
                    _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => {
                        let _ = tx.send(Err(Status::unavailable("the somnium server is shutting down"))).await;
                        break;
                    }
                }
            }
            drop(session);
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// A request that could not be decoded ends its stream with INVALID_ARGUMENT
/// (tonic reports decode failures as INTERNAL; size limits keep their code).
fn malformed(status: Status) -> Status {
    if status.code() == Code::Internal {
        Status::invalid_argument(format!("malformed request: {}", status.message()))
    } else {
        status
    }
}

/// Checks `authorization: Bearer <token>` on every call when a token is set.
#[derive(Clone)]
pub(crate) struct TokenCheck {
    token: Option<Arc<str>>,
}

impl tonic::service::Interceptor for TokenCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.token else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        match given.and_then(|v| v.strip_prefix("Bearer ")) {
            Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(request),
            Some(_) => Err(Status::unauthenticated(
                "wrong token in the authorization metadata",
            )),
            None => Err(Status::unauthenticated(
                "this server needs a token: send metadata 'authorization: Bearer <token>'",
            )),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A server running on a background task (tests, benches, embedding).
pub struct RunningServer {
    /// The address it listens on (the real port when bound to port 0).
    pub addr: SocketAddr,
    registry: Arc<Registry>,
    stop: Option<watch::Sender<bool>>,
    task: tokio::task::JoinHandle<Result<(), ServerError>>,
}

impl RunningServer {
    /// Number of live worlds.
    pub fn world_count(&self) -> usize {
        self.registry.world_count()
    }

    /// Number of world threads still running: freed worlds' threads end (and
    /// drop their envs) shortly after [`Self::world_count`] stops counting them.
    pub fn running_worlds(&self) -> usize {
        self.registry.running_worlds()
    }

    /// Stop serving, end every stream and world, and wait for the server to finish.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(ServerError::Transport(format!("server task failed: {e}"))),
        }
    }
}

/// Bind `addr` (port 0 picks a free port) and serve on a background task until
/// [`RunningServer::shutdown`].
pub async fn spawn(
    addr: SocketAddr,
    config: ServerConfig,
    factory: EnvFactory,
) -> Result<RunningServer, ServerError> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let registry = Registry::new(&config, factory);
    let (stop, stopped) = watch::channel(false);
    let mut signal = stopped.clone();
    let task = tokio::spawn(serve_with_registry(
        listener,
        config,
        registry.clone(),
        stopped,
        async move {
            let _ = signal.wait_for(|s| *s).await;
        },
    ));
    Ok(RunningServer {
        addr,
        registry,
        stop: Some(stop),
        task,
    })
}

/// Serve on `listener` until `shutdown` completes, then end every stream and world.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    factory: EnvFactory,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let registry = Registry::new(&config, factory);
    let (stop, stopped) = watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    serve_with_registry(listener, config, registry, stopped, signal).await
}

async fn serve_with_registry(
    listener: TcpListener,
    config: ServerConfig,
    registry: Arc<Registry>,
    stopped: watch::Receiver<bool>,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let service = EnvService {
        registry: registry.clone(),
        next_session: AtomicU64::new(1),
        shutdown: stopped,
    };
    let server = EnvironmentServer::new(service)
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);
    let check = TokenCheck {
        token: config.token.as_deref().map(Arc::from),
    };
    let result = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .tcp_keepalive(Some(Duration::from_secs(60)))
        .concurrency_limit_per_connection(64)
        .add_service(InterceptedService::new(server, check))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), signal)
        .await
        .map_err(|e| ServerError::Transport(e.to_string()));
    registry.shutdown_all();
    result
}
