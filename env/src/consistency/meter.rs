//! [`FrameMeter`]: one dreamed frame against its physics twin, from pixels alone:
//! each tracked object's centroid (found by its colour), centroid error, whether
//! the dream keeps the object (one blob of 0.5 to 2 times its true area), area
//! ratio, whether it stays in the arena, and the frame's PSNR.

use somnium_scenarios::ColorTable;
use somnium_world_model::data::ManifestColor;
use somnium_world_model::metrics::{psnr, KEPT_IOU};
use somnium_world_model::objects::{
    ClassifyParams, Extractor, ObjectMeasure, BACKGROUND, UNCLASSIFIED,
};

use crate::rollout::StepMetrics;
use crate::EnvError;

/// How far (pixels) a centroid may sit outside the arena rectangle and still count as inside.
const ARENA_TOLERANCE_PX: f32 = 1.5;

/// The colour table as the world model's measuring code takes it.
pub fn manifest_colors(colors: &ColorTable) -> Vec<ManifestColor> {
    colors
        .objects
        .iter()
        .map(|o| ManifestColor {
            name: o.name.clone(),
            rgb: o.rgb,
            dynamic: o.dynamic,
        })
        .collect()
}

/// Measures pairs of frames of one size and colour table.
pub struct FrameMeter {
    extractor: Extractor,
    /// Table indices of the tracked (dynamic) objects.
    tracked: Vec<usize>,
    names: Vec<String>,
    arena_px: Option<[f32; 4]>,
    frame_len: usize,
}

/// The measures of one frame pair.
pub struct FramePair {
    pub metrics: StepMetrics,
    /// Per tracked object, `[x, y]` pixels or NaN where absent.
    pub dream_centroids: Vec<[f32; 2]>,
    pub physics_centroids: Vec<[f32; 2]>,
}

fn centroid_or_nan(m: &ObjectMeasure) -> [f32; 2] {
    m.centroid_xy.unwrap_or([f32::NAN, f32::NAN])
}

impl FrameMeter {
    /// Tracks every dynamic object of `colors` in `height x width` frames.
    pub fn new(
        colors: &ColorTable,
        height: usize,
        width: usize,
        arena_px: Option<[f32; 4]>,
    ) -> Self {
        let table = manifest_colors(colors);
        let tracked: Vec<usize> = (0..table.len()).filter(|&i| table[i].dynamic).collect();
        let names = tracked.iter().map(|&i| table[i].name.clone()).collect();
        Self {
            extractor: Extractor::new(
                height,
                width,
                &table,
                colors.background,
                ClassifyParams::default(),
            ),
            tracked,
            names,
            arena_px,
            frame_len: height * width * 3,
        }
    }

    /// Names of the tracked objects.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Each tracked object's measure in `frame` `[H, W, 3]` u8.
    pub fn objects(&self, frame: &[u8]) -> Result<Vec<ObjectMeasure>, EnvError> {
        let all = self.extractor.extract(frame)?;
        Ok(self.tracked.iter().map(|&i| all[i].clone()).collect())
    }

    /// Share of the pixels of `frame` that show the scene behind the moving
    /// objects: the background colour or a static object (floor, walls).
    pub fn background_share(&self, frame: &[u8]) -> Result<f32, EnvError> {
        let labels = self.extractor.labels(frame)?;
        let is_static = |l: u16| {
            l == BACKGROUND || (l != UNCLASSIFIED && !self.tracked.contains(&(l as usize - 1)))
        };
        let bg = labels.iter().filter(|&&l| is_static(l)).count();
        Ok(bg as f32 / labels.len().max(1) as f32)
    }

    /// Per tracked object present in `physics`, whether `dream` keeps it: the IoU
    /// of its two masks at least [`KEPT_IOU`] (the evaluator's definition); `false`
    /// where physics does not show it either.
    pub fn kept_iou(&self, dream: &[u8], physics: &[u8]) -> Result<Vec<bool>, EnvError> {
        let (d, p) = (
            self.extractor.labels(dream)?,
            self.extractor.labels(physics)?,
        );
        Ok(self
            .tracked
            .iter()
            .map(|&i| {
                let l = (i + 1) as u16;
                let (mut both, mut either) = (0usize, 0usize);
                for (&a, &b) in d.iter().zip(&p) {
                    both += usize::from(a == l && b == l);
                    either += usize::from(a == l || b == l);
                }
                either > 0 && both as f64 >= KEPT_IOU * either as f64
            })
            .collect())
    }

