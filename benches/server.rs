//! Load benchmark of the env server (dm_env_rpc over loopback gRPC): N
//! concurrent clients each step their own push-v0 world, asking for the frame
//! and the state every step; prints steps per second and latency percentiles
//! beside the same env stepped in process. Bounded: a fixed number of steps
//! per client. Run: `cargo bench --bench server` (`-- --quick` for fewer steps).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use somnium_env::server::tensor::{float_tensor, int64_scalar, string_scalar};
use somnium_env::server::{
    default_factory, spawn, EnvClient, ServerConfig, ACTION_UID, FRAME_UID, STATE_UID,
};
use somnium_env::{Action, Env, PhysicsEnv};

const SCENARIO: &str = "push-v0";
const SIZE: usize = 64;

struct Stats {
    steps: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn row(&mut self, label: &str) {
        self.latencies.sort_unstable();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies[i].as_secs_f64() * 1e3
        };
        println!(
            "{label:<22} {:>8} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            self.steps,
            self.steps as f64 / self.wall.as_secs_f64(),
            pct(0.5),
            pct(0.9),
            pct(0.99),
            self.latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        );
    }
}

fn action(i: usize) -> Vec<f32> {
    let t = i as f32 * 0.1;
    vec![t.sin(), t.cos()]
}

fn in_process(steps: usize) -> Stats {
    let mut env = PhysicsEnv::make(SCENARIO, "id", SIZE, SIZE).expect("push-v0 builds");
    env.reset(Some(0)).expect("reset");
    let mut latencies = Vec::with_capacity(steps);
    let start = Instant::now();
    for i in 0..steps {
        let t = Instant::now();
        let step = env.step(&Action::Continuous(action(i))).expect("step");
        if step.done() {
            env.reset(None).expect("reset");
        }
        latencies.push(t.elapsed());
    }
    Stats {
        steps,
        wall: start.elapsed(),
        latencies,
    }
}

/// One client's step latencies and the span (first step sent, last answer) it stepped in.
async fn client(addr: SocketAddr, seed: i64, steps: usize) -> (Vec<Duration>, Instant, Instant) {
    let mut c = EnvClient::connect(addr, None).await.expect("connect");
    let settings = HashMap::from([
        ("scenario".to_string(), string_scalar(SCENARIO)),
        ("seed".to_string(), int64_scalar(seed)),
    ]);
    let world = c.create_world(settings).await.expect("create");
    c.join_world(&world).await.expect("join");
    c.step(HashMap::new(), vec![]).await.expect("first step");
    let mut latencies = Vec::with_capacity(steps);
    let began = Instant::now();
    for i in 0..steps {
        let actions = HashMap::from([(ACTION_UID, float_tensor(action(i), &[2]))]);
        let t = Instant::now();
        c.step(actions, vec![FRAME_UID, STATE_UID])
            .await
            .expect("step");
        latencies.push(t.elapsed());
    }
    let ended = Instant::now();
    c.leave_world().await.expect("leave");
    c.destroy_world(&world).await.expect("destroy");
    (latencies, began, ended)
}

/// `clients` concurrent clients; throughput counts the span in which they stepped
/// (connecting and building worlds excluded).
async fn served(addr: SocketAddr, clients: usize, steps: usize) -> Stats {
    let tasks: Vec<_> = (0..clients)
        .map(|i| tokio::spawn(client(addr, i as i64, steps)))
        .collect();
    let mut latencies = Vec::with_capacity(clients * steps);
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for t in tasks {
        let (l, began, ended) = t.await.expect("client task");
        latencies.extend(l);
        first = Some(first.map_or(began, |f| f.min(began)));
        last = Some(last.map_or(ended, |e| e.max(ended)));
    }
    let wall = match (first, last) {
        (Some(f), Some(l)) => l - f,
        _ => Duration::ZERO,
    };
    Stats {
        steps: clients * steps,
        wall,
        latencies,
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let steps = if quick { 50 } else { 400 };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("env server load: {SCENARIO} {SIZE}x{SIZE}, frame + state every step, {steps} steps per client, {cores} cores");
    println!(
        "{:<22} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "", "steps", "steps/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    in_process(steps).row("in-process");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = spawn(any_port, ServerConfig::default(), default_factory())
            .await
            .expect("server starts");
        for clients in [1, 2, 4, 8] {
            served(server.addr, clients, steps)
                .await
                .row(&format!("server, {clients} client(s)"));
        }
        server.shutdown().await.expect("shutdown");
    });
}
