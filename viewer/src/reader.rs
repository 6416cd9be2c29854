//! Reads a rollout directory with `somnium_env::rollout::read` (format in
//! `docs/rollout.md`) and turns it into the viewer's [`RolloutView`]: frames
//! split per step, scene poses per step, the metrics the HUD shows, and the
//! dream's pixel centroids lifted into the 3D scene.

use std::path::Path;

use somnium_env::rollout::{self, Rollout, META_FILE};
use somnium_scenarios::SceneShape;

use crate::model::{CameraView, MetricSeries, ObjectShape, Pose, RgbFrame, SceneObjectView};
use crate::{RolloutView, ViewerError};

/// Open the rollout at `dir`: a clear error when it is missing or malformed.
pub fn read_rollout(dir: &Path) -> Result<RolloutView, ViewerError> {
    if !dir.is_dir() {
        return Err(ViewerError::MissingRollout {
            path: dir.to_path_buf(),
            reason: "not a directory (expected rollout.json + rollout.safetensors)".into(),
        });
    }
    if !dir.join(META_FILE).is_file() {
        return Err(ViewerError::MissingRollout {
            path: dir.to_path_buf(),
            reason: format!("it has no {META_FILE}"),
        });
    }
    let rollout = rollout::read(dir).map_err(|e| ViewerError::MalformedRollout {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let view = view_of(&rollout)?;
    view.validate()?;
    Ok(view)
}

fn object_shape(shape: &SceneShape) -> ObjectShape {
    match *shape {
        SceneShape::Ball { radius } => ObjectShape::Ball { radius },
        SceneShape::Cuboid { half_extents } | SceneShape::Other { half_extents } => {
            ObjectShape::Cuboid { half_extents }
        }
        SceneShape::Cylinder {
            half_height,
            radius,
        } => ObjectShape::Cylinder {
            half_height,
            radius,
        },
        SceneShape::Capsule { a, b, radius } => ObjectShape::Capsule { a, b, radius },
    }
}

/// Split `[T, ...]` data into `T` chunks of `len`.
fn per_step<T: Copy>(data: &[T], len: usize) -> Vec<&[T]> {
    if len == 0 {
        return Vec::new();
    }
    data.chunks_exact(len).collect()
}

/// The viewer's picture of a rollout the env's reader has validated.
pub fn view_of(r: &Rollout) -> Result<RolloutView, ViewerError> {
    let meta = &r.meta;
    let (w, h) = (meta.width as u32, meta.height as u32);
    let frame_len = meta.width * meta.height * 3;
    let frames = |data: &[u8]| -> Result<Vec<RgbFrame>, ViewerError> {
        per_step(data, frame_len)
            .into_iter()
            .map(|f| RgbFrame::new(w, h, f.to_vec()))
            .collect()
    };
    let objects: Vec<SceneObjectView> = meta
        .scene
        .objects
        .iter()
        .map(|o| SceneObjectView {
            name: o.name.clone(),
            rgb: o.rgb,
            dynamic: o.dynamic,
            shape: object_shape(&o.shape),
        })
        .collect();
    let k = objects.len();
    let translations = per_step(&r.scene_translations, 3 * k);
    let rotations = per_step(&r.scene_rotations, 4 * k);
    let poses: Vec<Vec<Pose>> = (0..meta.steps)
        .map(|t| {
            (0..k)
                .map(|i| Pose {
                    translation: translations
                        .get(t)
                        .map_or([0.0; 3], |p| [p[3 * i], p[3 * i + 1], p[3 * i + 2]]),
                    rotation: rotations.get(t).map_or([0.0, 0.0, 0.0, 1.0], |q| {
                        [q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3]]
                    }),
                })
                .collect()
        })
        .collect();
    let camera = meta.scene.camera.as_ref().map(|c| CameraView {
        eye: c.eye,
        target: c.target,
        up: c.up,
        fov_y_deg: c.fov_y_deg,
    });
    // Objects physics shows (the colour table may list more than the episode has).
    let shown = meta
        .metrics
        .iter()
        .map(|m| m.area_ratio.iter().filter(|a| a.is_some()).count())
        .max()
        .unwrap_or(0);
    let metrics = vec![
        MetricSeries {
            name: "centroid error".into(),
            unit: "px".into(),
            decimals: 2,
            values: meta
                .metrics
                .iter()
                .map(|m| m.centroid_error_px.unwrap_or(f32::NAN))
                .collect(),
        },
        MetricSeries {
            name: "objects kept".into(),
            unit: format!("of {shown}"),
            decimals: 0,
            values: meta
                .metrics
                .iter()
                .map(|m| m.kept.iter().filter(|k| **k).count() as f32)
                .collect(),
        },
        MetricSeries {
            name: "PSNR".into(),
            unit: "dB".into(),
            decimals: 1,
            values: meta.metrics.iter().map(|m| m.psnr_db).collect(),
        },
    ];
    let predicted_centroids = lift_centroids(r, &poses, camera);
    Ok(RolloutView {
        scenario: meta.scenario.clone(),
        control_hz: Some(meta.control_hz),
        objects,
        poses,
        camera,
        dream_frames: frames(&r.dream_frames)?,
        physics_frames: frames(&r.physics_frames)?,
        metrics,
        predicted_centroids,
    })
}

/// The dream's pixel centroids placed in the scene: each on the horizontal
/// plane at its object's true height (the scene object of the same name), in
/// the object's colour. Empty without a camera.
fn lift_centroids(
    r: &Rollout,
    poses: &[Vec<Pose>],
    camera: Option<CameraView>,
) -> Vec<Vec<([f32; 3], [u8; 3])>> {
    let Some(camera) = camera else {
        return Vec::new();
    };
    let meta = &r.meta;
    let (w, h) = (meta.width as u32, meta.height as u32);
    let tracked = meta.objects.len();
    let scene_index: Vec<Option<usize>> = meta
        .objects
        .iter()
        .map(|name| meta.scene.objects.iter().position(|o| &o.name == name))
        .collect();
    let color: Vec<[u8; 3]> = meta
        .objects
        .iter()
        .map(|name| {
            meta.colors
                .objects
                .iter()
                .find(|c| &c.name == name)
                .map_or([255, 255, 255], |c| c.rgb)
        })
        .collect();
    per_step(&r.dream_centroids, 2 * tracked)
        .into_iter()
        .enumerate()
        .map(|(t, centroids)| {
            (0..tracked)
                .filter_map(|o| {
                    let pixel = [centroids[2 * o], centroids[2 * o + 1]];
                    if !(pixel[0].is_finite() && pixel[1].is_finite()) {
                        return None;
                    }
                    let y = scene_index[o]
                        .and_then(|i| poses.get(t)?.get(i))
                        .map_or(0.0, |p| p.translation[1]);
                    let at = camera.unproject_to_height(pixel, w, h, y)?;
                    Some((at, color[o]))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_and_a_missing_meta_file_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_rollout(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("no rollout at") && err.contains("nope"),
            "{err}"
        );
        let err = read_rollout(dir.path()).unwrap_err().to_string();
        assert!(err.contains("has no rollout.json"), "{err}");
    }

    #[test]
    fn malformed_json_is_reported_not_panicked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(META_FILE), "{ not json").unwrap();
        let err = read_rollout(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("malformed rollout at"), "{err}");
    }
}
