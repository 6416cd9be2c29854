//! End-to-end tests of the server over loopback gRPC: the protocol's sequence
//! rules, the specs, seeding, and every error a request can get (each answered
//! in the stream, which stays usable).

use std::collections::HashMap;

use tonic::Code;

use super::proto::{tensor, DataType, EnvironmentStateType, Tensor};
use super::tensor::{float_tensor, int64_scalar, string_scalar};
use super::test_support::{fake_world, joined_client, settings, start};
use super::*;
use crate::fake::FakeScenario;

const ALL: [u64; 6] = [
    FRAME_UID,
    STATE_UID,
    REWARD_UID,
    DISCOUNT_UID,
    TERMINATED_UID,
    TRUNCATED_UID,
];

fn action(x: f32, y: f32) -> HashMap<u64, Tensor> {
    HashMap::from([(ACTION_UID, float_tensor(vec![x, y], &[2]))])
}

fn floats(t: &Tensor) -> Vec<f32> {
    match &t.payload {
        Some(tensor::Payload::Floats(a)) => a.array.clone(),
        other => panic!("expected floats, got {other:?}"),
    }
}

fn flag(t: &Tensor) -> bool {
    match &t.payload {
        Some(tensor::Payload::Bools(a)) => a.array[0],
        other => panic!("expected a bool, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_returns_named_specs_with_shapes_dtypes_and_bounds() {
    let server = start(ServerConfig::default()).await;
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    let world = c.create_world(fake_world(1)).await.unwrap();
    let specs = c.join_world(&world).await.unwrap();
    let a = &specs.actions[&ACTION_UID];
    assert_eq!(
        (a.name.as_str(), a.shape.as_slice(), a.dtype),
        ("action", &[2][..], DataType::Float as i32)
    );
    let frame = &specs.observations[&FRAME_UID];
    assert_eq!(
        (frame.name.as_str(), frame.shape.as_slice()),
        ("frame", &[64, 16, 3][..])
    );
    assert_eq!(frame.dtype, DataType::Uint8 as i32);
    let names: Vec<&str> = ALL
        .iter()
        .map(|u| specs.observations[u].name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "frame",
            "state",
            "reward",
            "discount",
            "terminated",
            "truncated"
        ]
    );
    assert_eq!(specs.observations[&STATE_UID].shape, vec![2]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn episodes_run_terminate_and_truncate_with_gymnasium_flags() {
    let server = start(ServerConfig::default()).await;
    let (mut c, _) = joined_client(&server, 3).await;
    // The first step ignores its actions (even a bad one) and starts the sequence.
    let bogus = HashMap::from([(77, int64_scalar(0))]);
    let first = c.step(bogus, ALL.to_vec()).await.unwrap();
    assert_eq!(first.state, EnvironmentStateType::Running as i32);
    match &first.observations[&FRAME_UID].payload {
        Some(tensor::Payload::Uint8s(a)) => assert_eq!(a.array.len(), 64 * 16 * 3),
        other => panic!("frame is not uint8: {other:?}"),
    }
    // Pushing right reaches the wall: TERMINATED, discount 0, terminated.
    let mut last = first;
    for _ in 0..FakeScenario::LIMIT {
        last = c.step(action(1.0, 0.0), ALL.to_vec()).await.unwrap();
        if last.state != EnvironmentStateType::Running as i32 {
            break;
        }
    }
    assert_eq!(last.state, EnvironmentStateType::Terminated as i32);
    assert!(flag(&last.observations[&TERMINATED_UID]) && !flag(&last.observations[&TRUNCATED_UID]));
    assert_eq!(floats(&last.observations[&DISCOUNT_UID]), vec![0.0]);
    // The next step starts a new sequence; standing still hits the time limit.
    let restart = c.step(action(1.0, 0.0), vec![]).await.unwrap();
    assert_eq!(restart.state, EnvironmentStateType::Running as i32);
    assert!(restart.observations.is_empty());
    let mut states = Vec::new();
    for _ in 0..FakeScenario::LIMIT {
        states.push(c.step(HashMap::new(), ALL.to_vec()).await.unwrap());
    }
    let end = states.last().unwrap();
    assert_eq!(end.state, EnvironmentStateType::Interrupted as i32);
    assert!(flag(&end.observations[&TRUNCATED_UID]) && !flag(&end.observations[&TERMINATED_UID]));
    assert_eq!(floats(&end.observations[&DISCOUNT_UID]), vec![1.0]);
    assert!(states[..states.len() - 1]
        .iter()
        .all(|s| s.state == EnvironmentStateType::Running as i32));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_episode_and_reset_reseeds() {
    let server = start(ServerConfig::default()).await;
    let (mut a, _) = joined_client(&server, 11).await;
    let (mut b, _) = joined_client(&server, 11).await;
    let sa = floats(
        &a.step(HashMap::new(), vec![STATE_UID])
            .await
            .unwrap()
            .observations[&STATE_UID],
    );
    let sb = floats(
        &b.step(HashMap::new(), vec![STATE_UID])
            .await
            .unwrap()
            .observations[&STATE_UID],
    );
    assert_eq!(sa, sb);
    a.step(action(0.5, 0.5), vec![]).await.unwrap();
    a.reset(settings(&[("seed", int64_scalar(11))]))
        .await
        .unwrap();
    let again = floats(
        &a.step(HashMap::new(), vec![STATE_UID])
            .await
            .unwrap()
            .observations[&STATE_UID],
    );
    assert_eq!(again, sa);
    server.shutdown().await.unwrap();
}

async fn expect_code<T: std::fmt::Debug>(r: Result<T, ClientError>, code: Code, needle: &str) {
    match r {
        Err(ClientError::Rpc { code: got, message }) => {
            assert_eq!(got, code, "wrong code for '{message}'");
            assert!(
                message.contains(needle),
                "'{message}' does not mention '{needle}'"
            );
        }
        other => panic!("expected {code:?} mentioning '{needle}', got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_world_requests_get_clear_errors_and_the_stream_stays_usable() {
    use super::proto::environment_request::Payload;
    let server = start(ServerConfig::default()).await;
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    expect_code(
        c.step(HashMap::new(), vec![]).await,
        Code::FailedPrecondition,
        "JoinWorld",
    )
    .await;
    expect_code(
        c.reset(HashMap::new()).await,
        Code::FailedPrecondition,
        "Reset",
    )
    .await;
    expect_code(c.join_world("atlantis").await, Code::NotFound, "atlantis").await;
    expect_code(
        c.destroy_world("atlantis").await,
        Code::NotFound,
        "atlantis",
    )
    .await;
    expect_code(
        c.create_world(HashMap::new()).await,
        Code::InvalidArgument,
        "scenario",
    )
    .await;
    let unknown = settings(&[("scenario", string_scalar("nope-v0"))]);
    expect_code(
        c.create_world(unknown).await,
        Code::InvalidArgument,
        "nope-v0",
    )
    .await;
    let mut extra = fake_world(0);
    extra.insert("gravity".into(), float_tensor(vec![1.0], &[]));
    expect_code(
        c.create_world(extra).await,
        Code::InvalidArgument,
        "gravity",
    )
    .await;
    let dream = settings(&[
        ("scenario", string_scalar("push-v0")),
        ("backend", string_scalar("dream")),
        ("model", string_scalar("/models/push")),
    ]);
    expect_code(
        c.create_world(dream).await,
        Code::InvalidArgument,
        "/models/push",
    )
    .await;
    expect_code(
        c.request(Payload::Extension(Default::default())).await,
        Code::Unimplemented,
        "extension",
    )
    .await;
    let empty = c
        .send_request(super::proto::EnvironmentRequest { payload: None })
        .await;
    expect_code(empty, Code::InvalidArgument, "no payload").await;
    // Join twice, a busy world, destroying a joined world.
    let world = c.create_world(fake_world(0)).await.unwrap();
    c.join_world(&world).await.unwrap();
    expect_code(
        c.join_world(&world).await,
        Code::FailedPrecondition,
        "leave",
    )
    .await;
    let mut other = EnvClient::connect(server.addr, None).await.unwrap();
    expect_code(
        other.join_world(&world).await,
        Code::FailedPrecondition,
        "already has an agent",
    )
    .await;
    expect_code(
        other.destroy_world(&world).await,
        Code::FailedPrecondition,
        "leave it",
    )
    .await;
    c.leave_world().await.unwrap();
    other.join_world(&world).await.unwrap();
    other.leave_world().await.unwrap();
    other.destroy_world(&world).await.unwrap();
    assert_eq!(server.world_count(), 0);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_actions_and_observation_requests_are_rejected_without_stepping() {
    let server = start(ServerConfig::default()).await;
    let (mut c, _) = joined_client(&server, 2).await;
    let start = c.step(HashMap::new(), vec![STATE_UID]).await.unwrap();
    let doubles = Tensor {
        payload: Some(tensor::Payload::Doubles(tensor::DoubleArray {
            array: vec![0.0; 2],
        })),
        shape: vec![2],
    };
    let cases: Vec<(HashMap<u64, Tensor>, Code, &str)> = vec![
        (
            HashMap::from([(ACTION_UID, doubles)]),
            Code::InvalidArgument,
            "DOUBLE",
        ),
        (
            HashMap::from([(ACTION_UID, float_tensor(vec![0.0; 2], &[2, 1]))]),
            Code::InvalidArgument,
            "shape",
        ),
        (
            HashMap::from([(ACTION_UID, float_tensor(vec![0.0; 3], &[3]))]),
            Code::InvalidArgument,
            "shape",
        ),
        (action(f32::NAN, 0.0), Code::InvalidArgument, "finite"),
        (action(0.0, 1.5), Code::OutOfRange, "outside"),
        (
            HashMap::from([(9, float_tensor(vec![0.0; 2], &[2]))]),
            Code::InvalidArgument,
            "uid 9",
        ),
    ];
    for (actions, code, needle) in cases {
        expect_code(c.step(actions, vec![]).await, code, needle).await;
    }
    expect_code(
        c.step(HashMap::new(), vec![42]).await,
        Code::InvalidArgument,
        "42",
    )
    .await;
    // Nothing moved: a neutral step from the start state keeps it (zero action).
    let after = c.step(HashMap::new(), vec![STATE_UID]).await.unwrap();
    assert_eq!(
        floats(&after.observations[&STATE_UID]),
        floats(&start.observations[&STATE_UID])
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_world_interrupts_the_running_sequence() {
    use super::proto::{environment_request::Payload, ResetWorldRequest};
    let server = start(ServerConfig::default()).await;
    let (mut c, world) = joined_client(&server, 4).await;
    c.step(HashMap::new(), vec![]).await.unwrap();
    let request = |name: &str| {
        Payload::ResetWorld(ResetWorldRequest {
            world_name: name.into(),
            settings: HashMap::new(),
        })
    };
    expect_code(
        c.request(request("nowhere")).await,
        Code::NotFound,
        "nowhere",
    )
    .await;
    c.request(request(&world)).await.unwrap();
    let cut = c.step(action(1.0, 0.0), vec![TRUNCATED_UID]).await.unwrap();
    assert_eq!(cut.state, EnvironmentStateType::Interrupted as i32);
    assert!(flag(&cut.observations[&TRUNCATED_UID]));
    let next = c.step(HashMap::new(), vec![]).await.unwrap();
    assert_eq!(next.state, EnvironmentStateType::Running as i32);
    server.shutdown().await.unwrap();
}
