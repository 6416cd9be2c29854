//! A whole DiT-shaped transformer stack (d 256, 6 layers, 4 heads of 64, 4x
//! GELU MLP, per-frame adaLN modulation, gated residuals, rotary q/k,
//! block-causal attention over 9 frames of 64 tokens = 576 tokens), built
//! once from the fused kernels and once from their plain candle compositions
//! (`kernels::reference`), and beside them the peer's plain candle stack
//! (`plain_stack`, no modulation or rotary: the baseline of
//! `/work/shared/peers/README.md`), timed like `/work/shared/peers/dit_torch.py`:
//! forward at batch 1 and 32, one new frame on a KV cache at batch 1, and a
//! training step (forward, backward, AdamW) at batch 8.
//!
//! Measured 2026-11-26 on 2 cores of an Intel Xeon (Sapphire Rapids, taskset,
//! quiet machine, x86-64-v4 build), criterion medians, fused / plain peer:
//! forward 576 b1 64 / 151 ms, one frame on a KV cache b1 15.8 / 24.0 ms,
//! forward 576 b32 1.63 / 5.08 s, training step b8 2.76 / ~6.8 s (the plain
//! step from criterion's warm-up estimate only). The fused stack does more work
//! (adaLN modulation, rotary q/k) than the plain one.
//!
//! Run: `cargo bench -p somnium --bench dit` (add `-- 'dit/(fused|plain)'` to filter).

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{AdamW, Linear, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use criterion::{criterion_group, Criterion};
use somnium_world_model::kernels::{self, reference};
use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const D_MODEL: usize = 256;
const LAYERS: usize = 6;
const HEADS: usize = 4;
const HEAD_DIM: usize = 64;
const FRAMES: usize = 9;
const TPF: usize = 64;
const EPS: f64 = 1e-6;

/// Which implementation of the hot operations a stack runs on.
#[derive(Clone, Copy)]
enum Ops {
    Fused,
    Reference,
}

impl Ops {
    fn modulated_layer_norm(self, x: &Tensor, shift: &Tensor, scale: &Tensor) -> Result<Tensor> {
        match self {
            Ops::Fused => kernels::modulated_layer_norm(x, shift, scale, EPS),
            Ops::Reference => reference::modulated_layer_norm(x, shift, scale, EPS),
        }
    }
    fn gated_residual(self, x: &Tensor, gate: &Tensor, y: &Tensor) -> Result<Tensor> {
        match self {
            Ops::Fused => kernels::gated_residual(x, gate, y),
            Ops::Reference => reference::gated_residual(x, gate, y),
        }
    }
    fn gelu(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Ops::Fused => kernels::gelu(x),
            Ops::Reference => reference::gelu(x),
        }
    }
    fn rope(self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        match self {
            Ops::Fused => kernels::rope(x, cos, sin),
            Ops::Reference => reference::rope(x, cos, sin),
        }
    }
    fn attention(self, q: &Tensor, k: &Tensor, v: &Tensor, q_offset: usize) -> Result<Tensor> {
        match self {
            Ops::Fused => kernels::block_causal_attention(q, k, v, TPF, q_offset),
            Ops::Reference => reference::block_causal_attention(q, k, v, TPF, q_offset),
        }
    }
}

struct Block {
    ada: Linear,
    qkv: Linear,
    proj: Linear,
    fc1: Linear,
    fc2: Linear,
}

/// Rotary tables `[L, Dh/2]` for positions `start..start + len`.
fn rope_tables(start: usize, len: usize) -> Result<(Tensor, Tensor)> {
    let half = HEAD_DIM / 2;
    let angles: Vec<f32> = (start..start + len)
        .flat_map(|p| (0..half).map(move |i| p as f32 * 10_000f32.powf(-(i as f32) / half as f32)))
        .collect();
    let angles = Tensor::from_vec(angles, (len, half), &Device::Cpu)?;
    Ok((angles.cos()?, angles.sin()?))
}

