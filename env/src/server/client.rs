//! A small Rust client of the dm_env_rpc protocol: one stream, one request at a
//! time. Used by the tests and the load benchmark, and by Rust agents that talk
//! to a remote somnium server.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::{Code, Streaming};

use super::proto::environment_client::EnvironmentClient;
use super::proto::environment_request::Payload as Request;
use super::proto::environment_response::Payload as Response;
use super::proto::{
    ActionObservationSpecs, CreateWorldRequest, DestroyWorldRequest, EnvironmentRequest,
    EnvironmentResponse, JoinWorldRequest, LeaveWorldRequest, ResetRequest, StepRequest,
    StepResponse, Tensor,
};

/// Errors a client sees.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered the request with an error status.
    #[error("server error {code:?}: {message}")]
    Rpc { code: Code, message: String },
    /// The stream or connection failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// The server answered with a different response than the request asks for.
    #[error("unexpected response: {0}")]
    Unexpected(String),
}

impl ClientError {
    /// The gRPC code of a server error (`Unknown` for transport errors).
    pub fn code(&self) -> Code {
        match self {
            ClientError::Rpc { code, .. } => *code,
            _ => Code::Unknown,
        }
    }
}

/// One open `Process` stream to a dm_env_rpc server.
pub struct EnvClient {
    requests: mpsc::Sender<EnvironmentRequest>,
    responses: Streaming<EnvironmentResponse>,
}

impl EnvClient {
    /// Connect to `addr`, sending `token` (if any) as `authorization: Bearer <token>`.
    pub async fn connect(addr: SocketAddr, token: Option<&str>) -> Result<Self, ClientError> {
        let transport = |e: &dyn std::fmt::Display| ClientError::Transport(e.to_string());
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| transport(&e))?
            .connect()
            .await
            .map_err(|e| transport(&e))?;
        let mut client = EnvironmentClient::new(channel).max_decoding_message_size(64 << 20);
        let (requests, receiver) = mpsc::channel(4);
        let mut call = tonic::Request::new(ReceiverStream::new(receiver));
        if let Some(token) = token {
            let value: MetadataValue<_> = format!("Bearer {token}")
                .parse()
                .map_err(|e| transport(&e))?;
            call.metadata_mut().insert("authorization", value);
        }
        let responses = client
            .process(call)
            .await
            .map_err(status_error)?
            .into_inner();
        Ok(EnvClient {
            requests,
            responses,
        })
    }

    /// Send one request payload and wait for its response payload.
    pub async fn request(&mut self, payload: Request) -> Result<Response, ClientError> {
        self.send_request(EnvironmentRequest {
            payload: Some(payload),
        })
        .await
    }

    /// Send one request as it is (even an invalid one) and wait for its response payload.
    pub async fn send_request(
        &mut self,
        request: EnvironmentRequest,
    ) -> Result<Response, ClientError> {
        let sent = self.requests.send(request).await;
        if sent.is_err() {
            return Err(ClientError::Transport(
                "the request stream is closed".into(),
            ));
        }
        match self.responses.message().await {
            Ok(Some(EnvironmentResponse {
                payload: Some(Response::Error(s)),
            })) => Err(ClientError::Rpc {
                code: Code::from_i32(s.code),
                message: s.message,
            }),
            Ok(Some(EnvironmentResponse { payload: Some(p) })) => Ok(p),
            Ok(Some(EnvironmentResponse { payload: None })) => {
                Err(ClientError::Unexpected("empty response".into()))
            }
            Ok(None) => Err(ClientError::Transport(
                "the server closed the stream".into(),
            )),
            Err(status) => Err(status_error(status)),
        }
    }

    /// CreateWorld; returns the world's name.
    pub async fn create_world(
        &mut self,
        settings: HashMap<String, Tensor>,
    ) -> Result<String, ClientError> {
        match self
            .request(Request::CreateWorld(CreateWorldRequest { settings }))
            .await?
        {
            Response::CreateWorld(r) => Ok(r.world_name),
            other => Err(unexpected("CreateWorld", &other)),
        }
    }

    /// JoinWorld; returns the specs.
    pub async fn join_world(
        &mut self,
        world_name: &str,
    ) -> Result<ActionObservationSpecs, ClientError> {
        let request = JoinWorldRequest {
            world_name: world_name.to_string(),
            settings: HashMap::new(),
        };
        match self.request(Request::JoinWorld(request)).await? {
            Response::JoinWorld(r) => r
                .specs
                .ok_or_else(|| ClientError::Unexpected("JoinWorld without specs".into())),
            other => Err(unexpected("JoinWorld", &other)),
        }
    }

    /// Step with `actions`, asking for the observations `requested`.
    pub async fn step(
        &mut self,
        actions: HashMap<u64, Tensor>,
        requested: Vec<u64>,
    ) -> Result<StepResponse, ClientError> {
        let request = StepRequest {
            actions,
            requested_observations: requested,
        };
        match self.request(Request::Step(request)).await? {
            Response::Step(r) => Ok(r),
            other => Err(unexpected("Step", &other)),
        }
    }

    /// Reset, optionally with a new seed; the next Step starts a sequence.
    pub async fn reset(&mut self, settings: HashMap<String, Tensor>) -> Result<(), ClientError> {
        match self
            .request(Request::Reset(ResetRequest { settings }))
            .await?
        {
            Response::Reset(_) => Ok(()),
            other => Err(unexpected("Reset", &other)),
        }
    }

    /// LeaveWorld.
    pub async fn leave_world(&mut self) -> Result<(), ClientError> {
        match self
            .request(Request::LeaveWorld(LeaveWorldRequest {}))
            .await?
        {
            Response::LeaveWorld(_) => Ok(()),
            other => Err(unexpected("LeaveWorld", &other)),
        }
    }

    /// DestroyWorld.
    pub async fn destroy_world(&mut self, world_name: &str) -> Result<(), ClientError> {
        let request = DestroyWorldRequest {
            world_name: world_name.to_string(),
        };
        match self.request(Request::DestroyWorld(request)).await? {
            Response::DestroyWorld(_) => Ok(()),
            other => Err(unexpected("DestroyWorld", &other)),
        }
    }
}

fn status_error(status: tonic::Status) -> ClientError {
    ClientError::Rpc {
        code: status.code(),
        message: status.message().to_string(),
    }
}

fn unexpected(request: &str, got: &Response) -> ClientError {
    let kind = format!("{got:?}");
    let name = kind.split('(').next().unwrap_or("?");
    ClientError::Unexpected(format!("{request} was answered with {name}"))
}
