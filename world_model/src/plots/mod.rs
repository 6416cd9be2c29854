//! Pictures of results: line plots (error against horizon with the baselines on a
//! log axis, loss curves), strips of labelled frames, and GIFs of a dream beside
//! the truth and their difference.
//!
//! Plots are drawn with plotters on an in-memory bitmap and encoded as PNG by the
//! `image` crate, then written atomically. Text uses DejaVu Sans embedded by the
//! `dejavu` crate through plotters' `ab_glyph` feature, so nothing has to be
//! installed on the machine (no fontconfig, no system fonts).

mod frames;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

pub use frames::{comparison_gif, frame_strip};

use crate::eval_error::{write_atomic, EvalError};

/// Width and height of line plots, pixels.
pub const PLOT_SIZE: (u32, u32) = (900, 560);

/// Registers the embedded font once per process.
pub(crate) fn ensure_font() {
    static FONT: Once = Once::new();
    FONT.call_once(|| {
        // Both calls only fail on a malformed font file, which the crate does not ship.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

pub(crate) fn draw_error(path: &Path, reason: impl std::fmt::Display) -> EvalError {
    EvalError::Draw {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Encodes an RGB buffer as PNG and writes it atomically.
pub(crate) fn write_png(path: &Path, rgb: Vec<u8>, (w, h): (u32, u32)) -> Result<(), EvalError> {
    let img = image::RgbImage::from_raw(w, h, rgb)
        .ok_or_else(|| draw_error(path, "buffer size does not match the image size"))?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| draw_error(path, e))?;
    write_atomic(path, &bytes.into_inner())
}

/// Colours of the series, in order (the first, usually the model, in strong blue).
const SERIES_COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Series with more points than this are drawn without markers (loss curves).
const MAX_MARKED_POINTS: usize = 40;

/// A tick label: integers without decimals, others with at most three.
fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        return format!("{}", v.round());
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Draws `series` (name, points) as lines with markers and a legend into a PNG at
/// `path`. `log_x` puts x on a log scale (x values must then be positive; others
/// are dropped). Non-finite points are dropped; an error if no point remains.
pub fn line_plot(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_x: bool,
) -> Result<(), EvalError> {
    let clean: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, pts)| {
            let pts = pts
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_x || *x > 0.0))
                .collect();
            (name.as_str(), pts)
        })
        .collect();
    let all: Vec<(f64, f64)> = clean.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    if all.is_empty() {
        return Err(EvalError::Invalid(format!(
            "{}: no finite points to plot",
            path.display()
        )));
    }
    let (mut x0, mut x1) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y_min, y_max) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if x1 <= x0 {
        (x0, x1) = if log_x {
            (x0 / 2.0, x1 * 2.0)
        } else {
            (x0 - 1.0, x1 + 1.0)
        };
    } else if log_x {
        // Room for the end markers.
        (x0, x1) = (x0 / 1.15, x1 * 1.15);
    }
    let y0 = if y_min >= 0.0 { 0.0 } else { y_min * 1.05 };
    // Headroom above the data for the legend box (upper left), so it covers no line.
    let headroom = 0.06 + 0.07 * clean.len() as f64;
    let y1 = if y_max > y0 {
        y_max + headroom * (y_max - y0)
    } else {
        y0 + 1.0
    };

    ensure_font();
    let (w, h) = PLOT_SIZE;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_error(path, e))?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 24).into_font())
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72);
        if log_x {
            let chart = builder
                .build_cartesian_2d((x0..x1).log_scale().base(2.0), y0..y1)
                .map_err(|e| draw_error(path, e))?;
            draw_lines(path, chart, x_label, y_label, &clean)?;
        } else {
            let chart = builder
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| draw_error(path, e))?;
            draw_lines(path, chart, x_label, y_label, &clean)?;
        }
        root.present().map_err(|e| draw_error(path, e))?;
    }
    write_png(path, buf, (w, h))
}

fn draw_lines<'a, X>(
    path: &Path,
    mut chart: ChartContext<
        'a,
        BitMapBackend<'a>,
        Cartesian2d<X, plotters::coord::types::RangedCoordf64>,
    >,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<(), EvalError>
where
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| draw_error(path, e))?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = SERIES_COLORS[i % SERIES_COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(|e| draw_error(path, e))?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
            });
        if pts.len() <= MAX_MARKED_POINTS {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| draw_error(path, e))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()
        .map_err(|e| draw_error(path, e))?;
    Ok(())
}