impl Block {
    fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            ada: candle_nn::linear(D_MODEL, 6 * D_MODEL, vb.pp("ada"))?,
            qkv: candle_nn::linear(D_MODEL, 3 * D_MODEL, vb.pp("qkv"))?,
            proj: candle_nn::linear(D_MODEL, D_MODEL, vb.pp("proj"))?,
            fc1: candle_nn::linear(D_MODEL, 4 * D_MODEL, vb.pp("fc1"))?,
            fc2: candle_nn::linear(4 * D_MODEL, D_MODEL, vb.pp("fc2"))?,
        })
    }

    /// `x [B,F,N,D]`, `cond [B,F,D]` -> six modulation tensors `[B,F,D]`.
    fn modulation(&self, cond: &Tensor) -> Result<Vec<Tensor>> {
        self.ada.forward(cond)?.chunk(6, D::Minus1)
    }

    /// q, k, v `[B,H,L,Dh]` of `x [B,F,N,D]`, rotary applied to q and k.
    fn heads(
        &self,
        ops: Ops,
        h: &Tensor,
        rope: &(Tensor, Tensor),
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (b, f, n, _) = h.dims4()?;
        let qkv = self
            .qkv
            .forward(h)?
            .reshape((b, f * n, 3, HEADS, HEAD_DIM))?
            .permute((2, 0, 3, 1, 4))?;
        let q = ops.rope(&qkv.get(0)?, &rope.0, &rope.1)?;
        let k = ops.rope(&qkv.get(1)?, &rope.0, &rope.1)?;
        Ok((q, k, qkv.get(2)?.contiguous()?))
    }

    /// One block on `x [B,F,N,D]`; `cache` holds earlier frames' k, v.
    fn forward(
        &self,
        ops: Ops,
        x: &Tensor,
        cond: &Tensor,
        rope: &(Tensor, Tensor),
        cache: Option<&(Tensor, Tensor)>,
    ) -> Result<(Tensor, (Tensor, Tensor))> {
        let (b, f, n, d) = x.dims4()?;
        let m = self.modulation(cond)?;
        let h = ops.modulated_layer_norm(x, &m[0], &m[1])?;
        let (q, k, v) = self.heads(ops, &h, rope)?;
        let (k_all, v_all, q_offset) = match cache {
            Some((kc, vc)) => (
                Tensor::cat(&[kc, &k], 2)?,
                Tensor::cat(&[vc, &v], 2)?,
                kc.dim(2)?,
            ),
            None => (k.clone(), v.clone(), 0),
        };
        let a = ops.attention(&q, &k_all, &v_all, q_offset)?;
        let a = a.transpose(1, 2)?.reshape((b, f, n, d))?;
        let x = ops.gated_residual(x, &m[2], &self.proj.forward(&a)?)?;
        let h = ops.modulated_layer_norm(&x, &m[3], &m[4])?;
        let y = self.fc2.forward(&ops.gelu(&self.fc1.forward(&h)?)?)?;
        Ok((ops.gated_residual(&x, &m[5], &y)?, (k, v)))
    }
}

struct Stack {
    blocks: Vec<Block>,
}

impl Stack {
    fn new(vb: VarBuilder) -> Result<Self> {
        let blocks = (0..LAYERS)
            .map(|i| Block::new(vb.pp(format!("blocks.{i}"))))
            .collect::<Result<_>>()?;
        Ok(Self { blocks })
    }

    /// `x [B,F,N,D]` -> `([B,F,N,D], per-layer k/v)`; `caches` for earlier frames.
    fn forward(
        &self,
        ops: Ops,
        x: &Tensor,
        cond: &Tensor,
        first_token: usize,
        caches: Option<&[(Tensor, Tensor)]>,
    ) -> Result<(Tensor, Vec<(Tensor, Tensor)>)> {
        let (_, f, n, _) = x.dims4()?;
        let rope = rope_tables(first_token, f * n)?;
        let mut x = x.clone();
        let mut kv = Vec::with_capacity(LAYERS);
        for (i, block) in self.blocks.iter().enumerate() {
            let (next, layer_kv) = block.forward(ops, &x, cond, &rope, caches.map(|c| &c[i]))?;
            x = next;
            kv.push(layer_kv);
        }
        Ok((x, kv))
    }
}

fn randn(shape: &[usize]) -> Tensor {
    Tensor::randn(0f32, 1.0, shape, &Device::Cpu).expect("random tensor")
}

