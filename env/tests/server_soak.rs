//! Soak test of the env server on loopback, in a process of its own so that its
//! memory is the server's: round after round, clients open physics and dream
//! worlds, step them, and drop their connections mid-stream (a request still in
//! flight). After every round each world must be released (no world in the
//! registry, no world thread left, no model loaded); after the last, the
//! server must still serve and its resident memory must be within 10% of what
//! it was after the first round. Bounded in rounds and in time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::Device;
use somnium_env::server::proto::Tensor;
use somnium_env::server::tensor::{int64_scalar, string_scalar};
use somnium_env::server::{factory_with_cache, spawn, EnvClient, ModelCache, RunningServer};
use somnium_env::server::{ServerConfig, FRAME_UID};
use somnium_world_model::checkpoint::{save, Checkpoint};
use somnium_world_model::config::ModelConfig;
use somnium_world_model::dit::DiT;

/// Clients at once in a wave; waves in a round; rounds at most (fewer, but at
/// least two, if [`TIME_BUDGET`] runs out). A round is long enough for the
/// allocator's per-thread arenas and cached thread stacks to reach their
/// steady size, so later growth would be a leak.
const CLIENTS: usize = 12;
const WAVES: usize = 16;
const ROUNDS: usize = 4;
/// Rounds start only while the test has run for less than this.
const TIME_BUDGET: Duration = Duration::from_secs(30);

fn tiny_model(dir: &Path) {
    let cfg = ModelConfig::tiny();
    let model = DiT::new(&cfg, 5, &Device::Cpu).unwrap();
    let weights = model.params().snapshot().unwrap();
    save(
        dir,
        &Checkpoint::new(serde_json::to_value(&cfg).unwrap(), 0, weights),
    )
    .unwrap();
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

fn world(i: usize) -> HashMap<String, Tensor> {
    let entry = |k: &str, v: Tensor| (k.to_string(), v);
    match i % 4 {
        0 => HashMap::from([
            entry("scenario", string_scalar("bounce-v0")),
            entry("backend", string_scalar("dream")),
            entry(
                "model",
                string_scalar(if i.is_multiple_of(8) {
                    "tiny"
                } else {
                    "models/tiny"
                }),
            ),
            entry("seed", int64_scalar(i as i64)),
        ]),
        1 => HashMap::from([entry("scenario", string_scalar("cartpole-v0"))]),
        _ => HashMap::from([
            entry("scenario", string_scalar("bounce-v0")),
            entry("width", int64_scalar(16)),
            entry("height", int64_scalar(16)),
            entry("seed", int64_scalar(i as i64)),
        ]),
    }
}

/// One client's life: create, join, step, then go away with a request in flight.
async fn client(addr: SocketAddr, i: usize) {
    let mut c = EnvClient::connect(addr, None).await.expect("connects");
    let name = c.create_world(world(i)).await.expect("a world");
    if i % 3 == 2 {
        return; // gone before joining: the world it created is freed
    }
    c.join_world(&name).await.expect("joins");
    for _ in 0..3 {
        c.step(HashMap::new(), vec![FRAME_UID])
            .await
            .expect("steps");
    }
    // send one more step and drop the connection without waiting for it
    tokio::select! {
        biased;
        _ = c.step(HashMap::new(), vec![FRAME_UID]) => {}
        _ = std::future::ready(()) => {}
    }
}

/// Wait (at most ~20 s) until every world and model is released.
async fn released(server: &RunningServer, cache: &ModelCache) -> (usize, usize, usize) {
    let state = || (server.world_count(), server.running_worlds(), cache.live());
    for _ in 0..400 {
        if state() == (0, 0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    state()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_soak_clients_that_drop_mid_stream_leave_no_world_and_no_memory_behind() {
    let started = Instant::now();
    let models = tempfile::tempdir().unwrap();
    tiny_model(&models.path().join("models/tiny"));
    let cache = ModelCache::new(Device::Cpu);
    let config = ServerConfig {
        models_dir: models.path().join("models"),
        ..ServerConfig::default()
    };
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = spawn(any_port, config, factory_with_cache(cache.clone()))
        .await
        .unwrap();
    let mut after_first = None;
    let mut rounds = 0;
    while rounds < ROUNDS && (rounds < 2 || started.elapsed() < TIME_BUDGET) {
        for wave in 0..WAVES {
            let first = (rounds * WAVES + wave) * CLIENTS;
            let clients: Vec<_> = (first..first + CLIENTS)
                .map(|i| tokio::spawn(client(server.addr, i)))
                .collect();
            for c in clients {
                c.await.expect("a client task");
            }
            let left = released(&server, &cache).await;
            assert_eq!(
                left,
                (0, 0, 0),
                "round {rounds} wave {wave}: worlds, threads, models left"
            );
        }
        rounds += 1;
        after_first.get_or_insert_with(rss_kib);
    }
    let (first, last) = (after_first.unwrap(), rss_kib());
    eprintln!(
        "soak: {rounds} rounds of {WAVES} waves of {CLIENTS} clients; \
         RSS {first} KiB after the first round, {last} KiB after the last"
    );
    assert!(
        last <= first + first / 10,
        "memory grew from {first} KiB to {last} KiB over {rounds} rounds"
    );
    // still serving
    let mut c = EnvClient::connect(server.addr, None).await.unwrap();
    let name = c.create_world(world(0)).await.unwrap();
    c.join_world(&name).await.unwrap();
    c.step(HashMap::new(), vec![FRAME_UID]).await.unwrap();
    server.shutdown().await.unwrap();
}
