//! The world model's speed at the `small` preset (the bounce recipe's shape):
//! one training step of 32 windows (forward, backward, clipping, AdamW, EMA) and
//! one dream step (context pass + 4 cached denoising passes) at batch 1 and 32.
//!
//! Run: `cargo bench -p somnium --bench world_model`. Windows/s = 32 / step time.

use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium_world_model::codec::PixelCodec;
use somnium_world_model::config::ModelConfig;
use somnium_world_model::sampler::{dream_step, SampleOptions};
use somnium_world_model::train::synthetic::{moving_square_episodes, SQUARE_BACKGROUND};
use somnium_world_model::train::{background_latent, TrainConfig, Trainer, WindowSource};
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn trainer() -> Trainer {
    let cfg = ModelConfig::small();
    let codec = PixelCodec::new((64, 64), (32, 32)).expect("codec");
    let dev = Device::Cpu;
    let eps = moving_square_episodes(16, 20, 64, 8, 1);
    let train = WindowSource::from_episodes(&eps, &codec, &cfg, false, &dev).expect("windows");
    let bg = background_latent(&codec, SQUARE_BACKGROUND, &dev).expect("background");
    let tc = TrainConfig {
        val_windows: 0,
        ..TrainConfig::default()
    };
    Trainer::new(&cfg, tc, train, None, bg).expect("trainer")
}

fn bench(c: &mut Criterion) {
    let mut t = trainer();
    let mut g = c.benchmark_group("world_model_small");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .warm_up_time(Duration::from_secs(3));
    g.bench_function("train_step_batch32", |b| {
        b.iter(|| t.train_step(1e-4).expect("step"))
    });
    let cfg = ModelConfig::small();
    let (ch, h, w) = cfg.latent_shape();
    for batch in [1usize, 32] {
        let ctx = Tensor::zeros(
            (batch, cfg.context_frames, ch, h, w),
            DType::F32,
            &Device::Cpu,
        )
        .expect("ctx");
        let act =
            Tensor::zeros((batch, cfg.window(), 2), DType::F32, &Device::Cpu).expect("actions");
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        g.bench_function(format!("dream_step_batch{batch}"), |b| {
            b.iter(|| {
                dream_step(t.model(), &ctx, &act, &mut rng, &SampleOptions::default())
                    .expect("dream")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