/// The peer's plain stack, the same four measurements.
fn plain_bench(c: &mut Criterion) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let stack = PlainStack::new(vb).expect("stack");
    let mask = block_causal_mask(FRAMES).expect("mask");
    let seq = FRAMES * TPF;
    let x1 = randn(&[1, seq, D_MODEL]);
    let mut group = c.benchmark_group("dit/plain");
    group.bench_function("forward_576_b1", |b| {
        b.iter(|| black_box(stack.forward(&x1, &mask, false).expect("forward")))
    });
    let prev = seq - TPF;
    let mask_prev = block_causal_mask(FRAMES - 1).expect("mask");
    let caches = stack
        .build_cache(&x1.narrow(1, 0, prev).expect("narrow"), &mask_prev)
        .expect("cache");
    let frame = x1
        .narrow(1, prev, TPF)
        .expect("narrow")
        .contiguous()
        .expect("frame");
    group.bench_function("forward_frame_b1", |b| {
        b.iter(|| black_box(stack.step(&frame, &caches).expect("step")))
    });
    let x32 = randn(&[32, seq, D_MODEL]);
    group.bench_function("forward_576_b32", |b| {
        b.iter(|| black_box(stack.forward(&x32, &mask, false).expect("forward")))
    });
    let (x8, y8) = (randn(&[8, seq, D_MODEL]), randn(&[8, seq, D_MODEL]));
    let params = ParamsAdamW {
        lr: 1e-4,
        ..Default::default()
    };
    let mut opt = AdamW::new(varmap.all_vars(), params).expect("adamw");
    group.bench_function("train_step_b8", |b| {
        b.iter(|| {
            let out = stack.forward(&x8, &mask, true).expect("forward");
            let loss = candle_nn::loss::mse(&out, &y8).expect("loss");
            opt.backward_step(&loss).expect("step")
        })
    });
    group.finish();
}

fn stack_bench(c: &mut Criterion) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let stack = Stack::new(vb).expect("stack");
    let x1 = randn(&[1, FRAMES, TPF, D_MODEL]);
    let c1 = randn(&[1, FRAMES, D_MODEL]);
    let x32 = randn(&[32, FRAMES, TPF, D_MODEL]);
    let c32 = randn(&[32, FRAMES, D_MODEL]);
    let x8 = randn(&[8, FRAMES, TPF, D_MODEL]);
    let c8 = randn(&[8, FRAMES, D_MODEL]);
    let y8 = randn(&[8, FRAMES, TPF, D_MODEL]);

    for (name, ops) in [("fused", Ops::Fused), ("reference", Ops::Reference)] {
        let mut group = c.benchmark_group(format!("dit/{name}"));
        group.bench_function("forward_576_b1", |b| {
            b.iter(|| black_box(stack.forward(ops, &x1, &c1, 0, None).expect("forward")))
        });

        // One new frame against the cached k/v of the 8 frames before it.
        let prev = (FRAMES - 1) * TPF;
        let (_, caches) = stack
            .forward(
                ops,
                &x1.narrow(1, 0, FRAMES - 1).expect("narrow"),
                &c1.narrow(1, 0, FRAMES - 1).expect("narrow"),
                0,
                None,
            )
            .expect("cache");
        let frame = x1
            .narrow(1, FRAMES - 1, 1)
            .expect("narrow")
            .contiguous()
            .expect("frame");
        let frame_cond = c1
            .narrow(1, FRAMES - 1, 1)
            .expect("narrow")
            .contiguous()
            .expect("cond");
        group.bench_function("forward_frame_b1", |b| {
            b.iter(|| {
                black_box(
                    stack
                        .forward(ops, &frame, &frame_cond, prev, Some(&caches))
                        .expect("step"),
                )
            })
        });

        group.bench_function("forward_576_b32", |b| {
            b.iter(|| black_box(stack.forward(ops, &x32, &c32, 0, None).expect("forward")))
        });

        let params = ParamsAdamW {
            lr: 1e-4,
            ..Default::default()
        };
        let mut opt = AdamW::new(varmap.all_vars(), params).expect("adamw");
        group.bench_function("train_step_b8", |b| {
            b.iter(|| {
                let (out, _) = stack.forward(ops, &x8, &c8, 0, None).expect("forward");
                let loss = candle_nn::loss::mse(&out, &y8).expect("loss");
                opt.backward_step(&loss).expect("step")
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(3));
    targets = stack_bench, plain_bench
}
mod plain_stack;

use plain_stack::{block_causal_mask, PlainStack};

fn main() {
    somnium::runtime::tune();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
