//! The viewer's own picture of a rollout: the scene's objects with a pose per
//! step, the scenario camera, the dreamed and physics frames, and the per-step
//! metrics. The reader ([`crate::reader`]) fills it from a rollout directory;
//! the Bevy app only ever sees this type, so it does not depend on the file
//! format's details.

use crate::ViewerError;

/// An RGB u8 image, row-major `[height, width, 3]`, row 0 at the top.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbFrame {
    pub width: u32,
    pub height: u32,
    /// `height * width * 3` bytes.
    pub data: Vec<u8>,
}

impl RgbFrame {
    /// A frame of `width x height` from `data` (`[height, width, 3]`), checked for size.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Result<Self, ViewerError> {
        let expected = width as usize * height as usize * 3;
        if data.len() != expected || width == 0 || height == 0 {
            return Err(ViewerError::Inconsistent(format!(
                "a {width}x{height} RGB frame needs {expected} bytes, got {}",
                data.len()
            )));
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// The pixel at column `x`, row `y`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

/// The geometry of one collider in its local frame (centred at its pose).
#[derive(Clone, Debug, PartialEq)]
pub enum ObjectShape {
    /// A sphere of `radius`.
    Ball { radius: f32 },
    /// A box with `half_extents` `[x, y, z]`.
    Cuboid { half_extents: [f32; 3] },
    /// A cylinder along the local `y` axis.
    Cylinder { half_height: f32, radius: f32 },
    /// A segment from `a` to `b` (local coordinates) swept by a sphere of `radius`.
    Capsule {
        a: [f32; 3],
        b: [f32; 3],
        radius: f32,
    },
}

/// One drawn object of the scene.
#[derive(Clone, Debug, PartialEq)]
pub struct SceneObjectView {
    /// The colour table's name, e.g. `ball0` or `walls`.
    pub name: String,
    /// The scenario's flat colour of the object.
    pub rgb: [u8; 3],
    /// Whether it moves during the rollout.
    pub dynamic: bool,
    pub shape: ObjectShape,
}

/// A world pose: translation in metres (`+y` up) and a unit quaternion `[x, y, z, w]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    pub translation: [f32; 3],
    pub rotation: [f32; 4],
}

/// The camera the scenario renders its frames with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CameraView {
    pub eye: [f32; 3],
    pub target: [f32; 3],
    pub up: [f32; 3],
    pub fov_y_deg: f32,
}

