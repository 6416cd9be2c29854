//! Shared CPU plumbing for the fused kernels: `f32` slices out of candle
//! storage, a vectorisable `exp`, and row-chunked parallel loops on rayon.

use candle_core::{bail, CpuStorage, DType, Device, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

/// Below this many output elements a kernel runs on the calling thread: the
/// hand-off to rayon costs more than the work.
pub(crate) const PAR_MIN_ELEMS: usize = 16 * 1024;

/// True when every tensor is non-empty `f32` on the CPU, i.e. the fused
/// kernels apply (empty tensors take the reference path, which handles them).
pub(crate) fn fused_applies(tensors: &[&Tensor]) -> bool {
    tensors
        .iter()
        .all(|t| t.device().is_cpu() && t.dtype() == DType::F32 && t.elem_count() > 0)
}

/// The contiguous `f32` data a layout addresses within a CPU storage.
pub(crate) fn slice_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        bail!("{op}: expected f32 input");
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op}: input with layout {layout:?} is not contiguous"),
    }
}

/// Runs `f` on the contiguous `f32` data of a CPU tensor (copying it first if
/// it is strided).
pub(crate) fn with_f32<R>(t: &Tensor, op: &str, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => f(slice_f32(cpu, layout, op)?),
        _ => bail!("{op}: expected a CPU tensor"),
    }
}

/// Wraps a freshly computed buffer as a CPU tensor (no gradient tracking).
pub(crate) fn cpu_tensor<S: Into<Shape>>(data: Vec<f32>, shape: S) -> Result<Tensor> {
    Tensor::from_vec(data, shape, &Device::Cpu)
}

/// Wraps a freshly computed buffer as the output of a custom op's `cpu_fwd`.
pub(crate) fn cpu_output<S: Into<Shape>>(data: Vec<f32>, shape: S) -> (CpuStorage, Shape) {
    (CpuStorage::F32(data), shape.into())
}

/// Splits `out` into chunks of whole rows of `row_len` elements and calls
/// `f(first_row, chunk)` on each, in parallel when the work is large enough.
pub(crate) fn for_row_chunks<F>(out: &mut [f32], row_len: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    let rows = out.len() / row_len.max(1);
    let threads = rayon::current_num_threads();
    if out.len() < PAR_MIN_ELEMS || threads == 1 || rows < 2 {
        f(0, out);
        return;
    }
    let rows_per_task = rows
        .div_ceil(threads * 4)
        .max(PAR_MIN_ELEMS / (4 * row_len))
        .max(1);
    out.par_chunks_mut(rows_per_task * row_len)
        .enumerate()
        .for_each(|(i, chunk)| f(i * rows_per_task, chunk));
}

/// Lanes of the partial sums below: enough independent accumulators for
/// LLVM to turn a float reduction into vector adds (it may not reassociate).
const LANES: usize = 16;

/// `sum_i f(a_i, b_i)` over two equal-length slices, vectorised.
#[inline(always)]
pub(crate) fn sum_zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let (a_main, b_main) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_tail, b_tail) = (a_main.remainder(), b_main.remainder());
    for (ca, cb) in a_main.zip(b_main) {
        for l in 0..LANES {
            acc[l] += f(ca[l], cb[l]);
        }
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(&x, &y)| f(x, y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// `sum_i f(a_i)`, vectorised.
#[inline(always)]
pub(crate) fn sum_map(a: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    sum_zip(a, a, |x, _| f(x))
}

/// `sum_i a_i b_i`, vectorised.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    sum_zip(a, b, |x, y| x * y)
}

/// `max_i a_i` (`-inf` for an empty slice), vectorised.
#[inline(always)]
pub(crate) fn max_of(a: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let main = a.chunks_exact(LANES);
    let tail = main
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for c in main {
        for l in 0..LANES {
            acc[l] = acc[l].max(c[l]);
        }
    }
    acc.iter().fold(tail, |m, &v| m.max(v))
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding it rounds to the nearest integer, kept in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `e^x` to about 1.5e-7 relative error (Cephes `expf` polynomial), written
/// without branches or libm calls so loops over it auto-vectorise.
/// Arguments are clamped to [-87, 88]; below that it returns ~e^-87, not 0.
#[inline(always)]
pub(crate) fn exp_approx(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND_MAGIC;
    let n = shifted - ROUND_MAGIC;
    let n_bits = shifted.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let e_r = p * r * r + r + 1.0;
    let two_n = f32::from_bits(n_bits.wrapping_add(127).wrapping_shl(23));
    e_r * two_n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_approx_is_accurate_over_the_useful_range() {
        let mut worst = 0f64;
        let mut x = -80f32;
        while x < 80.0 {
            let want = (x as f64).exp();
            let got = exp_approx(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst:e}");
        assert_eq!(exp_approx(0.0), 1.0);
        assert!(exp_approx(-1000.0) < 1e-37);
        assert!(exp_approx(1000.0).is_finite());
    }

    #[test]
    fn row_chunks_cover_every_row_once() {
        let mut out = vec![0f32; 100_000];
        for_row_chunks(&mut out, 10, |first, chunk| {
            for (i, row) in chunk.chunks_mut(10).enumerate() {
                row.fill((first + i) as f32);
            }
        });
        for (r, row) in out.chunks(10).enumerate() {
            assert!(row.iter().all(|&v| v == r as f32));
        }
    }
}
