//! Shared helpers of the server tests: a factory with the crate's fake
//! scenario and a panicking env, a models directory with tiny checkpoints, a
//! loopback server, and joined clients.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use candle_core::Device;
use somnium_world_model::checkpoint::{save, Checkpoint};
use somnium_world_model::config::ModelConfig;
use somnium_world_model::dit::DiT;

use super::proto::Tensor;
use super::tensor::{int64_scalar, string_scalar};
use super::*;
use crate::fake::FakeScenario;
use crate::{Action, Env, EnvError, EnvSpec, Info, Observation, ObservationSpace, Space, Step};

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

/// A temporary folder holding `models/` with two tiny random bounce models
/// (`tiny`, `other`: checkpoint directories) and a folder without a model (`empty`).
pub(super) fn tiny_models_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let models = dir.path().join("models");
    for (name, seed) in [("tiny", 11), ("other", 12)] {
        let cfg = ModelConfig::tiny();
        let model = DiT::new(&cfg, seed, &Device::Cpu).expect("a tiny model");
        let weights = model.params().snapshot().expect("its weights");
        let config = serde_json::to_value(&cfg).expect("its config");
        save(&models.join(name), &Checkpoint::new(config, 0, weights)).expect("saved");
    }
    std::fs::create_dir_all(models.join("empty")).expect("an empty folder");
    dir
}

/// `fake-v0` (the crate's fake scenario), `panic-v0`, and the real registry
/// and models otherwise, sharing models through `cache`.
pub(super) fn test_factory_with(cache: Arc<ModelCache>) -> EnvFactory {
    let real = factory_with_cache(cache);
    Arc::new(move |s: &WorldSettings| match s.scenario.as_str() {
        "fake-v0" if s.backend == Backend::Physics => {
            let (w, h) = (s.width.unwrap_or(64), s.height.unwrap_or(64));
            let env = crate::PhysicsEnv::new(Box::new(FakeScenario::new()), w, h)?;
            Ok(Box::new(env) as Box<dyn Env>)
        }
        "panic-v0" => Ok(Box::new(PanickingEnv) as Box<dyn Env>),
        _ => real(s),
    })
}

/// [`test_factory_with`] a cache of its own.
pub(super) fn test_factory() -> EnvFactory {
    test_factory_with(ModelCache::new(Device::Cpu))
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

/// CreateWorld settings of a dream of bounce-v0 with `model`.
pub(super) fn dream_world(model: &str, seed: i64) -> HashMap<String, Tensor> {
    settings(&[
        ("scenario", string_scalar("bounce-v0")),
        ("backend", string_scalar("dream")),
        ("model", string_scalar(model)),
        ("seed", int64_scalar(seed)),
    ])
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
