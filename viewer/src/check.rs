//! Checks of a rendered viewer image, used by the headless screenshot mode (to
//! know the pipelines are ready) and by the screenshot test: the image is not
//! blank, and each moving object's colour shows in the 3D view and in both
//! frame panels. Colours are matched by hue, so shading and lighting (which
//! scale brightness) still match.

use std::path::Path;

use crate::layout::{Layout, PixelRect};
use crate::model::RgbFrame;
use crate::ViewerError;

/// Pixels of an object's hue a region must hold for the object to count as shown.
pub const MIN_MATCHING_PIXELS: usize = 12;
/// Largest hue difference, degrees, that still matches.
const MAX_HUE_DEGREES: f32 = 16.0;

/// Hue in degrees `0..360` and chroma (`max - min`, `0..=255`) of a colour.
fn hue_chroma(rgb: [u8; 3]) -> (f32, f32) {
    let [r, g, b] = rgb.map(f32::from);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let chroma = max - min;
    if chroma == 0.0 {
        return (0.0, 0.0);
    }
    let sector = if max == r {
        ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        (b - r) / chroma + 2.0
    } else {
        (r - g) / chroma + 4.0
    };
    (sector * 60.0, chroma)
}

/// Whether a colour is saturated enough to be found by hue.
pub fn is_findable(rgb: [u8; 3]) -> bool {
    hue_chroma(rgb).1 >= 40.0
}

/// Whether `pixel` looks like the flat colour `target` under shading.
pub fn matches_color(pixel: [u8; 3], target: [u8; 3]) -> bool {
    let (target_hue, target_chroma) = hue_chroma(target);
    let (hue, chroma) = hue_chroma(pixel);
    if chroma < (0.3 * target_chroma).max(24.0) {
        return false;
    }
    let d = (hue - target_hue).abs();
    d.min(360.0 - d) <= MAX_HUE_DEGREES
}

/// Pixels in `rect` of `image` that match `target`.
pub fn count_matching(image: &RgbFrame, rect: PixelRect, target: [u8; 3]) -> usize {
    let x_end = (rect.x + rect.width).min(image.width);
    let y_end = (rect.y + rect.height).min(image.height);
    (rect.y..y_end)
        .flat_map(|y| (rect.x..x_end).map(move |x| (x, y)))
        .filter(|&(x, y)| matches_color(image.pixel(x, y), target))
        .count()
}

/// Whether the image is (nearly) one colour: fewer than 8 distinct colours
/// among a sample of its pixels, or no spread of brightness.
pub fn is_blank(image: &RgbFrame) -> bool {
    let mut distinct: Vec<[u8; 3]> = Vec::new();
    let (mut lo, mut hi) = (255u8, 0u8);
    for p in image.data.chunks_exact(3).step_by(7) {
        let px = [p[0], p[1], p[2]];
        let luma = ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2])) / 3) as u8;
        (lo, hi) = (lo.min(luma), hi.max(luma));
        if distinct.len() < 8 && !distinct.contains(&px) {
            distinct.push(px);
        }
    }
    distinct.len() < 8 || hi.saturating_sub(lo) < 16
}

/// A view of the layout a check looks into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    View3d,
    DreamPanel,
    PhysicsPanel,
}

impl Region {
    fn rect(self, layout: &Layout) -> PixelRect {
        match self {
            Region::View3d => layout.view3d,
            Region::DreamPanel => layout.dream,
            Region::PhysicsPanel => layout.physics,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Region::View3d => "3D view",
            Region::DreamPanel => "dream panel",
            Region::PhysicsPanel => "physics panel",
        }
    }
}

/// The regions that show ground truth, so they must show every moving object
/// once rendering is ready, whatever the dream does: the readiness check of
/// the screenshot mode.
pub const GROUND_TRUTH_REGIONS: [Region; 2] = [Region::View3d, Region::PhysicsPanel];
/// Every region: the screenshot test's check (at a context step, where the dream is the true frame).
pub const ALL_REGIONS: [Region; 3] = [Region::View3d, Region::DreamPanel, Region::PhysicsPanel];

/// Everything wrong with a screenshot of the viewer's layout; empty when it passes.
/// `colors` are the moving objects' flat colours, each looked for in every one
/// of `regions`; colours too grey to find by hue are skipped.
pub fn screenshot_problems(
    image: &RgbFrame,
    layout: &Layout,
    colors: &[[u8; 3]],
    regions: &[Region],
) -> Vec<String> {
    let mut problems = Vec::new();
    if (image.width, image.height) != layout.window {
        problems.push(format!(
            "image is {}x{}, the layout is for {}x{}",
            image.width, image.height, layout.window.0, layout.window.1
        ));
        return problems;
    }
    if is_blank(image) {
        problems.push("the image is blank".into());
        return problems;
    }
    for &rgb in colors.iter().filter(|c| is_findable(**c)) {
        for region in regions {
            let n = count_matching(image, region.rect(layout), rgb);
            if n < MIN_MATCHING_PIXELS {
                problems.push(format!(
                    "colour {rgb:?} shows in {n} pixels of the {} (needs {MIN_MATCHING_PIXELS})",
                    region.name()
                ));
            }
        }
    }
    problems
}

