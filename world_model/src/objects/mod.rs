//! The object extractor: finds each object of a scenario's colour table in a frame
//! (true or dreamed) and measures it: presence, pixel area, centroid, number of
//! connected blobs. The metrics compare these measures between a dreamed frame and
//! the true one.
//!
//! Pixels are classified by hue and saturation (see [`Palette`]), so shading does not
//! matter and the blur a model produces either keeps an object's hue or drops to
//! the background. Objects are meant to have saturated colours (balls, cubes,
//! links); grey objects (floors, walls) are separated from the background only by
//! their RGB distance, which shading disturbs.
//!
//! "Kept" ([`ObjectMeasure::is_kept`]): the predicted object is one blob whose area
//! is 0.5 to 2 times the true area, where specks smaller than [`SPECK_FRACTION`] of
//! the true area are not counted as blobs (a dreamed frame often has a few stray
//! pixels of an object's hue at its edge) but do count in the total area, which
//! must also stay under twice the true area.

mod classify;

#[cfg(test)]
pub(crate) mod synth;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use classify::{ClassifyParams, Palette, BACKGROUND, UNCLASSIFIED};

use crate::data::ManifestColor;
use crate::eval_error::{check_frame, EvalError};

/// Blobs smaller than this fraction of the true area are specks, not blobs.
pub const SPECK_FRACTION: f64 = 0.1;

/// What the extractor found of one object in one frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectMeasure {
    pub name: String,
    /// At least one pixel has the object's colour.
    pub present: bool,
    /// Mean position of the object's pixels, in pixels, pixel centres at `i + 0.5`
    /// (x to the right, y down); `None` when absent.
    pub centroid_xy: Option<[f32; 2]>,
    /// Number of pixels of the object's colour.
    pub area: usize,
    /// Number of 8-connected blobs, specks included.
    pub blobs: usize,
    /// Area of the largest blob.
    pub largest_blob_area: usize,
    /// Every blob's area, largest first.
    pub blob_areas: Vec<usize>,
}

impl ObjectMeasure {
    /// Blobs of at least `min_area` pixels.
    pub fn blobs_of_at_least(&self, min_area: usize) -> usize {
        self.blob_areas.iter().filter(|&&a| a >= min_area).count()
    }

    /// Whether this (predicted) object is kept relative to a true area: present,
    /// one blob once specks under `SPECK_FRACTION * true_area` are ignored, that
    /// blob 0.5 to 2 times the true area and the total area at most twice it.
    /// `false` when the true area is 0 (nothing to keep).
    pub fn is_kept(&self, true_area: usize) -> bool {
        if true_area == 0 || !self.present {
            return false;
        }
        let speck = (SPECK_FRACTION * true_area as f64).ceil() as usize;
        let t = true_area as f64;
        let ratio = self.largest_blob_area as f64 / t;
        self.blobs_of_at_least(speck.max(1)) == 1
            && (0.5..=2.0).contains(&ratio)
            && self.area as f64 <= 2.0 * t
    }

    /// Distance in pixels between two centroids, when both objects are present.
    pub fn centroid_distance(&self, other: &ObjectMeasure) -> Option<f32> {
        let (a, b) = (self.centroid_xy?, other.centroid_xy?);
        Some((a[0] - b[0]).hypot(a[1] - b[1]))
    }
}

/// An extractor for frames of one size and colour table (build it once, reuse it).
pub struct Extractor {
    palette: Palette,
    height: usize,
    width: usize,
}

impl Extractor {
    /// Prepares the colour table for `height x width` frames.
    pub fn new(
        height: usize,
        width: usize,
        colors: &[ManifestColor],
        background: [u8; 3],
        params: ClassifyParams,
    ) -> Self {
        Self {
            palette: Palette::new(colors, background, params),
            height,
            width,
        }
    }

    /// The prepared colour table.
    pub fn palette(&self) -> &Palette {
        &self.palette
    }

    /// `(height, width)` of the frames this extractor takes.
    pub fn frame_size(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    /// Per-pixel labels of a `[H, W, 3]` frame: [`BACKGROUND`], `i + 1` for object
    /// `i`, or [`UNCLASSIFIED`].
    pub fn labels(&self, frame: &[u8]) -> Result<Vec<u16>, EvalError> {
        check_frame(|| "frame".to_string(), frame, self.height, self.width)?;
        Ok(self.palette.classify(frame))
    }

    /// Measures every object of the table in a `[H, W, 3]` frame, in table order.
    pub fn extract(&self, frame: &[u8]) -> Result<Vec<ObjectMeasure>, EvalError> {
        let labels = self.labels(frame)?;
        Ok(self.measure(&labels))
    }

    /// Measures every object from a label image made by [`Extractor::labels`].
    pub fn measure(&self, labels: &[u16]) -> Vec<ObjectMeasure> {
        let n = self.palette.names().len();
        let mut sums = vec![(0usize, 0f64, 0f64); n];
        for (i, &label) in labels.iter().enumerate() {
            let l = label as usize;
            if l == 0 || l > n {
                continue;
            }
            let s = &mut sums[l - 1];
            s.0 += 1;
            s.1 += (i % self.width) as f64 + 0.5;
            s.2 += (i / self.width) as f64 + 0.5;
        }
        let blobs = blob_areas(labels, self.height, self.width, n);
        self.palette
            .names()
            .iter()
            .zip(sums)
            .zip(blobs)
            .map(|((name, (area, sx, sy)), blob_areas)| ObjectMeasure {
                name: name.clone(),
                present: area > 0,
                centroid_xy: (area > 0)
                    .then(|| [(sx / area as f64) as f32, (sy / area as f64) as f32]),
                area,
                blobs: blob_areas.len(),
                largest_blob_area: blob_areas.first().copied().unwrap_or(0),
                blob_areas,
            })
            .collect()
    }
}

/// Measures every object of `colors` in one `[height, width, 3]` frame with the
/// default thresholds (build an [`Extractor`] to measure many frames).
pub fn extract(
    frame: &[u8],
    height: usize,
    width: usize,
    colors: &[ManifestColor],
    background: [u8; 3],
) -> Result<Vec<ObjectMeasure>, EvalError> {
    Extractor::new(height, width, colors, background, ClassifyParams::default()).extract(frame)
}

/// Areas of the 8-connected blobs of each label `1..=labels` (index `label - 1`),
/// each list sorted largest first. Labels outside `1..=labels` are ignored.
pub fn blob_areas(
    labels_img: &[u16],
    height: usize,
    width: usize,
    labels: usize,
) -> Vec<Vec<usize>> {
    let mut areas = vec![Vec::new(); labels];
    let mut seen = vec![false; labels_img.len()];
    let mut stack = Vec::new();
    for start in 0..labels_img.len().min(height * width) {
        let label = labels_img[start] as usize;
        if seen[start] || label == 0 || label > labels {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut area = 0;
        while let Some(i) = stack.pop() {
            area += 1;
            let (row, col) = (i / width, i % width);
            for dr in -1i64..=1 {
                for dc in -1i64..=1 {
                    let (r, c) = (row as i64 + dr, col as i64 + dc);
                    if r < 0 || c < 0 || r >= height as i64 || c >= width as i64 {
                        continue;
                    }
                    let j = r as usize * width + c as usize;
                    if !seen[j] && labels_img[j] as usize == label {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        areas[label - 1].push(area);
    }
    for list in &mut areas {
        list.sort_unstable_by(|a, b| b.cmp(a));
    }
    areas
}
