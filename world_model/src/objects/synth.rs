//! Synthetic frames for tests: flat floors with shaded discs, shifts and blurs.

use crate::data::ManifestColor;

pub const FLOOR: [u8; 3] = [60, 60, 64];
pub const BG: [u8; 3] = [16, 16, 20];
pub const RED: [u8; 3] = [230, 30, 30];
pub const GREEN: [u8; 3] = [30, 200, 40];
pub const BLUE: [u8; 3] = [40, 80, 240];

/// The bounce-like table: floor (static), then three balls.
pub fn colors() -> Vec<ManifestColor> {
    let c = |name: &str, rgb, dynamic| ManifestColor {
        name: name.into(),
        rgb,
        dynamic,
    };
    vec![
        c("floor", FLOOR, false),
        c("red", RED, true),
        c("green", GREEN, true),
        c("blue", BLUE, true),
    ]
}

/// A `[h, w, 3]` frame filled with `rgb`.
pub fn filled(h: usize, w: usize, rgb: [u8; 3]) -> Vec<u8> {
    rgb.iter().copied().cycle().take(h * w * 3).collect()
}

/// Paints a disc of radius `r` centred at `(cx, cy)` (pixel centres at `i + 0.5`),
/// its colour scaled by `shade(x, y)`; returns the number of pixels painted.
pub fn disc(
    frame: &mut [u8],
    h: usize,
    w: usize,
    (cx, cy): (f32, f32),
    r: f32,
    rgb: [u8; 3],
    shade: impl Fn(usize, usize) -> f32,
) -> usize {
    let mut n = 0;
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            if (px - cx).hypot(py - cy) <= r {
                let k = shade(x, y);
                let i = (y * w + x) * 3;
                for c in 0..3 {
                    frame[i + c] = (f32::from(rgb[c]) * k).round().clamp(0.0, 255.0) as u8;
                }
                n += 1;
            }
        }
    }
    n
}

/// A box blur of radius `r` (a `(2r+1)^2` window, clamped at the edges).
pub fn box_blur(frame: &[u8], h: usize, w: usize, r: usize) -> Vec<u8> {
    let mut out = vec![0u8; frame.len()];
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0u32; 3];
            let mut n = 0;
            for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                    for c in 0..3 {
                        acc[c] += u32::from(frame[(yy * w + xx) * 3 + c]);
                    }
                    n += 1;
                }
            }
            for c in 0..3 {
                out[(y * w + x) * 3 + c] = (acc[c] as f32 / n as f32).round() as u8;
            }
        }
    }
    out
}

/// A Gaussian blur of standard deviation `sigma` pixels (separable, radius
/// `ceil(3 sigma)`, weights renormalised where the window leaves the frame).
pub fn gaussian_blur(frame: &[u8], h: usize, w: usize, sigma: f32) -> Vec<u8> {
    let r = (3.0 * sigma).ceil() as i64;
    let weights: Vec<f32> = (-r..=r)
        .map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    // One pass along an axis: `at(i, d)` is the pixel `d` away from `i` on it, if any.
    let pass = |src: &[f32], at: &dyn Fn(usize, i64) -> Option<usize>| -> Vec<f32> {
        let mut out = vec![0.0f32; src.len()];
        for i in 0..h * w {
            let (mut acc, mut total) = ([0.0f32; 3], 0.0f32);
            for (k, &wt) in weights.iter().enumerate() {
                if let Some(j) = at(i, k as i64 - r) {
                    for c in 0..3 {
                        acc[c] += wt * src[j * 3 + c];
                    }
                    total += wt;
                }
            }
            for c in 0..3 {
                out[i * 3 + c] = acc[c] / total;
            }
        }
        out
    };
    let src: Vec<f32> = frame.iter().map(|&v| f32::from(v)).collect();
    let (wi, hi) = (w as i64, h as i64);
    let across = pass(&src, &|i, d| {
        let x = (i % w) as i64 + d;
        (0..wi).contains(&x).then(|| (i as i64 + d) as usize)
    });
    let down = pass(&across, &|i, d| {
        let y = (i / w) as i64 + d;
        (0..hi).contains(&y).then(|| (i as i64 + d * wi) as usize)
    });
    down.iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect()
}
