//! Fused CPU kernels against their plain candle compositions, at the DiT's
//! shapes: d 256, 4 heads of 64, 64 tokens per frame, 9 frames (576 tokens)
//! at batch 1 and 8, and 5 frames (320 tokens) at batch 1. Each kernel is
//! timed forward only and forward + backward (gradients of a sum).
//!
//! Measured 2026-11-26, b1_576, 2 cores of an Intel Xeon (Sapphire Rapids),
//! fused / reference, forward and forward + backward: modulated layer norm
//! 93 us / 182 us and 0.39 / 3.55 ms; gated residual 52 / 46 us and 0.38 /
//! 1.25 ms; GELU 0.50 / 19.3 ms and 1.75 / 35.7 ms; attention 2.1 / 11.9 ms and
//! 8.1 / 47.5 ms; rope 61 / 896 us and 0.31 / 3.36 ms.
//!
//! Run: `cargo bench -p somnium --bench kernels` (add `-- attention` to filter).

use candle_core::{Device, Result, Tensor, Var};
use criterion::{criterion_group, Criterion};
use somnium_world_model::kernels::{self, reference};
use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const D_MODEL: usize = 256;
const HEADS: usize = 4;
const HEAD_DIM: usize = 64;
const TOKENS_PER_FRAME: usize = 64;
const MLP_HIDDEN: usize = 4 * D_MODEL;

/// (label, batch, frames)
const SHAPES: [(&str, usize, usize); 3] = [("b1_576", 1, 9), ("b8_576", 8, 9), ("b1_320", 1, 5)];

type Kernel = fn(&[Tensor]) -> Result<Tensor>;

fn randn(shape: &[usize]) -> Tensor {
    Tensor::randn(0f32, 1.0, shape, &Device::Cpu).expect("random tensor")
}

/// Times `fused` and `reference` on `inputs`, forward and forward + backward
/// (with gradients to the first `trained` inputs).
fn bench_pair(
    c: &mut Criterion,
    (kernel, shape): (&str, &str),
    inputs: &[Tensor],
    trained: usize,
    fused: Kernel,
    plain: Kernel,
) {
    let tracked: Vec<Tensor> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i < trained {
                Var::from_tensor(t).expect("var").as_tensor().clone()
            } else {
                t.clone()
            }
        })
        .collect();
    let mut group = c.benchmark_group(format!("{kernel}/{shape}"));
    for (which, f) in [("fused", fused), ("reference", plain)] {
        group.bench_function(format!("{which}/forward"), |b| {
            b.iter(|| black_box(f(inputs).expect("forward")))
        });
        group.bench_function(format!("{which}/forward_backward"), |b| {
            b.iter(|| {
                let out = f(&tracked).expect("forward");
                black_box(out.sum_all().and_then(|s| s.backward()).expect("backward"))
            })
        });
    }
    group.finish();
}

fn kernels_bench(c: &mut Criterion) {
    for (label, batch, frames) in SHAPES {
        let tokens = frames * TOKENS_PER_FRAME;
        let x = randn(&[batch, frames, TOKENS_PER_FRAME, D_MODEL]);
        let per_frame = || randn(&[batch, frames, D_MODEL]);
        bench_pair(
            c,
            ("modulated_layer_norm", label),
            &[x.clone(), per_frame(), per_frame()],
            3,
            |t| kernels::modulated_layer_norm(&t[0], &t[1], &t[2], 1e-6),
            |t| reference::modulated_layer_norm(&t[0], &t[1], &t[2], 1e-6),
        );
        bench_pair(
            c,
            ("gated_residual", label),
            &[x.clone(), per_frame(), randn(x.dims())],
            3,
            |t| kernels::gated_residual(&t[0], &t[1], &t[2]),
            |t| reference::gated_residual(&t[0], &t[1], &t[2]),
        );
        bench_pair(
            c,
            ("gelu", label),
            &[randn(&[batch, tokens, MLP_HIDDEN])],
            1,
            |t| kernels::gelu(&t[0]),
            |t| reference::gelu(&t[0]),
        );
        let heads = || randn(&[batch, HEADS, tokens, HEAD_DIM]);
        bench_pair(
            c,
            ("block_causal_attention", label),
            &[heads(), heads(), heads()],
            3,
            |t| kernels::block_causal_attention(&t[0], &t[1], &t[2], TOKENS_PER_FRAME, 0),
            |t| reference::block_causal_attention(&t[0], &t[1], &t[2], TOKENS_PER_FRAME, 0),
        );
        let angles = randn(&[tokens, HEAD_DIM / 2]);
        let (cos, sin) = (angles.cos().expect("cos"), angles.sin().expect("sin"));
        bench_pair(
            c,
            ("rope", label),
            &[heads(), cos, sin],
            1,
            |t| kernels::rope(&t[0], &t[1], &t[2]),
            |t| reference::rope(&t[0], &t[1], &t[2]),
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = kernels_bench
}

fn main() {
    somnium::runtime::tune();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
