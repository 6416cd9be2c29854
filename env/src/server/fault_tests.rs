//! Fault tests of the server over loopback: limits, the token, idle worlds, a
//! client killed mid-episode, floods of malformed and oversized requests, a
//! panicking env, and graceful shutdown. Every loop is bounded in count and time.

use std::collections::HashMap;
use std::time::Duration;

use prost::bytes::{Buf, BufMut};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Code;

use super::tensor::{int64_scalar, string_scalar};
use super::test_support::{fake_world, joined_client, settings, start};
use super::*;

/// Wait (at most ~10 s) until `server` holds `n` worlds.
pub(super) async fn wait_for_worlds(server: &RunningServer, n: usize) -> usize {
    for _ in 0..200 {
        if server.world_count() == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.world_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_world_limit_is_enforced_and_freed_by_destroy() {
    let server = start(ServerConfig {
        max_worlds: 2,
        ..ServerConfig::default()
    })
    .await;
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    let w1 = c.create_world(fake_world(0)).await.unwrap();
    let w2 = c.create_world(fake_world(0)).await.unwrap();
    assert_ne!(w1, w2, "world names are unique");
    let err = c.create_world(fake_world(0)).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    c.destroy_world(&w1).await.unwrap();
    c.create_world(fake_world(0)).await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_on_every_call_when_set() {
    let server = start(ServerConfig {
        token: Some("s3cret".into()),
        ..ServerConfig::default()
    })
    .await;
    for token in [None, Some("wrong")] {
        let err = match EnvClient::connect(server.addr, token).await {
            Ok(mut c) => c.create_world(fake_world(0)).await.unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    }
    let mut c = EnvClient::connect(server.addr, Some("s3cret"))
        .await
        .unwrap();
    c.create_world(fake_world(0)).await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_worlds_are_freed_and_say_so() {
    let server = start(ServerConfig {
        idle_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    })
    .await;
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    let world = c.create_world(fake_world(0)).await.unwrap();
    assert_eq!(wait_for_worlds(&server, 0).await, 0);
    let err = c.join_world(&world).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.to_string().contains("idle"), "{err}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_episode_frees_its_world_and_others_keep_going() {
    let server = start(ServerConfig::default()).await;
    let (mut survivor, _) = joined_client(&server, 1).await;
    survivor.step(HashMap::new(), vec![]).await.unwrap();
    let (mut victim, _) = joined_client(&server, 2).await;
    victim.step(HashMap::new(), vec![]).await.unwrap();
    assert_eq!(server.world_count(), 2);
    drop(victim); // the connection goes away mid-episode
    assert_eq!(wait_for_worlds(&server, 1).await, 1);
    for _ in 0..5 {
        survivor
            .step(HashMap::new(), vec![STATE_UID])
            .await
            .unwrap();
    }
    server.shutdown().await.unwrap();
}

/// Sends raw bytes as request messages, to test what protobuf decoding rejects.
struct RawCodec;
struct RawEncoder;
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(bytes.to_vec()))
    }
}

/// Send `messages` raw on one stream; returns the code that ended the stream.
pub(super) async fn send_raw(addr: std::net::SocketAddr, messages: Vec<Vec<u8>>) -> Code {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(messages.len().max(1));
    for m in messages {
        tx.send(m).await.unwrap();
    }
    drop(tx);
    let path =
        tonic::codegen::http::uri::PathAndQuery::from_static("/dm_env_rpc.v1.Environment/Process");
    let response = grpc
        .streaming(tonic::Request::new(ReceiverStream::new(rx)), path, RawCodec)
        .await;
    let mut stream = match response {
        Ok(r) => r.into_inner(),
        Err(status) => return status.code(),
    };
    loop {
        match stream.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => return Code::Ok,
            Err(status) => return status.code(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_of_malformed_and_oversized_requests_leave_other_clients_served() {
    let server = start(ServerConfig {
        max_message_bytes: 64 << 10,
        ..ServerConfig::default()
    })
    .await;
    let (mut survivor, _) = joined_client(&server, 1).await;
    survivor.step(HashMap::new(), vec![]).await.unwrap();
    // Field 3 (step) with wire type 2 and a length running past the end; then junk.
    let garbage = [
        vec![0x1a, 0x7f, 0x01],
        vec![0xff; 32],
        vec![0x0a, 0x05, 0x0a],
    ];
    for round in 0..20 {
        let code = send_raw(server.addr, vec![garbage[round % garbage.len()].clone(); 3]).await;
        assert_eq!(code, Code::InvalidArgument, "round {round}");
        survivor
            .step(HashMap::new(), vec![STATE_UID])
            .await
            .unwrap();
    }
    let oversized = vec![vec![0u8; 200 << 10]];
    let code = send_raw(server.addr, oversized).await;
    assert!(
        matches!(code, Code::OutOfRange | Code::ResourceExhausted),
        "oversized gave {code:?}"
    );
    survivor
        .step(HashMap::new(), vec![STATE_UID])
        .await
        .unwrap();
    assert_eq!(wait_for_worlds(&server, 1).await, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_env_fails_its_world_only() {
    let server = start(ServerConfig::default()).await;
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    let world = c
        .create_world(settings(&[("scenario", string_scalar("panic-v0"))]))
        .await
        .unwrap();
    c.join_world(&world).await.unwrap();
    c.step(HashMap::new(), vec![]).await.unwrap();
    let act = HashMap::from([(ACTION_UID, int64_scalar(1))]);
    let err = c.step(act, vec![]).await.unwrap_err();
    assert_eq!(err.code(), Code::Internal, "{err}");
    assert!(err.to_string().contains("panicked"), "{err}");
    assert_eq!(wait_for_worlds(&server, 0).await, 0);
    let err = c.step(HashMap::new(), vec![]).await.unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "the agent was un-joined: {err}"
    );
    let (mut other, _) = joined_client(&server, 0).await;
    other.step(HashMap::new(), vec![]).await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams_and_frees_worlds() {
    let server = start(ServerConfig::default()).await;
    let (mut c, _) = joined_client(&server, 0).await;
    c.step(HashMap::new(), vec![]).await.unwrap();
    let done = tokio::time::timeout(Duration::from_secs(20), server.shutdown()).await;
    assert!(
        matches!(done, Ok(Ok(()))),
        "shutdown did not finish: {done:?}"
    );
    let err = c.step(HashMap::new(), vec![]).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Rpc {
                code: Code::Unavailable,
                ..
            } | ClientError::Transport(_)
        ),
        "{err}"
    );
}
