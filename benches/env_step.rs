//! Throughput of the physics envs: `PhysicsEnv::step` with 64x64 rendering for
//! every scenario, and a `VecEnv` of 8 envs stepped in parallel with rayon.
//!
//! Run: `cargo bench --bench env_step -- --warm-up-time 1 --measurement-time 3`.
//! Each iteration is one step (one env) or one batched step (8 env steps).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium::env::{Env, PhysicsEnv, VecEnv};
use somnium::scenarios::SCENARIO_IDS;

const SIZE: usize = 64;
const VEC_ENVS: usize = 8;

fn physics_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("physics_env_step_64px");
    group.throughput(Throughput::Elements(1));
    for id in SCENARIO_IDS {
        let mut env = PhysicsEnv::make(id, "id", SIZE, SIZE).expect("scenario builds");
        let space = env.action_space();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        env.reset(Some(0)).expect("reset");
        group.bench_function(*id, |b| {
            b.iter(|| {
                let step = env.step(&space.sample(&mut rng)).expect("step");
                if step.done() {
                    env.reset(None).expect("reset");
                }
                step.reward
            })
        });
    }
    group.finish();
}

fn vec_env_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("vec_env_step_8x64px");
    group.throughput(Throughput::Elements(VEC_ENVS as u64));
    for id in SCENARIO_IDS {
        let mut envs = VecEnv::make(id, "id", VEC_ENVS, SIZE, SIZE).expect("scenario builds");
        let space = envs.action_space();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        envs.reset(Some(0)).expect("reset");
        group.bench_function(*id, |b| {
            b.iter(|| {
                let actions: Vec<_> = (0..VEC_ENVS).map(|_| space.sample(&mut rng)).collect();
                envs.step(&actions).expect("step").rewards.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, physics_step, vec_env_step);
criterion_main!(benches);
