//! Fused block-causal attention: no mask tensor, no materialised `[Lq, Lk]`
//! score matrix, and a backward pass that recomputes what it needs.
//!
//! Per (batch, head) the query rows are cut into tiles of [`TILE`] rows. A tile
//! scores only against the keys up to its last row's frame end, softmaxes each
//! row over the keys its own frame allows (two passes over a row held in
//! cache), and multiplies by `V`. The small matrix products go through `gemm`
//! on one thread each; rayon spreads the tiles (forward) or the heads
//! (backward, which accumulates `dK`/`dV` over a head's tiles) over the cores.

use super::cpu::{cpu_output, cpu_tensor, dot, exp_approx, max_of, slice_f32, sum_map, with_f32};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;
use std::cell::RefCell;

/// Query rows per tile: a 64 x 576 score tile is 144 KiB and stays in L2.
const TILE: usize = 64;

thread_local! {
    /// Per-thread score buffer of the forward pass, reused across calls.
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Sizes and masking rule of one attention call.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    /// Query rows per head.
    lq: usize,
    /// Key rows per head.
    lk: usize,
    head_dim: usize,
    tokens_per_frame: usize,
    q_offset: usize,
    /// Frames each query sees, its own included (0: every earlier frame).
    span: usize,
    scale: f32,
}

impl Geometry {
    /// One past the last key that query row `row` may attend to.
    fn key_end(&self, row: usize) -> usize {
        let frame = (self.q_offset + row) / self.tokens_per_frame;
        ((frame + 1) * self.tokens_per_frame).min(self.lk)
    }

    /// The first key that query row `row` may attend to.
    fn key_start(&self, row: usize) -> usize {
        if self.span == 0 {
            return 0;
        }
        let frame = (self.q_offset + row) / self.tokens_per_frame;
        ((frame + 1).saturating_sub(self.span) * self.tokens_per_frame).min(self.lk)
    }

    /// `s[m, n] = scale * q_tile[m, Dh] k[..n, Dh]^T`.
    fn scores(&self, q_tile: &[f32], k: &[f32], m: usize, n: usize, s: &mut [f32]) {
        let dh = self.head_dim;
        matmul(
            (m, n, dh),
            s,
            false,
            q_tile,
            (1, dh),
            k,
            (dh, 1),
            self.scale,
        );
    }

    /// Turns rows of scores `s[m, n]` of the tile starting at query row `r0`
    /// into probabilities over each row's visible keys, zero beyond them.
    fn softmax_rows(&self, s: &mut [f32], r0: usize, m: usize, n: usize) {
        for r in 0..m {
            let (start, end) = (self.key_start(r0 + r), self.key_end(r0 + r));
            let row = &mut s[r * n..(r + 1) * n];
            let (row, hidden) = row.split_at_mut(end);
            let (before, visible) = row.split_at_mut(start);
            before.fill(0.0);
            let max = max_of(visible);
            for v in visible.iter_mut() {
                *v = exp_approx(*v - max);
            }
            let inv_sum = 1.0 / sum_map(visible, |v| v);
            for v in visible.iter_mut() {
                *v *= inv_sum;
            }
            hidden.fill(0.0);
        }
    }
}

