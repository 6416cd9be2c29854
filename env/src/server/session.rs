//! One client stream: its joined world and the dispatch of each request to the
//! registry or to the world's thread. A request that fails is answered with an
//! `error` payload and the stream goes on. When the session ends (the client
//! finished, died or was cut off) it leaves its world and frees the worlds it
//! created, through `Drop`, so even a cancelled session cleans up.

use std::sync::{mpsc, Arc};

use tokio::sync::oneshot;

use super::proto::environment_request::Payload as Request;
use super::proto::environment_response::Payload as Response;
use super::proto::{
    ActionObservationSpecs, CreateWorldResponse, DestroyWorldResponse, EnvironmentRequest,
    EnvironmentResponse, JoinWorldResponse, LeaveWorldResponse, ResetResponse, ResetWorldResponse,
};
use super::registry::Registry;
use super::settings::{check_join_settings, parse_seed, WorldSettings};
use super::world::WorldCommand;
use super::ServerError;

struct Joined {
    world: String,
    commands: mpsc::Sender<WorldCommand>,
    specs: Arc<ActionObservationSpecs>,
}

/// The state of one `Process` stream.
pub(crate) struct Session {
    id: u64,
    registry: Arc<Registry>,
    joined: Option<Joined>,
}

impl Session {
    pub fn new(id: u64, registry: Arc<Registry>) -> Self {
        Session {
            id,
            registry,
            joined: None,
        }
    }

    /// Answer one request; failures become an `error` response.
    pub async fn handle(&mut self, request: EnvironmentRequest) -> EnvironmentResponse {
        let payload = match self.dispatch(request).await {
            Ok(p) => p,
            Err(e) => Response::Error(e.to_rpc_status()),
        };
        EnvironmentResponse {
            payload: Some(payload),
        }
    }

    async fn dispatch(&mut self, request: EnvironmentRequest) -> Result<Response, ServerError> {
        match request.payload.ok_or(ServerError::EmptyRequest)? {
            Request::CreateWorld(r) => {
                let settings = WorldSettings::parse(&r.settings)?;
                let world_name = self.registry.create(settings, self.id).await?;
                Ok(Response::CreateWorld(CreateWorldResponse { world_name }))
            }
            Request::JoinWorld(r) => {
                if let Some(j) = &self.joined {
                    return Err(ServerError::AlreadyJoined(j.world.clone()));
                }
                check_join_settings(&r.settings)?;
                let (commands, specs) = self.registry.join(&r.world_name, self.id)?;
                let response = JoinWorldResponse {
                    specs: Some((*specs).clone()),
                };
                self.joined = Some(Joined {
                    world: r.world_name,
                    commands,
                    specs,
                });
                Ok(Response::JoinWorld(response))
            }
            Request::Step(r) => {
                self.joined.as_ref().ok_or(ServerError::NotJoined("Step"))?;
                let (reply, answer) = oneshot::channel();
                let command = WorldCommand::Step {
                    actions: r.actions,
                    requested: r.requested_observations,
                    reply,
                };
                let response = self.ask(command, answer).await?;
                Ok(Response::Step(response))
            }
            Request::Reset(r) => {
                let joined = self
                    .joined
                    .as_ref()
                    .ok_or(ServerError::NotJoined("Reset"))?;
                let seed = parse_seed(&r.settings, "Reset")?;
                let specs = (*joined.specs).clone();
                let (reply, answer) = oneshot::channel();
                self.ask(
                    WorldCommand::Reset {
                        seed,
                        interrupt: false,
                        reply,
                    },
                    answer,
                )
                .await?;
                Ok(Response::Reset(ResetResponse { specs: Some(specs) }))
            }
            Request::ResetWorld(r) => {
                let seed = parse_seed(&r.settings, "ResetWorld")?;
                let commands = self.registry.commands(&r.world_name)?;
                let (reply, answer) = oneshot::channel();
                if commands
                    .send(WorldCommand::Reset {
                        seed,
                        interrupt: true,
                        reply,
                    })
                    .is_err()
                {
                    return Err(self.registry.missing(&r.world_name));
                }
                answer
                    .await
                    .map_err(|_| self.registry.missing(&r.world_name))??;
                Ok(Response::ResetWorld(ResetWorldResponse {}))
            }
            Request::LeaveWorld(_) => {
                if let Some(j) = self.joined.take() {
                    self.registry.leave(&j.world, self.id);
                }
                Ok(Response::LeaveWorld(LeaveWorldResponse {}))
            }
            Request::DestroyWorld(r) => {
                self.registry.destroy(&r.world_name)?;
                Ok(Response::DestroyWorld(DestroyWorldResponse {}))
            }
            Request::Extension(any) => super::catalog::handle_extension(any),
        }
    }

    /// Send `command` to the joined world and wait for its answer. When the
    /// world is gone (freed after idling, or failed) the session un-joins.
    async fn ask<T>(
        &mut self,
        command: WorldCommand,
        answer: oneshot::Receiver<Result<T, ServerError>>,
    ) -> Result<T, ServerError> {
        let Some(joined) = &self.joined else {
            return Err(ServerError::NotJoined("Step"));
        };
        let world = joined.world.clone();
        let delivered = joined.commands.send(command).is_ok();
        let result = if delivered { answer.await.ok() } else { None };
        match result {
            Some(r) => {
                if matches!(r, Err(ServerError::WorldFailed { .. })) {
                    self.joined = None;
                }
                r
            }
            None => {
                self.joined = None;
                Err(self.registry.missing(&world))
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.registry.session_closed(self.id);
    }
}
