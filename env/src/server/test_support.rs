//! Shared helpers of the server tests: a factory with the crate's fake
//! scenario and a panicking env, a loopback server, and joined clients.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use somnium_world_model::config::ModelConfig;

use super::proto::Tensor;
use super::tensor::{int64_scalar, string_scalar};
use super::*;
use crate::fake::FakeScenario;
use crate::{Action, EnvError, EnvSpec, Info, Observation, ObservationSpace, Space, Step};
use crate::{DreamEnv, DreamModel};

/// A scenario-free env that panics when stepped (a bug in an env must not take the server down).
struct PanickingEnv;

impl Env for PanickingEnv {
    fn reset(&mut self, _seed: Option<u64>) -> Result<(Observation, Info), EnvError> {
        let frame = crate::Frame {
            width: 2,
            height: 2,
            data: vec![0; 12],
        };
        Ok((Observation { frame, state: None }, Info::default()))
    }
    fn step(&mut self, _action: &Action) -> Result<Step, EnvError> {
        panic!("deliberate test panic")
    }
    fn observation_space(&self) -> ObservationSpace {
        ObservationSpace {
            frame: ObservationSpace::frame_space(2, 2),
            state: None,
        }
    }
    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }
    fn spec(&self) -> EnvSpec {
        EnvSpec {
            id: "panic-v0".into(),
            variant: "id".into(),
            max_episode_steps: None,
            control_hz: 15.0,
        }
    }
}

/// The model path that the test factory answers with a random tiny dream model.
pub(super) const RANDOM_TINY_MODEL: &str = "test:random-tiny";

/// `fake-v0` (the crate's fake scenario), `panic-v0`, dreams of a random tiny
/// model ([`RANDOM_TINY_MODEL`]), and the real registry otherwise.
pub(super) fn test_factory() -> EnvFactory {
    let real = default_factory();
    Arc::new(move |s: &WorldSettings| match s.scenario.as_str() {
        "fake-v0" if s.backend == Backend::Physics => {
            let (w, h) = (s.width.unwrap_or(64), s.height.unwrap_or(64));
            let env = crate::PhysicsEnv::new(Box::new(FakeScenario::new()), w, h)?;
            Ok(Box::new(env) as Box<dyn Env>)
        }
        "panic-v0" => Ok(Box::new(PanickingEnv) as Box<dyn Env>),
        _ if s.backend
            == (Backend::Dream {
                model: RANDOM_TINY_MODEL.into(),
            }) =>
        {
            let model = DreamModel::random(&ModelConfig::tiny(), 11)?;
            let env = DreamEnv::make(&s.scenario, &s.variant, model)?;
            Ok(Box::new(env) as Box<dyn Env>)
        }
        _ => real(s),
    })
}

pub(super) async fn start(config: ServerConfig) -> RunningServer {
    spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        config,
        test_factory(),
    )
    .await
    .expect("server starts")
}

pub(super) fn settings(entries: &[(&str, Tensor)]) -> HashMap<String, Tensor> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub(super) fn fake_world(seed: i64) -> HashMap<String, Tensor> {
    settings(&[
        ("scenario", string_scalar("fake-v0")),
        ("seed", int64_scalar(seed)),
        ("width", int64_scalar(16)),
    ])
}

pub(super) async fn joined_client(server: &RunningServer, seed: i64) -> (EnvClient, String) {
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    let world = c.create_world(fake_world(seed)).await.unwrap();
    c.join_world(&world).await.unwrap();
    (c, world)
}
