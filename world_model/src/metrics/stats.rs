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

/// Horizons `1, 2, 4, ...` (powers of two) up to `min(256, max_len)`: the default
/// `1, 2, 4, 8, 16, 32`, extended log-spaced to 64, 128, 256 when rollouts are
/// that long.
pub fn default_horizons(max_len: usize) -> Vec<usize> {
    let limit = max_len.clamp(1, 256);
    std::iter::successors(Some(1usize), |h| Some(h * 2))
        .take_while(|&h| h <= limit)
        .collect()
}