/// `dst[m, p] (+)= beta * a[m, k] b[k, p]` with explicit (column, row) strides.
#[allow(clippy::too_many_arguments)]
fn matmul(
    (m, p, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    a: &[f32],
    (a_cs, a_rs): (usize, usize),
    b: &[f32],
    (b_cs, b_rs): (usize, usize),
    beta: f32,
) {
    let last = |rows: usize, cols: usize, cs: usize, rs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(m > 0 && p > 0 && k > 0);
    assert!(
        dst.len() > last(m, p, 1, p)
            && a.len() > last(m, k, a_cs, a_rs)
            && b.len() > last(k, p, b_cs, b_rs)
    );
    // SAFETY: the asserts above bound every index gemm touches.
    unsafe {
        gemm::gemm(
            m,
            p,
            k,
            dst.as_mut_ptr(),
            1,
            p as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0,
            beta,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// Forward over all heads: `q [BH, Lq, Dh]`, `k`/`v [BH, Lk, Dh]` -> `[BH, Lq, Dh]`.
fn forward(q: &[f32], k: &[f32], v: &[f32], g: Geometry) -> Vec<f32> {
    let (lq, lk, dh) = (g.lq, g.lk, g.head_dim);
    let mut out = vec![0f32; q.len()];
    out.par_chunks_mut(lq * dh)
        .enumerate()
        .for_each(|(head, out_head)| {
            let (q_h, k_h, v_h) = (
                &q[head * lq * dh..],
                &k[head * lk * dh..],
                &v[head * lk * dh..],
            );
            out_head
                .par_chunks_mut(TILE * dh)
                .enumerate()
                .for_each(|(tile, out_tile)| {
                    let (r0, m) = (tile * TILE, out_tile.len() / dh);
                    let n = g.key_end(r0 + m - 1);
                    SCORES.with(|buf| {
                        let mut s = buf.borrow_mut();
                        if s.len() < m * n {
                            s.resize(m * n, 0.0);
                        }
                        g.scores(&q_h[r0 * dh..], k_h, m, n, &mut s);
                        g.softmax_rows(&mut s, r0, m, n);
                        matmul((m, dh, n), out_tile, false, &s, (1, n), v_h, (1, dh), 1.0);
                    });
                });
        });
    out
}

/// Backward over all heads; returns flat `(dq, dk, dv)`.
fn backward(q: &[f32], k: &[f32], v: &[f32], o: &[f32], d_o: &[f32], g: Geometry) -> [Vec<f32>; 3] {
    let (lq, lk, dh) = (g.lq, g.lk, g.head_dim);
    let mut dq = vec![0f32; q.len()];
    let mut dk = vec![0f32; k.len()];
    let mut dv = vec![0f32; v.len()];
    dq.par_chunks_mut(lq * dh)
        .zip(dk.par_chunks_mut(lk * dh))
        .zip(dv.par_chunks_mut(lk * dh))
        .enumerate()
        .for_each(|(head, ((dq_h, dk_h), dv_h))| {
            let (qo, ko) = (head * lq * dh, head * lk * dh);
            let (q_h, o_h, do_h) = (
                &q[qo..qo + lq * dh],
                &o[qo..qo + lq * dh],
                &d_o[qo..qo + lq * dh],
            );
            let (k_h, v_h) = (&k[ko..ko + lk * dh], &v[ko..ko + lk * dh]);
            let mut p = vec![0f32; TILE.min(lq) * lk];
            let mut dp = vec![0f32; TILE.min(lq) * lk];
            for (tile, dq_tile) in dq_h.chunks_mut(TILE * dh).enumerate() {
                let (r0, m) = (tile * TILE, dq_tile.len() / dh);
                let n = g.key_end(r0 + m - 1);
                let rows = r0 * dh..(r0 + m) * dh;
                let (q_t, o_t, do_t) = (&q_h[rows.clone()], &o_h[rows.clone()], &do_h[rows]);
                g.scores(q_t, k_h, m, n, &mut p);
                g.softmax_rows(&mut p, r0, m, n);
                // dP = dO V^T, then dS = P * (dP - rowsum(dO * O)) in place.
                matmul((m, n, dh), &mut dp, false, do_t, (1, dh), v_h, (dh, 1), 1.0);
                for r in 0..m {
                    let delta = dot(&do_t[r * dh..(r + 1) * dh], &o_t[r * dh..(r + 1) * dh]);
                    let (p_row, ds_row) = (&p[r * n..(r + 1) * n], &mut dp[r * n..(r + 1) * n]);
                    for (ds, &pv) in ds_row.iter_mut().zip(p_row) {
                        *ds = pv * (*ds - delta);
                    }
                }
                // dV += P^T dO, dK += scale dS^T Q, dQ = scale dS K.
                matmul((n, dh, m), dv_h, true, &p, (n, 1), do_t, (1, dh), 1.0);
                matmul((n, dh, m), dk_h, true, &dp, (n, 1), q_t, (1, dh), g.scale);
                matmul(
                    (m, dh, n),
                    dq_tile,
                    false,
                    &dp,
                    (1, n),
                    k_h,
                    (1, dh),
                    g.scale,
                );
            }
        });
    [dq, dk, dv]
}

/// The candle custom op over `(q [B,H,Lq,Dh], k [B,H,Lk,Dh], v [B,H,Lk,Dh])`.
struct BlockCausalAttention {
    tokens_per_frame: usize,
    q_offset: usize,
    span: usize,
}

impl BlockCausalAttention {
    fn geometry(&self, q: &Shape, k: &Shape) -> Result<Geometry> {
        let (_, _, lq, head_dim) = q.dims4()?;
        let lk = k.dims4()?.2;
        Ok(Geometry {
            lq,
            lk,
            head_dim,
            tokens_per_frame: self.tokens_per_frame,
            q_offset: self.q_offset,
            span: self.span,
            scale: 1.0 / (head_dim as f32).sqrt(),
        })
    }
}

impl CustomOp3 for BlockCausalAttention {
    fn name(&self) -> &'static str {
        "fused-block-causal-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.geometry(l1.shape(), l2.shape())?;
        let q = slice_f32(s1, l1, self.name())?;
        let k = slice_f32(s2, l2, self.name())?;
        let v = slice_f32(s3, l3, self.name())?;
        if q.is_empty() {
            return Ok(cpu_output(Vec::new(), l1.shape().clone()));
        }
        Ok(cpu_output(forward(q, k, v, g), l1.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = self.geometry(q.shape(), k.shape())?;
        let name = "fused-block-causal-attention backward";
        let [dq, dk, dv] = with_f32(q, name, |q| {
            with_f32(k, name, |k| {
                with_f32(v, name, |v| {
                    with_f32(res, name, |o| {
                        with_f32(grad, name, |d_o| Ok(backward(q, k, v, o, d_o, g)))
                    })
                })
            })
        })?;
        Ok((
            Some(cpu_tensor(dq, q.shape().clone())?),
            Some(cpu_tensor(dk, k.shape().clone())?),
            Some(cpu_tensor(dv, v.shape().clone())?),
        ))
    }
}

/// Fused path of [`super::block_causal_attention`]; shapes already checked.
pub(crate) fn block_causal_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    tokens_per_frame: usize,
    q_offset: usize,
    span: usize,
) -> Result<Tensor> {
    let op = BlockCausalAttention {
        tokens_per_frame,
        q_offset,
        span,
    };
    q.contiguous()?
        .apply_op3(&k.contiguous()?, &v.contiguous()?, op)
}

#[cfg(test)]
mod tests {
    use super::super::{reference, testing::*};
    use candle_core::Result;

    /// `q [B,H,Lq,Dh]` against `k`/`v [B,H,Lk,Dh]`, values and all three gradients.
    fn check(q_dims: [usize; 4], lk: usize, tpf: usize, q_offset: usize, seed: u64) -> Result<()> {
        check_span(q_dims, lk, tpf, q_offset, 0, seed)
    }

    /// [`check`] with each query seeing `span` frames (0: all earlier ones).
    fn check_span(
        q_dims: [usize; 4],
        lk: usize,
        tpf: usize,
        q_offset: usize,
        span: usize,
        seed: u64,
    ) -> Result<()> {
        let [b, h, _, dh] = q_dims;
        let q = (random_tensor(&q_dims, seed)? * 2.0)?;
        let k = (random_tensor(&[b, h, lk, dh], seed + 1)? * 2.0)?;
        let v = random_tensor(&[b, h, lk, dh], seed + 2)?;
        assert_same_with_grads(
            &[q, k, v],
            |t| super::block_causal_attention(&t[0], &t[1], &t[2], tpf, q_offset, span),
            |t| reference::block_causal_attention_span(&t[0], &t[1], &t[2], tpf, q_offset, span),
        )
    }

    #[test]
    fn matches_reference_on_the_model_shape() -> Result<()> {
        check([1, 2, 576, 64], 576, 64, 0, 1)
    }

    #[test]
    fn matches_reference_with_a_limited_span() -> Result<()> {
        // 9 frames of 64 tokens, each seeing 5; then two new frames on a cache
        // of 4 (the rolling dream's merged pass); odd sizes
        check_span([1, 2, 576, 32], 576, 64, 0, 5, 4)?;
        check_span([2, 2, 128, 32], 384, 64, 256, 5, 5)?;
        check_span([2, 3, 37, 10], 50, 7, 13, 2, 6)
    }

    #[test]
    fn matches_reference_on_a_cached_new_frame() -> Result<()> {
        check([2, 2, 64, 64], 576, 64, 512, 2)
    }

    #[test]
    fn matches_reference_on_odd_shapes() -> Result<()> {
        check([2, 3, 37, 10], 50, 7, 13, 3)?;
        // Frames larger than a tile, a tile spanning many frames, plain causal.
        check([1, 1, 150, 8], 150, 100, 0, 4)?;
        check([1, 2, 70, 4], 70, 3, 0, 5)?;
        check([1, 1, 9, 6], 9, 1, 0, 6)?;
        // Queries whose frames reach past the last key.
        check([1, 1, 10, 8], 6, 4, 0, 7)
    }

    #[test]
    fn accepts_strided_inputs() -> Result<()> {
        // q, k, v given as [B, L, H, Dh] variables viewed as [B, H, L, Dh].
        let q = random_tensor(&[2, 20, 3, 8], 8)?;
        let k = random_tensor(&[2, 20, 3, 8], 9)?;
        let v = random_tensor(&[2, 20, 3, 8], 10)?;
        let heads = |t: &[candle_core::Tensor]| -> Result<Vec<candle_core::Tensor>> {
            t.iter().map(|x| x.transpose(1, 2)).collect()
        };
        assert_same_with_grads(
            &[q, k, v],
            |t| {
                let t = heads(t)?;
                super::block_causal_attention(&t[0], &t[1], &t[2], 5, 0, 0)
            },
            |t| {
                let t = heads(t)?;
                reference::block_causal_attention(&t[0], &t[1], &t[2], 5, 0)
            },
        )
    }
}
