//! Per-pixel colour classification that ignores brightness.
//!
//! The renderer shades an object's flat colour by a factor of roughly 0.4 to 1.0
//! (ambient plus Lambert), and a model blurs and mixes colours. So a pixel is
//! classified by its hue and saturation, never by its raw RGB:
//! - a pixel that is dark (max channel below `dark_level`) or barely saturated
//!   (HSV saturation `(max - min) / max` below `min_saturation`) is achromatic and
//!   goes to the nearest achromatic entry of the table (background, floor, walls)
//!   by RGB distance, or to the background when there is none;
//! - any other pixel goes to the chromatic entry with the nearest hue, provided the
//!   hue differs by at most `max_hue_distance` degrees; otherwise it is left
//!   unclassified (a mix of two object colours belongs to neither).
//!
//! Hue is unchanged both by shading (scaling RGB) and by mixing with a grey (adding
//! the same amount to each channel), so an object blurred into the floor keeps its
//! label until the mix is too grey to pass the saturation threshold.

use crate::data::ManifestColor;

/// Label of a pixel that matched no entry of the table.
pub const UNCLASSIFIED: u16 = u16::MAX;
/// Label of background pixels; object `i` of the table has label `i + 1`.
pub const BACKGROUND: u16 = 0;

/// Thresholds of the classifier.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassifyParams {
    /// Pixels whose brightest channel is below this are achromatic.
    pub dark_level: u8,
    /// Pixels with HSV saturation below this are achromatic.
    pub min_saturation: f32,
    /// Largest hue difference, in degrees, at which a pixel still takes an entry's label.
    pub max_hue_distance: f32,
}

impl Default for ClassifyParams {
    fn default() -> Self {
        Self {
            dark_level: 24,
            min_saturation: 0.35,
            max_hue_distance: 30.0,
        }
    }
}

struct Entry {
    label: u16,
    rgb: [f32; 3],
    hue: f32,
}

/// A colour table prepared for classification.
pub struct Palette {
    achromatic: Vec<Entry>,
    chromatic: Vec<Entry>,
    params: ClassifyParams,
    names: Vec<String>,
}

fn saturation(rgb: [f32; 3]) -> (f32, f32) {
    let max = rgb[0].max(rgb[1]).max(rgb[2]);
    let min = rgb[0].min(rgb[1]).min(rgb[2]);
    let sat = if max > 0.0 { (max - min) / max } else { 0.0 };
    (max, sat)
}

/// HSV hue in degrees, `0..360` (0 for greys).
fn hue(rgb: [f32; 3]) -> f32 {
    let [r, g, b] = rgb;
    let max = r.max(g).max(b);
    let delta = max - r.min(g).min(b);
    if delta <= 0.0 {
        return 0.0;
    }
    let h = if max == r {
        60.0 * ((g - b) / delta)
    } else if max == g {
        60.0 * ((b - r) / delta + 2.0)
    } else {
        60.0 * ((r - g) / delta + 4.0)
    };
    h.rem_euclid(360.0)
}

/// Distance between two hues on the colour circle, `0..=180` degrees.
fn hue_distance(a: f32, b: f32) -> f32 {
    let d = (a - b).abs() % 360.0;
    d.min(360.0 - d)
}

impl Palette {
    /// Prepares `colors` (labels `1..=n` in this order) and the background (label 0).
    pub fn new(colors: &[ManifestColor], background: [u8; 3], params: ClassifyParams) -> Self {
        let mut achromatic = Vec::new();
        let mut chromatic = Vec::new();
        let all = std::iter::once((BACKGROUND, background)).chain(
            colors
                .iter()
                .enumerate()
                .map(|(i, c)| (i as u16 + 1, c.rgb)),
        );
        for (label, rgb) in all {
            let rgb = rgb.map(f32::from);
            let (max, sat) = saturation(rgb);
            let entry = Entry {
                label,
                rgb,
                hue: hue(rgb),
            };
            if max < f32::from(params.dark_level) || sat < params.min_saturation {
                achromatic.push(entry);
            } else {
                chromatic.push(entry);
            }
        }
        Self {
            achromatic,
            chromatic,
            params,
            names: colors.iter().map(|c| c.name.clone()).collect(),
        }
    }

    /// Names of the objects, label `i + 1` for name `i`.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether object `index` (0-based in the table) has a saturated colour, the
    /// kind this classifier tells apart reliably under shading.
    pub fn is_chromatic(&self, index: usize) -> bool {
        let label = index as u16 + 1;
        self.chromatic.iter().any(|e| e.label == label)
    }

    /// The label of one pixel.
    pub fn classify_pixel(&self, px: [u8; 3]) -> u16 {
        let rgb = px.map(f32::from);
        let (max, sat) = saturation(rgb);
        if max < f32::from(self.params.dark_level) || sat < self.params.min_saturation {
            return self
                .achromatic
                .iter()
                .map(|e| {
                    let d: f32 = (0..3).map(|k| (rgb[k] - e.rgb[k]).powi(2)).sum();
                    (d, e.label)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map_or(BACKGROUND, |(_, label)| label);
        }
        let h = hue(rgb);
        self.chromatic
            .iter()
            .map(|e| (hue_distance(h, e.hue), e.label))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|(d, _)| *d <= self.params.max_hue_distance)
            .map_or(UNCLASSIFIED, |(_, label)| label)
    }

    /// Labels of every pixel of a `[H, W, 3]` frame whose length was checked.
    pub fn classify(&self, frame: &[u8]) -> Vec<u16> {
        frame
            .chunks_exact(3)
            .map(|p| self.classify_pixel([p[0], p[1], p[2]]))
            .collect()
    }
}
