//! Small statistics: means with 95% intervals, medians, PSNR.

use serde::{Deserialize, Serialize};

/// A mean over samples with the half-width of its normal 95% interval,
/// `1.96 * s / sqrt(n)` (`s` the sample standard deviation; 0 when `n < 2`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub ci95: f64,
    pub n: usize,
}

impl Stat {
    /// The statistic of `samples`, `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Stat> {
        let n = samples.len();
        if n == 0 {
            return None;
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        let ci95 = if n < 2 {
            0.0
        } else {
            let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            1.96 * (var / n as f64).sqrt()
        };
        Some(Stat { mean, ci95, n })
    }

    /// The same statistic with mean and interval multiplied by `k`.
    pub fn scaled(self, k: f64) -> Stat {
        Stat {
            mean: self.mean * k,
            ci95: self.ci95 * k,
            n: self.n,
        }
    }
}

/// Median of `values` (mean of the middle two for an even count), `None` if empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    })
}

/// PSNR cap for identical frames (the true value is infinite).
pub const PSNR_IDENTICAL_DB: f64 = 99.0;

/// Peak signal-to-noise ratio of two u8 frames of equal length, in dB, capped at
/// [`PSNR_IDENTICAL_DB`].
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len().min(b.len()).max(1);
    let se: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = se / n as f64;
    if mse <= 0.0 {
        return PSNR_IDENTICAL_DB;
    }
    (10.0 * (255.0f64 * 255.0 / mse).log10()).min(PSNR_IDENTICAL_DB)
}

/// Structural similarity of two `[height, width, 3]` u8 frames on their luma
/// (`0.299 R + 0.587 G + 0.114 B`): the mean SSIM over 8x8 windows with stride 4
/// (uniform weights, `C1 = (0.01 * 255)^2`, `C2 = (0.03 * 255)^2`); 1 for equal
/// frames. Frames smaller than a window are one window.
pub fn ssim(a: &[u8], b: &[u8], height: usize, width: usize) -> f64 {
    let luma = |f: &[u8]| -> Vec<f64> {
        f.chunks_exact(3)
            .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
            .collect()
    };
    let (la, lb) = (luma(a), luma(b));
    if la.len() < height * width || lb.len() < height * width || height == 0 || width == 0 {
        return 0.0;
    }
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let (wh, ww) = (height.min(8), width.min(8));
    let starts = |len: usize, win: usize| (0..=len - win).step_by(4).collect::<Vec<_>>();
    let (mut total, mut count) = (0.0, 0usize);
    for y0 in starts(height, wh) {
        for x0 in starts(width, ww) {
            let n = (wh * ww) as f64;
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for y in y0..y0 + wh {
                for x in x0..x0 + ww {
                    let (p, q) = (la[y * width + x], lb[y * width + x]);
                    sa += p;
                    sb += q;
                    saa += p * p;
                    sbb += q * q;
                    sab += p * q;
                }
            }
            let (ma, mb) = (sa / n, sb / n);
            let (va, vb, cov) = (saa / n - ma * ma, sbb / n - mb * mb, sab / n - ma * mb);
            total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            count += 1;
        }
    }
    total / count.max(1) as f64
}

/// Horizons `1, 2, 4, ...` (powers of two) up to `min(256, max_len)`: the default
/// `1, 2, 4, 8, 16, 32`, extended log-spaced to 64, 128, 256 when rollouts are
/// that long.
pub fn default_horizons(max_len: usize) -> Vec<usize> {
    let limit = max_len.clamp(1, 256);
    std::iter::successors(Some(1usize), |h| Some(h * 2))
        .take_while(|&h| h <= limit)
        .collect()
}
