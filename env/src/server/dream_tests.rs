//! Dream worlds over loopback: models come only from the models directory (the
//! path rule of [`super::models_dir`] seen by a client), worlds of one model
//! share one load and dream what an unshared [`DreamEnv`] dreams, and the model
//! is freed with the last world that uses it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use candle_core::Device;
use tonic::Code;

use super::proto::{tensor, EnvironmentStateType, Tensor};
use super::tensor::float_tensor;
use super::test_support::{dream_world, test_factory_with, tiny_models_dir};
use super::*;
use crate::{Action, DreamEnv, DreamModel, Env};

async fn dream_server(models_dir: std::path::PathBuf) -> (RunningServer, Arc<ModelCache>) {
    let cache = ModelCache::new(Device::Cpu);
    let config = ServerConfig {
        models_dir,
        ..ServerConfig::default()
    };
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = spawn(any_port, config, test_factory_with(cache.clone()))
        .await
        .expect("server starts");
    (server, cache)
}

fn frame(t: &Tensor) -> Vec<u8> {
    match &t.payload {
        Some(tensor::Payload::Uint8s(a)) => a.array.clone(),
        other => panic!("frame is not uint8: {other:?}"),
    }
}

fn push(x: f32) -> HashMap<u64, Tensor> {
    HashMap::from([(ACTION_UID, float_tensor(vec![x, -0.5], &[2]))])
}

/// Wait (at most ~10 s) until no world thread runs and no model is loaded.
async fn wait_until_freed(server: &RunningServer, cache: &ModelCache) -> (usize, usize) {
    for _ in 0..200 {
        if server.running_worlds() == 0 && cache.live() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server.running_worlds(), cache.live())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dream_worlds_serve_the_models_frames_without_a_state() {
    let models = tiny_models_dir();
    let (server, _) = dream_server(models.path().join("models")).await;
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    let world = c.create_world(dream_world("tiny", 0)).await.unwrap();
    let specs = c.join_world(&world).await.unwrap();
    assert!(
        !specs.observations.contains_key(&STATE_UID),
        "a dream has no true state"
    );
    let frame_shape = specs.observations[&FRAME_UID].shape.clone();
    let first = c.step(HashMap::new(), vec![FRAME_UID]).await.unwrap();
    assert_eq!(first.state, EnvironmentStateType::Running as i32);
    let next = c
        .step(push(0.5), vec![FRAME_UID, REWARD_UID])
        .await
        .unwrap();
    let f = &next.observations[&FRAME_UID];
    assert_eq!(f.shape, frame_shape);
    let n: i32 = frame_shape.iter().product();
    assert_eq!(frame(f).len(), n as usize);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worlds_of_one_model_share_one_load_and_dream_as_an_unshared_env() {
    let models = tiny_models_dir();
    let root = models.path().join("models");
    let (server, cache) = dream_server(root.clone()).await;
    // both spellings of the rule name one model
    let (mut a, mut b) = (
        EnvClient::connect(server.addr, None).await.unwrap(),
        EnvClient::connect(server.addr, None).await.unwrap(),
    );
    let wa = a.create_world(dream_world("tiny", 7)).await.unwrap();
    let wb = b.create_world(dream_world("models/tiny", 7)).await.unwrap();
    assert_eq!(
        (cache.loads(), cache.live()),
        (1, 1),
        "one load for two worlds"
    );
    a.join_world(&wa).await.unwrap();
    b.join_world(&wb).await.unwrap();
    let model = DreamModel::load(&root.join("tiny"), &Device::Cpu).unwrap();
    let mut alone = DreamEnv::make("bounce-v0", "id", model).unwrap();
    let mut expected = vec![alone.reset(Some(7)).unwrap().0.frame.data];
    let mut got_a = vec![frame(
        &a.step(HashMap::new(), vec![FRAME_UID])
            .await
            .unwrap()
            .observations[&FRAME_UID],
    )];
    let mut got_b = vec![frame(
        &b.step(HashMap::new(), vec![FRAME_UID])
            .await
            .unwrap()
            .observations[&FRAME_UID],
    )];
    for i in 0..3 {
        let x = 0.3 * i as f32;
        let step = alone.step(&Action::Continuous(vec![x, -0.5])).unwrap();
        expected.push(step.obs.frame.data);
        // the two worlds step at once, on their own threads, with one model
        let (ra, rb) = tokio::join!(
            a.step(push(x), vec![FRAME_UID]),
            b.step(push(x), vec![FRAME_UID])
        );
        got_a.push(frame(&ra.unwrap().observations[&FRAME_UID]));
        got_b.push(frame(&rb.unwrap().observations[&FRAME_UID]));
    }
    assert_eq!(
        got_a, expected,
        "a shared model dreams what its own copy dreams"
    );
    assert_eq!(got_b, expected);
    drop((a, b));
    assert_eq!(
        wait_until_freed(&server, &cache).await,
        (0, 0),
        "the model is freed with its worlds"
    );
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    c.create_world(dream_world("tiny", 1)).await.unwrap();
    assert_eq!(cache.loads(), 2, "a freed model is loaded again");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_outside_the_directory_are_refused_like_missing_ones() {
    let models = tiny_models_dir();
    let root = models.path().join("models");
    let outside = models.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::rename(root.join("other"), outside.join("other")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    let (server, cache) = dream_server(root).await;
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    let absolute = outside.join("other").display().to_string();
    let server_path = models.path().display().to_string();
    for name in [
        "../outside/other",
        "link/other",
        absolute.as_str(),
        "nowhere",
        "/etc",
    ] {
        let err = c.create_world(dream_world(name, 0)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}: {err}");
        let expected = ServerError::UnknownModel(name.to_string()).to_string();
        assert_eq!(
            err.to_string(),
            format!("server error InvalidArgument: {expected}")
        );
        if name != absolute {
            assert!(!err.to_string().contains(&server_path), "{err}");
        }
    }
    assert_eq!(
        (cache.loads(), server.world_count()),
        (0, 0),
        "nothing was loaded"
    );
    // the stream is still usable, and the real model still loads
    c.create_world(dream_world("tiny", 0)).await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_model_is_named_without_the_servers_path() {
    let models = tiny_models_dir();
    let root = models.path().join("models");
    std::fs::create_dir_all(root.join("broken")).unwrap();
    std::fs::write(root.join("broken/config.json"), "{ not json").unwrap();
    let (server, cache) = dream_server(root).await;
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    let err = c.create_world(dream_world("broken", 0)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("model 'broken' could not be used"),
        "{message}"
    );
    assert!(message.contains("<models-dir>"), "{message}");
    let server_path = models.path().display().to_string();
    assert!(!message.contains(&server_path), "{message}");
    assert_eq!((cache.live(), server.world_count()), (0, 0));
    server.shutdown().await.unwrap();
}
