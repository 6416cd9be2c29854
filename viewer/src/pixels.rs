//! CPU pixel work for the panels: RGB to RGBA, the absolute-difference heat
//! map of a dreamed frame against its physics frame, and a small line plot of
//! a metric. Pure functions, so they are tested without a GPU.

use crate::model::RgbFrame;

/// `[h, w, 3]` RGB to `[h, w, 4]` RGBA with opaque alpha.
pub fn rgb_to_rgba(frame: &RgbFrame) -> Vec<u8> {
    frame
        .data
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect()
}

/// The per-pixel absolute difference, averaged over the channels, in `0..=255`.
/// `[h, w]`; `None` when the frames differ in size.
pub fn abs_diff(a: &RgbFrame, b: &RgbFrame) -> Option<Vec<u8>> {
    if (a.width, a.height) != (b.width, b.height) {
        return None;
    }
    Some(
        a.data
            .chunks_exact(3)
            .zip(b.data.chunks_exact(3))
            .map(|(p, q)| {
                let sum: u32 = (0..3).map(|c| u32::from(p[c].abs_diff(q[c]))).sum();
                (sum / 3) as u8
            })
            .collect(),
    )
}

/// Difference that maps to the top of the colour scale: a fixed scale, so heat
/// maps of different steps compare.
pub const HEAT_FULL_SCALE: f32 = 128.0;

/// A black-red-yellow-white colour for a difference `d` (`0..=255`), saturating
/// at [`HEAT_FULL_SCALE`].
pub fn heat_color(d: u8) -> [u8; 3] {
    let t = (f32::from(d) / HEAT_FULL_SCALE).clamp(0.0, 1.0);
    // Red rises over the first third, green over the second, blue over the last.
    let channel = |third: f32| ((3.0 * t - third).clamp(0.0, 1.0) * 255.0).round() as u8;
    [channel(0.0), channel(1.0), channel(2.0)]
}

/// The heat map of `|dream - physics|` as RGBA `[h, w, 4]`; `None` when sizes differ.
pub fn heat_map_rgba(dream: &RgbFrame, physics: &RgbFrame) -> Option<Vec<u8>> {
    let diff = abs_diff(dream, physics)?;
    Some(
        diff.into_iter()
            .flat_map(|d| {
                let [r, g, b] = heat_color(d);
                [r, g, b, 255]
            })
            .collect(),
    )
}

/// Colours of the metric plot.
const PLOT_BACKGROUND: [u8; 4] = [24, 24, 30, 255];
const PLOT_AXIS: [u8; 4] = [70, 70, 80, 255];
const PLOT_LINE: [u8; 4] = [120, 200, 255, 255];

/// A line plot of `values` over the steps, `[height, width, 4]` RGBA, scaled
/// from 0 (or the minimum, if negative) to the maximum finite value. NaN values
/// leave a gap. The viewer draws the step cursor over it as a UI node.
pub fn plot_rgba(values: &[f32], width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut out: Vec<u8> = PLOT_BACKGROUND.repeat(w * h);
    if w < 2 || h < 2 {
        return out;
    }
    let mut put = |x: usize, y: usize, c: [u8; 4]| {
        if x < w && y < h {
            out[(y * w + x) * 4..(y * w + x) * 4 + 4].copy_from_slice(&c);
        }
    };
    for x in 0..w {
        put(x, h - 1, PLOT_AXIS);
    }
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((0.0f32, f32::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !hi.is_finite() || values.is_empty() {
        return out;
    }
    let span = if hi > lo { hi - lo } else { 1.0 };
    let to_y = |v: f32| ((1.0 - (v - lo) / span) * (h - 2) as f32).round() as usize;
    let to_x = |i: usize| {
        if values.len() == 1 {
            0
        } else {
            i * (w - 1) / (values.len() - 1)
        }
    };
    let mut previous: Option<(usize, usize)> = None;
    for (i, v) in values.iter().enumerate() {
        if !v.is_finite() {
            previous = None;
            continue;
        }
        let (x, y) = (to_x(i), to_y(*v));
        let (x0, y0) = previous.unwrap_or((x, y));
        // Straight segment from the previous point, one pixel per step of the longer axis.
        let n = x.abs_diff(x0).max(y.abs_diff(y0)).max(1);
        for k in 0..=n {
            let px = x0 as f32 + (x as f32 - x0 as f32) * k as f32 / n as f32;
            let py = y0 as f32 + (y as f32 - y0 as f32) * k as f32 / n as f32;
            put(px.round() as usize, py.round() as usize, PLOT_LINE);
        }
        previous = Some((x, y));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(pixels: &[[u8; 3]]) -> RgbFrame {
        RgbFrame::new(pixels.len() as u32, 1, pixels.concat()).unwrap()
    }

    #[test]
    fn rgba_keeps_colours_and_adds_opaque_alpha() {
        let f = frame(&[[1, 2, 3], [4, 5, 6]]);
        assert_eq!(rgb_to_rgba(&f), vec![1, 2, 3, 255, 4, 5, 6, 255]);
    }

    #[test]
    fn identical_frames_give_a_black_heat_map() {
        let f = frame(&[[10, 200, 30], [0, 0, 0]]);
        let heat = heat_map_rgba(&f, &f).unwrap();
        assert_eq!(heat, vec![0, 0, 0, 255, 0, 0, 0, 255]);
    }

    #[test]
    fn larger_differences_are_brighter_and_saturate_white() {
        let a = frame(&[[0, 0, 0], [0, 0, 0], [0, 0, 0]]);
        let b = frame(&[[30, 30, 30], [90, 90, 90], [255, 255, 255]]);
        let heat = heat_map_rgba(&a, &b).unwrap();
        let brightness = |i: usize| {
            heat[i * 4..i * 4 + 3]
                .iter()
                .map(|&c| c as u32)
                .sum::<u32>()
        };
        assert!(brightness(0) > 0);
        assert!(brightness(1) > brightness(0));
        assert_eq!(&heat[8..11], &[255, 255, 255]);
    }

    #[test]
    fn frames_of_different_sizes_have_no_diff() {
        let a = frame(&[[0, 0, 0]]);
        let b = frame(&[[0, 0, 0], [0, 0, 0]]);
        assert!(abs_diff(&a, &b).is_none());
    }

    #[test]
    fn plot_draws_the_line_high_for_high_values() {
        let (w, h) = (20u32, 10u32);
        let plot = plot_rgba(&[0.0, 1.0], w, h);
        assert_eq!(plot.len(), (w * h * 4) as usize);
        let line_at = |x: usize, y: usize| plot[(y * w as usize + x) * 4..][..4] == PLOT_LINE;
        // The first value (0) sits at the bottom, the last (max) at the top.
        assert!((0..h as usize).any(|y| line_at(0, y) && y >= h as usize - 2));
        assert!(line_at(w as usize - 1, 0));
    }

    #[test]
    fn plot_of_nan_only_is_just_background_and_axis() {
        let plot = plot_rgba(&[f32::NAN, f32::NAN], 8, 4);
        assert!(plot.chunks_exact(4).all(|p| p != PLOT_LINE));
    }
}
