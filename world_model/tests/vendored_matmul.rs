//! The vendored candle's matmul writes its output without zeroing it first
//! (vendor/candle-core/SOMNIUM.md): every element must still be the product,
//! even when the allocator hands back memory full of old values, and a product
//! over an empty inner dimension must be zeros.

use candle_core::{Device, Tensor};

/// `[b, m, k] x [b, k, n]` by plain loops.
fn naive(a: &[f32], b: &[f32], (batch, m, k, n): (usize, usize, usize, usize)) -> Vec<f32> {
    let mut out = vec![0f32; batch * m * n];
    for s in 0..batch {
        for i in 0..m {
            for j in 0..n {
                out[s * m * n + i * n + j] = (0..k)
                    .map(|l| a[s * m * k + i * k + l] * b[s * k * n + l * n + j])
                    .sum();
            }
        }
    }
    out
}

#[test]
fn matmul_outputs_are_products_even_in_reused_memory() {
    let dev = Device::Cpu;
    for &(batch, m, k, n) in &[
        (1, 1, 1, 1),
        (3, 17, 33, 65),
        (2, 320, 128, 384),
        (5, 7, 2, 3),
    ] {
        // fill the allocator's free lists with NaN-laden buffers of the output's size
        for _ in 0..4 {
            drop(Tensor::full(f32::NAN, (batch, m, n), &dev).unwrap());
        }
        let av: Vec<f32> = (0..batch * m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0)
            .collect();
        let bv: Vec<f32> = (0..batch * k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0)
            .collect();
        let a = Tensor::from_vec(av.clone(), (batch, m, k), &dev).unwrap();
        let b = Tensor::from_vec(bv.clone(), (batch, k, n), &dev).unwrap();
        let got: Vec<f32> = a
            .matmul(&b)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let want = naive(&av, &bv, (batch, m, k, n));
        let worst = got
            .iter()
            .zip(&want)
            .map(|(g, w)| (g - w).abs() / (1.0 + w.abs()))
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-5,
            "[{batch}, {m}, {k}] x [{k}, {n}]: off by {worst}"
        );
        // a batch-invariant right operand takes the folded path
        let b0 = Tensor::from_vec(bv[..k * n].to_vec(), (k, n), &dev).unwrap();
        let folded = a.broadcast_matmul(&b0).unwrap();
        let looped = a
            .matmul(&b0.unsqueeze(0).unwrap().repeat((batch, 1, 1)).unwrap())
            .unwrap();
        let d: f32 = (folded - looped)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(d < 1e-5, "folded and looped batches differ by {d}");
    }
}

#[test]
fn an_empty_inner_dimension_gives_zeros() {
    let dev = Device::Cpu;
    for _ in 0..4 {
        drop(Tensor::full(f32::NAN, (2, 3, 4), &dev).unwrap());
    }
    let a = Tensor::zeros((2, 3, 0), candle_core::DType::F32, &dev).unwrap();
    let b = Tensor::zeros((2, 0, 4), candle_core::DType::F32, &dev).unwrap();
    let out: Vec<f32> = a
        .matmul(&b)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(out, vec![0f32; 24]);
}
