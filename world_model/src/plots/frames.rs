//! Frames as pictures: a strip of labelled rows of frames (dreamed against true)
//! as PNG, and an animated GIF of dream | truth | |difference|.

use std::path::Path;

use plotters::prelude::*;

use super::{draw_error, ensure_font, write_png};
use crate::eval_error::{check_frame, write_atomic, EvalError};

const GAP: usize = 4;
const LABEL_FONT: u32 = 16;
/// Height of one line of header text.
const LINE: usize = LABEL_FONT as usize + 6;
/// Height of the GIF's header: the step, then the panel names.
pub(crate) const GIF_HEADER: usize = 2 * LINE + 2;

/// A white RGB canvas with text drawn by plotters.
struct Canvas {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            rgb: vec![255; w * h * 3],
        }
    }

    /// Draws `texts` (text, x, y of the top-left corner) in dark grey.
    fn text(&mut self, path: &Path, texts: &[(String, i32, i32)]) -> Result<(), EvalError> {
        ensure_font();
        let root = BitMapBackend::with_buffer(&mut self.rgb, (self.w as u32, self.h as u32))
            .into_drawing_area();
        let style = ("sans-serif", LABEL_FONT)
            .into_font()
            .color(&RGBColor(30, 30, 30));
        for (t, x, y) in texts {
            root.draw(&Text::new(t.as_str(), (*x, *y), style.clone()))
                .map_err(|e| draw_error(path, e))?;
        }
        root.present().map_err(|e| draw_error(path, e))
    }

    /// Copies a `[fh, fw, 3]` frame, each pixel as a `scale x scale` square, with
    /// its top-left corner at `(x, y)`.
    fn blit(&mut self, frame: &[u8], fh: usize, fw: usize, scale: usize, x: usize, y: usize) {
        for r in 0..fh * scale {
            let dst_row = y + r;
            if dst_row >= self.h {
                break;
            }
            for c in 0..fw * scale {
                let dst_col = x + c;
                if dst_col >= self.w {
                    break;
                }
                let src = ((r / scale) * fw + c / scale) * 3;
                let dst = (dst_row * self.w + dst_col) * 3;
                self.rgb[dst..dst + 3].copy_from_slice(&frame[src..src + 3]);
            }
        }
    }
}

/// Writes a PNG with one row per `(label, frames)`, each `[height, width, 3]` frame
/// upscaled `scale` times (nearest neighbour), the label left of the row and
/// `column_labels` (may be empty) above the columns.
pub fn frame_strip<F: AsRef<[u8]>>(
    path: &Path,
    rows: &[(String, Vec<F>)],
    height: usize,
    width: usize,
    scale: usize,
    column_labels: &[String],
) -> Result<(), EvalError> {
    let scale = scale.max(1);
    let cols = rows.iter().map(|(_, f)| f.len()).max().unwrap_or(0);
    if cols == 0 {
        return Err(EvalError::Invalid(format!(
            "{}: no frames to draw",
            path.display()
        )));
    }
    for (label, frames) in rows {
        for (k, f) in frames.iter().enumerate() {
            check_frame(
                || format!("frame {k} of row `{label}`"),
                f.as_ref(),
                height,
                width,
            )?;
        }
    }
    let label_w = 12
        + rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0)
            * 9;
    let header = if column_labels.is_empty() {
        0
    } else {
        LABEL_FONT as usize + 10
    };
    let (cell_w, cell_h) = (width * scale, height * scale);
    let w = label_w + cols * (cell_w + GAP) + GAP;
    let h = header + rows.len() * (cell_h + GAP) + GAP;
    let mut canvas = Canvas::new(w, h);
    let mut texts: Vec<(String, i32, i32)> = column_labels
        .iter()
        .take(cols)
        .enumerate()
        .map(|(k, t)| (t.clone(), (label_w + k * (cell_w + GAP) + GAP) as i32, 4))
        .collect();
    for (r, (label, _)) in rows.iter().enumerate() {
        let y = header + r * (cell_h + GAP) + GAP + cell_h / 2;
        texts.push((label.clone(), 6, y as i32 - LABEL_FONT as i32 / 2));
    }
    canvas.text(path, &texts)?;
    for (r, (_, frames)) in rows.iter().enumerate() {
        for (k, f) in frames.iter().enumerate() {
            let x = label_w + k * (cell_w + GAP) + GAP;
            let y = header + r * (cell_h + GAP) + GAP;
            canvas.blit(f.as_ref(), height, width, scale, x, y);
        }
    }
    write_png(path, canvas.rgb, (w as u32, h as u32))
}

/// Writes an animated GIF: frame `k` shows `dream[k] | truth[k] | |dream - truth|`
/// side by side, upscaled `scale` times, under a header giving the step and naming
/// the panels. Plays `min(len)` frames, `delay_ms` each, looping.
pub fn comparison_gif<F: AsRef<[u8]>, G: AsRef<[u8]>>(
    path: &Path,
    dream: &[F],
    truth: &[G],
    height: usize,
    width: usize,
    scale: usize,
    delay_ms: u16,
) -> Result<(), EvalError> {
    let scale = scale.max(1);
    let n = dream.len().min(truth.len());
    if n == 0 {
        return Err(EvalError::Invalid(format!(
            "{}: no frames to animate",
            path.display()
        )));
    }
    let (cell_w, cell_h) = (width * scale, height * scale);
    let header = GIF_HEADER;
    let w = 3 * cell_w + 4 * GAP;
    let h = header + cell_h + GAP;
    if w > usize::from(u16::MAX) || h > usize::from(u16::MAX) {
        return Err(EvalError::Invalid(format!(
            "{}: a {w}x{h} GIF is too large",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut bytes, w as u16, h as u16, &[])
            .map_err(|e| draw_error(path, e))?;
        encoder
            .set_repeat(gif::Repeat::Infinite)
            .map_err(|e| draw_error(path, e))?;
        for k in 0..n {
            let (d, t) = (dream[k].as_ref(), truth[k].as_ref());
            check_frame(|| format!("dreamed frame {k}"), d, height, width)?;
            check_frame(|| format!("true frame {k}"), t, height, width)?;
            let diff: Vec<u8> = d.iter().zip(t).map(|(a, b)| a.abs_diff(*b)).collect();
            let mut canvas = Canvas::new(w, h);
            let x = |i: usize| GAP + i * (cell_w + GAP);
            canvas.text(
                path,
                &[
                    (format!("step {}", k + 1), x(0) as i32, 3),
                    ("dream".to_string(), x(0) as i32, LINE as i32 + 3),
                    ("truth".to_string(), x(1) as i32, LINE as i32 + 3),
                    ("|diff|".to_string(), x(2) as i32, LINE as i32 + 3),
                ],
            )?;
            for (i, f) in [d, t, diff.as_slice()].into_iter().enumerate() {
                canvas.blit(f, height, width, scale, x(i), header);
            }
            let mut frame = gif::Frame::from_rgb_speed(w as u16, h as u16, &canvas.rgb, 10);
            frame.delay = (delay_ms / 10).max(1);
            encoder
                .write_frame(&frame)
                .map_err(|e| draw_error(path, e))?;
        }
    }
    write_atomic(path, &bytes)
}
