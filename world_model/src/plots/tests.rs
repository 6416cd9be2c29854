//! Tests: the pictures are written, decode, have the expected size and content.

use super::*;
use crate::objects::synth::{colors, disc, filled, BG, BLUE, FLOOR, RED};

/// A temporary directory, or `$SOMNIUM_KEEP_PLOTS` to look at the pictures.
fn out_dir() -> (Option<tempfile::TempDir>, std::path::PathBuf) {
    match std::env::var_os("SOMNIUM_KEEP_PLOTS") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            (None, d.into())
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

fn decode(path: &Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

#[test]
fn line_plot_writes_a_png_with_text_and_lines() {
    let (_keep, dir) = out_dir();
    let path = dir.join("error.png");
    let series = vec![
        (
            "model".to_string(),
            vec![
                (1.0, 0.5),
                (2.0, 0.9),
                (4.0, 1.7),
                (8.0, 3.0),
                (16.0, 6.5),
                (32.0, 9.0),
            ],
        ),
        (
            "copy_last".to_string(),
            vec![
                (1.0, 2.2),
                (2.0, 4.4),
                (4.0, 8.9),
                (8.0, 15.0),
                (16.0, 20.0),
                (32.0, 21.0),
            ],
        ),
        (
            "constant_velocity".to_string(),
            vec![
                (1.0, 0.3),
                (2.0, 0.8),
                (4.0, 2.5),
                (8.0, 7.0),
                (16.0, 14.0),
                (32.0, 19.0),
            ],
        ),
    ];
    line_plot(
        &path,
        "Centroid error against horizon",
        "horizon (steps)",
        "error (pixels)",
        &series,
        true,
    )
    .unwrap();
    let img = decode(&path);
    assert_eq!(img.dimensions(), PLOT_SIZE);
    let blue = img.pixels().filter(|p| p.0 == [31, 119, 180]).count();
    assert!(blue > 200, "the first series is drawn ({blue} pixels)");
    let dark = img.pixels().filter(|p| p.0.iter().all(|&c| c < 90)).count();
    assert!(dark > 2000, "text and axes are drawn ({dark} dark pixels)");
    let loss = dir.join("loss.png");
    let curve: Vec<(f64, f64)> = (0..200)
        .map(|i| (i as f64, 1.0 / (1.0 + i as f64 * 0.05)))
        .collect();
    line_plot(
        &loss,
        "Training loss",
        "step",
        "loss",
        &[("train".into(), curve)],
        false,
    )
    .unwrap();
    assert!(line_plot(
        &loss,
        "t",
        "x",
        "y",
        &[("nan".into(), vec![(f64::NAN, 1.0)])],
        false
    )
    .is_err());
}

#[test]
fn frame_strip_and_gif_hold_the_frames() {
    let (h, w) = (24, 32);
    let mut a = filled(h, w, FLOOR);
    disc(&mut a, h, w, (10.5, 12.5), 4.0, RED, |_, _| 1.0);
    let mut b = filled(h, w, BG);
    disc(&mut b, h, w, (20.5, 8.5), 4.0, BLUE, |_, _| 0.8);
    let _ = colors();
    let (_keep, dir) = out_dir();
    let strip = dir.join("strip.png");
    let rows = vec![
        ("dream".to_string(), vec![a.clone(), b.clone()]),
        ("truth".to_string(), vec![b.clone(), a.clone()]),
    ];
    frame_strip(&strip, &rows, h, w, 3, &["t+1".into(), "t+2".into()]).unwrap();
    let img = decode(&strip);
    let reds = img.pixels().filter(|p| p.0 == RED).count();
    let disc_px = a.chunks(3).filter(|p| *p == RED).count();
    assert_eq!(
        reds,
        2 * disc_px * 9,
        "two red discs, each pixel as a 3x3 square"
    );
    assert!(frame_strip(
        &strip,
        &[("bad".to_string(), vec![vec![0u8; 5]])],
        h,
        w,
        2,
        &[]
    )
    .is_err());

    let gif_path = dir.join("cmp.gif");
    comparison_gif(
        &gif_path,
        &[a.clone(), b.clone()],
        &[a.clone(), a.clone()],
        h,
        w,
        2,
        100,
    )
    .unwrap();
    let bytes = std::fs::read(&gif_path).unwrap();
    assert_eq!(&bytes[..6], b"GIF89a");
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = opts.read_info(std::io::Cursor::new(bytes)).unwrap();
    let (gw, gh) = (dec.width() as u32, dec.height() as u32);
    let mut frames = Vec::new();
    while let Some(f) = dec.read_next_frame().unwrap() {
        frames.push(f.buffer.to_vec());
    }
    assert_eq!(frames.len(), 2);
    let last = image::RgbaImage::from_raw(gw, gh, frames[1].clone()).unwrap();
    // Second frame: dream `b` (blue disc) against truth `a` (red disc): the middle
    // panel shows red, the difference panel is not black.
    let panel = |i: u32| (4 + i * (2 * w as u32 + 4), frames::GIF_HEADER as u32);
    let (tx, ty) = panel(1);
    let red = (0..2 * h as u32).flat_map(|y| (0..2 * w as u32).map(move |x| (x, y)));
    let red = red
        .filter(|&(x, y)| last.get_pixel(tx + x, ty + y).0[0] > 200)
        .count();
    assert!(red > 100, "truth panel shows the red disc ({red})");
    let (dx, dy) = panel(2);
    assert!(last.get_pixel(dx + 2 * 20, dy + 2 * 8).0[..3]
        .iter()
        .any(|&c| c > 50));
    if std::env::var_os("SOMNIUM_KEEP_PLOTS").is_some() {
        last.save(dir.join("cmp_frame2.png")).unwrap();
    }
}