/// Read a PNG as an RGB frame.
pub fn read_png(path: &Path) -> Result<RgbFrame, ViewerError> {
    let image = image::open(path).map_err(|e| ViewerError::Image {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let rgb = image.to_rgb8();
    RgbFrame::new(rgb.width(), rgb.height(), rgb.into_raw())
}

/// Write an RGB frame as a PNG: to a temporary name in the same directory, then renamed into place.
pub fn write_png(path: &Path, frame: &RgbFrame) -> Result<(), ViewerError> {
    let image_error = |e: String| ViewerError::Image {
        path: path.to_path_buf(),
        reason: e,
    };
    let buffer = image::RgbImage::from_raw(frame.width, frame.height, frame.data.clone())
        .ok_or_else(|| image_error("frame size does not match its data".into()))?;
    let file_name = path
        .file_name()
        .ok_or_else(|| image_error("the path has no file name".into()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", file_name.to_string_lossy()));
    buffer
        .save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| image_error(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|source| ViewerError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::DEFAULT_WINDOW;

    const RED: [u8; 3] = [220, 60, 50];

    fn canvas() -> RgbFrame {
        let (w, h) = DEFAULT_WINDOW;
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for i in 0..w * h {
            let v = (i % 97) as u8; // grey texture so the image is not blank
            data.extend_from_slice(&[v, v, v]);
        }
        RgbFrame::new(w, h, data).unwrap()
    }

    fn paint(image: &mut RgbFrame, rect: PixelRect, rgb: [u8; 3]) {
        for y in rect.y..rect.y + 6 {
            for x in rect.x..rect.x + 6 {
                let i = ((y * image.width + x) * 3) as usize;
                image.data[i..i + 3].copy_from_slice(&rgb);
            }
        }
    }

    #[test]
    fn shaded_colours_match_and_other_hues_do_not() {
        assert!(matches_color(RED, RED));
        assert!(matches_color([110, 30, 25], RED), "darker, same hue");
        assert!(!matches_color([50, 60, 220], RED));
        assert!(!matches_color([90, 90, 90], RED), "grey");
        assert!(!is_findable([150, 150, 150]));
    }

    #[test]
    fn a_flat_image_is_blank() {
        let (w, h) = DEFAULT_WINDOW;
        let flat = RgbFrame::new(w, h, vec![30; (w * h * 3) as usize]).unwrap();
        assert!(is_blank(&flat));
        assert!(!is_blank(&canvas()));
        let problems = screenshot_problems(&flat, &Layout::for_window(w, h), &[RED], &ALL_REGIONS);
        assert_eq!(problems, vec!["the image is blank".to_string()]);
    }

    #[test]
    fn the_check_names_each_region_missing_a_colour() {
        let layout = Layout::for_window(DEFAULT_WINDOW.0, DEFAULT_WINDOW.1);
        let mut image = canvas();
        paint(&mut image, layout.view3d, RED);
        paint(&mut image, layout.dream, RED);
        let problems = screenshot_problems(&image, &layout, &[RED], &ALL_REGIONS);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("physics panel"));
        paint(&mut image, layout.physics, [150, 45, 38]);
        assert!(screenshot_problems(&image, &layout, &[RED], &ALL_REGIONS).is_empty());
        // The readiness check ignores the dream panel.
        let mut image = canvas();
        paint(&mut image, layout.view3d, RED);
        paint(&mut image, layout.physics, RED);
        assert!(screenshot_problems(&image, &layout, &[RED], &GROUND_TRUTH_REGIONS).is_empty());
    }

    #[test]
    fn png_round_trip_and_wrong_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shot.png");
        let image = canvas();
        write_png(&path, &image).unwrap();
        assert_eq!(read_png(&path).unwrap(), image);
        let small = RgbFrame::new(2, 2, vec![0; 12]).unwrap();
        let layout = Layout::for_window(DEFAULT_WINDOW.0, DEFAULT_WINDOW.1);
        assert!(screenshot_problems(&small, &layout, &[RED], &ALL_REGIONS)[0].contains("2x2"));
        assert!(read_png(&dir.path().join("missing.png")).is_err());
    }
}