/// Orthonormal axes of a [`CameraView`]: right, up, forward (the scenario renderer's convention).
fn camera_basis(c: &CameraView) -> ([f32; 3], [f32; 3], [f32; 3]) {
    let sub = |a: [f32; 3], b: [f32; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    let cross = |a: [f32; 3], b: [f32; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let normalize = |v: [f32; 3], fallback: [f32; 3]| {
        let n = dot(v, v).sqrt();
        if n > 1e-9 {
            v.map(|x| x / n)
        } else {
            fallback
        }
    };
    let forward = normalize(sub(c.target, c.eye), [0.0, 0.0, -1.0]);
    let right = normalize(cross(forward, c.up), [1.0, 0.0, 0.0]);
    let up = cross(right, forward);
    (right, up, forward)
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

impl CameraView {
    /// Continuous pixel coordinates `[column, row]` of a world point in a
    /// `width x height` frame; `None` behind the camera.
    pub fn project(&self, point: [f32; 3], width: u32, height: u32) -> Option<[f32; 2]> {
        let (right, up, forward) = camera_basis(self);
        let d = [0, 1, 2].map(|i| point[i] - self.eye[i]);
        let z = dot(d, forward);
        if z <= 1e-4 {
            return None;
        }
        let tan = (self.fov_y_deg.to_radians() * 0.5).tan();
        let aspect = width as f32 / height.max(1) as f32;
        let nx = dot(d, right) / (z * tan * aspect);
        let ny = dot(d, up) / (z * tan);
        Some([
            (nx + 1.0) * 0.5 * width as f32,
            (1.0 - ny) * 0.5 * height as f32,
        ])
    }

    /// The world point at height `y` seen at pixel `[column, row]` of a
    /// `width x height` frame: where a centroid found in a frame lies in 3D,
    /// for objects that stay at one height. `None` when the ray misses that plane.
    pub fn unproject_to_height(
        &self,
        pixel: [f32; 2],
        width: u32,
        height: u32,
        y: f32,
    ) -> Option<[f32; 3]> {
        let (right, up, forward) = camera_basis(self);
        let tan = (self.fov_y_deg.to_radians() * 0.5).tan();
        let aspect = width as f32 / height.max(1) as f32;
        let nx = pixel[0] / width as f32 * 2.0 - 1.0;
        let ny = 1.0 - pixel[1] / height as f32 * 2.0;
        let dir = [0, 1, 2].map(|i| forward[i] + right[i] * nx * tan * aspect + up[i] * ny * tan);
        if dir[1].abs() < 1e-6 {
            return None;
        }
        let t = (y - self.eye[1]) / dir[1];
        if !(t.is_finite() && t > 0.0) {
            return None;
        }
        Some([0, 1, 2].map(|i| self.eye[i] + t * dir[i]))
    }
}

/// One per-step metric, e.g. position error in metres.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSeries {
    /// Short name shown in the HUD, e.g. `pos err`.
    pub name: String,
    /// Unit shown after the value (may be empty).
    pub unit: String,
    /// Digits after the decimal point in the HUD.
    pub decimals: usize,
    /// One value per step; NaN where the rollout has no value for the step.
    pub values: Vec<f32>,
}

/// Everything the viewer shows of one rollout.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutView {
    /// Scenario id, e.g. `bounce-v0`.
    pub scenario: String,
    /// Control steps per second, where the rollout records it.
    pub control_hz: Option<f32>,
    /// The drawn objects, in the order of the poses.
    pub objects: Vec<SceneObjectView>,
    /// `[steps][objects]`: the ground-truth pose of every object at every step.
    pub poses: Vec<Vec<Pose>>,
    /// The scenario's camera, where the rollout has one.
    pub camera: Option<CameraView>,
    /// `[steps]` dreamed frames.
    pub dream_frames: Vec<RgbFrame>,
    /// `[steps]` physics (ground-truth) frames.
    pub physics_frames: Vec<RgbFrame>,
    /// Per-step metrics, each with one value per step.
    pub metrics: Vec<MetricSeries>,
    /// `[steps][k]`: where the dream puts each object, in world coordinates, with its colour.
    pub predicted_centroids: Vec<Vec<([f32; 3], [u8; 3])>>,
}

impl RolloutView {
    /// Number of steps (frames) in the rollout.
    pub fn steps(&self) -> usize {
        self.physics_frames.len()
    }

    /// Check the parts agree: as many poses, dream frames and metric values as
    /// physics frames, one pose per object, frames of one size.
    pub fn validate(&self) -> Result<(), ViewerError> {
        let steps = self.steps();
        if steps == 0 {
            return Err(ViewerError::Inconsistent(
                "the rollout has no frames".into(),
            ));
        }
        let check = |what: &str, n: usize| {
            if n == steps {
                Ok(())
            } else {
                Err(ViewerError::Inconsistent(format!(
                    "{what} has {n} steps but there are {steps} physics frames"
                )))
            }
        };
        check("dream frames", self.dream_frames.len())?;
        check("poses", self.poses.len())?;
        for m in &self.metrics {
            check(&format!("metric '{}'", m.name), m.values.len())?;
        }
        if !self.predicted_centroids.is_empty() {
            check("predicted centroids", self.predicted_centroids.len())?;
        }
        if let Some(step) = self
            .poses
            .iter()
            .position(|p| p.len() != self.objects.len())
        {
            return Err(ViewerError::Inconsistent(format!(
                "step {step} has {} poses for {} objects",
                self.poses[step].len(),
                self.objects.len()
            )));
        }
        let first = &self.physics_frames[0];
        let size = (first.width, first.height);
        if let Some(f) = self
            .dream_frames
            .iter()
            .chain(&self.physics_frames)
            .find(|f| (f.width, f.height) != size)
        {
            return Err(ViewerError::Inconsistent(format!(
                "frames differ in size: {}x{} and {}x{}",
                size.0, size.1, f.width, f.height
            )));
        }
        Ok(())
    }

    /// The step, or an error naming the valid range.
    pub fn check_step(&self, step: usize) -> Result<usize, ViewerError> {
        if step < self.steps() {
            Ok(step)
        } else {
            Err(ViewerError::StepOutOfRange {
                step,
                steps: self.steps(),
            })
        }
    }

    /// The flat colours of the objects that move (the ones a screenshot check looks for).
    pub fn dynamic_colors(&self) -> Vec<[u8; 3]> {
        let mut colors: Vec<[u8; 3]> = Vec::new();
        for o in self.objects.iter().filter(|o| o.dynamic) {
            if !colors.contains(&o.rgb) {
                colors.push(o.rgb);
            }
        }
        colors
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A two-step rollout of one red ball over a grey floor, for tests.
    pub(crate) fn tiny_rollout() -> RolloutView {
        let frame = |shift: u8| {
            let mut data = vec![40u8; 8 * 8 * 3];
            data[(3 * 8 + 3) * 3] = 200 + shift;
            RgbFrame::new(8, 8, data).unwrap()
        };
        let pose = |x: f32| Pose {
            translation: [x, 0.1, 0.0],
            rotation: [0.0, 0.0, 0.0, 1.0],
        };
        RolloutView {
            scenario: "bounce-v0".into(),
            control_hz: Some(15.0),
            objects: vec![
                SceneObjectView {
                    name: "floor".into(),
                    rgb: [60, 60, 64],
                    dynamic: false,
                    shape: ObjectShape::Cuboid {
                        half_extents: [1.0, 0.05, 1.0],
                    },
                },
                SceneObjectView {
                    name: "ball0".into(),
                    rgb: [220, 60, 50],
                    dynamic: true,
                    shape: ObjectShape::Ball { radius: 0.1 },
                },
            ],
            poses: vec![vec![pose(0.0), pose(0.0)], vec![pose(0.0), pose(0.2)]],
            camera: None,
            dream_frames: vec![frame(0), frame(10)],
            physics_frames: vec![frame(0), frame(0)],
            metrics: vec![MetricSeries {
                name: "pos err".into(),
                unit: "m".into(),
                decimals: 3,
                values: vec![0.0, 0.05],
            }],
            predicted_centroids: vec![],
        }
    }

    #[test]
    fn a_consistent_rollout_validates() {
        let r = tiny_rollout();
        r.validate().unwrap();
        assert_eq!(r.steps(), 2);
        assert_eq!(r.dynamic_colors(), vec![[220, 60, 50]]);
    }

    #[test]
    fn mismatched_lengths_are_named() {
        let mut r = tiny_rollout();
        r.dream_frames.pop();
        let err = r.validate().unwrap_err().to_string();
        assert!(err.contains("dream frames has 1 steps"), "{err}");

        let mut r = tiny_rollout();
        r.poses[1].pop();
        let err = r.validate().unwrap_err().to_string();
        assert!(err.contains("step 1 has 1 poses for 2 objects"), "{err}");
    }

    #[test]
    fn frames_of_wrong_size_are_rejected() {
        assert!(RgbFrame::new(2, 2, vec![0; 11]).is_err());
        let mut r = tiny_rollout();
        r.dream_frames[0] = RgbFrame::new(2, 2, vec![0; 12]).unwrap();
        assert!(r.validate().is_err());
    }

    #[test]
    fn unprojecting_a_projected_point_finds_it_again() {
        let camera = CameraView {
            eye: [0.0, 3.0, 2.5],
            target: [0.0, 0.0, 0.0],
            up: [0.0, 1.0, 0.0],
            fov_y_deg: 50.0,
        };
        let point = [0.4, 0.1, -0.3];
        let pixel = camera.project(point, 64, 64).unwrap();
        let back = camera.unproject_to_height(pixel, 64, 64, 0.1).unwrap();
        for i in 0..3 {
            assert!((back[i] - point[i]).abs() < 1e-4, "{back:?}");
        }
        // A plane above the camera is not seen through the frame.
        assert!(camera
            .unproject_to_height([32.0, 32.0], 64, 64, 10.0)
            .is_none());
    }

    #[test]
    fn step_out_of_range_names_the_range() {
        let r = tiny_rollout();
        assert_eq!(r.check_step(1).unwrap(), 1);
        let err = r.check_step(5).unwrap_err().to_string();
        assert!(err.contains("step 5") && err.contains("0..=1"), "{err}");
    }
}
