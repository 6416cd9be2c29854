//! Throughput of the ground-truth scenarios alone: `step + render(64, 64)` and
//! `render(64, 64)` by itself, for every scenario, on one thread.
//!
//! Run: `cargo bench --bench render -- --warm-up-time 1 --measurement-time 3`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium::scenarios::{make, SCENARIO_IDS};

const SIZE: usize = 64;

fn step_and_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("scenario_step_render_64px");
    group.throughput(Throughput::Elements(1));
    for id in SCENARIO_IDS {
        let mut s = make(id, "id").expect("scenario builds");
        let space = s.action_space();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut seed = 0;
        s.reset(seed);
        group.bench_function(*id, |b| {
            b.iter(|| {
                let t = s.step(&space.sample(&mut rng)).expect("step");
                let frame = s.render(SIZE, SIZE);
                if t.terminated {
                    seed += 1;
                    s.reset(seed);
                }
                frame.data[0]
            })
        });
    }
    group.finish();
}

fn render_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("scenario_render_64px");
    group.throughput(Throughput::Elements(1));
    for id in SCENARIO_IDS {
        let mut s = make(id, "id").expect("scenario builds");
        s.reset(0);
        group.bench_function(*id, |b| b.iter(|| s.render(SIZE, SIZE).data[0]));
    }
    group.finish();
}

criterion_group!(benches, step_and_render, render_only);
criterion_main!(benches);