    /// Whether a centroid lies inside the arena (always, where there is none).
    pub fn in_arena(&self, c: [f32; 2]) -> bool {
        self.arena_px.is_none_or(|[x0, y0, x1, y1]| {
            let t = ARENA_TOLERANCE_PX;
            c[0] >= x0 - t && c[0] <= x1 + t && c[1] >= y0 - t && c[1] <= y1 + t
        })
    }

    /// Measures `dream` against `physics` (both `[H, W, 3]` u8) at `step`.
    pub fn measure(
        &self,
        step: usize,
        dream: &[u8],
        physics: &[u8],
    ) -> Result<FramePair, EnvError> {
        if dream.len() != self.frame_len || physics.len() != self.frame_len {
            return Err(EnvError::BadConfig(format!(
                "frames of {} and {} bytes, the meter takes {}",
                dream.len(),
                physics.len(),
                self.frame_len
            )));
        }
        let d = self.objects(dream)?;
        let p = self.objects(physics)?;
        let object_error_px: Vec<Option<f32>> = d
            .iter()
            .zip(&p)
            .map(|(a, b)| a.centroid_distance(b))
            .collect();
        let found: Vec<f32> = object_error_px.iter().flatten().copied().collect();
        let metrics = StepMetrics {
            step,
            psnr_db: psnr(dream, physics) as f32,
            centroid_error_px: (!found.is_empty())
                .then(|| found.iter().sum::<f32>() / found.len() as f32),
            object_error_px,
            kept: d.iter().zip(&p).map(|(a, b)| a.is_kept(b.area)).collect(),
            area_ratio: d
                .iter()
                .zip(&p)
                .map(|(a, b)| (b.area > 0).then(|| a.area as f32 / b.area as f32))
                .collect(),
            in_arena: d
                .iter()
                .filter_map(|m| m.centroid_xy)
                .all(|c| self.in_arena(c)),
        };
        Ok(FramePair {
            metrics,
            dream_centroids: d.iter().map(centroid_or_nan).collect(),
            physics_centroids: p.iter().map(centroid_or_nan).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use somnium_scenarios::make;

    use super::*;

    fn bounce_frame(seed: u64) -> (FrameMeter, Vec<u8>) {
        let mut s = make("bounce-v0", "id").unwrap();
        s.reset(seed);
        let frame = s.render(64, 64);
        (
            FrameMeter::new(&s.colors(), 64, 64, s.arena_px(64, 64)),
            frame.data,
        )
    }

    /// `frame` moved right by `dx` pixels, the background filling the gap.
    fn shifted(frame: &[u8], dx: usize, background: [u8; 3]) -> Vec<u8> {
        let mut out = background.repeat(64 * 64);
        for y in 0..64 {
            for x in dx..64 {
                let (src, dst) = ((y * 64 + x - dx) * 3, (y * 64 + x) * 3);
                out[dst..dst + 3].copy_from_slice(&frame[src..src + 3]);
            }
        }
        out
    }

    #[test]
    fn physics_against_itself_has_zero_error_and_keeps_everything() {
        let (meter, frame) = bounce_frame(4);
        let pair = meter.measure(0, &frame, &frame).unwrap();
        assert_eq!(pair.metrics.centroid_error_px, Some(0.0));
        assert!(pair.metrics.kept.iter().all(|&k| k));
        assert!(pair.metrics.in_arena);
        assert!(pair.metrics.psnr_db >= 99.0);
    }

    #[test]
    fn a_known_shift_gives_that_error() {
        let (meter, frame) = bounce_frame(4);
        let mut s = make("bounce-v0", "id").unwrap();
        s.reset(4);
        let moved = shifted(&frame, 3, s.colors().background);
        let pair = meter.measure(0, &moved, &frame).unwrap();
        // balls well inside the frame move by exactly 3 pixels (walls are not tracked)
        for (e, d) in pair
            .metrics
            .object_error_px
            .iter()
            .zip(&pair.dream_centroids)
        {
            if d[0] < 60.0 {
                let e = e.unwrap();
                assert!((e - 3.0).abs() < 0.3, "error {e}");
            }
        }
    }
}
