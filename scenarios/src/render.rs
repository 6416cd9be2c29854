//! The software ray-cast renderer: one ray per pixel from a perspective [`Camera`],
//! cast against rapier's own colliders, shaded ambient + Lambert from one
//! directional light on one flat colour per object.
//!
//! Speed: the colliders that never move (floor, walls, markers) are ray cast once per
//! frame size and episode and cached as colour + depth. Each frame then only casts
//! rays inside the screen-space box of each moving collider's projected AABB, against
//! that collider alone, keeping the hit when it is nearer than the cached depth.

use std::sync::Mutex;

use rapier3d::prelude::*;
use serde::{Deserialize, Serialize};

use crate::world::PhysicsCore;
use crate::{ColorTable, Frame};

/// A perspective pinhole camera. Pixel `(0, 0)` is the top-left corner of the frame;
/// pixel centres sit at `i + 0.5`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    /// Camera position in world coordinates (metres, `+y` up).
    pub eye: [f32; 3],
    /// The point the camera looks at (the centre of the frame).
    pub target: [f32; 3],
    /// The world direction that shows as "up" in the frame.
    pub up: [f32; 3],
    /// Vertical field of view in degrees.
    pub fov_y_deg: f32,
}

/// Orthonormal camera axes: right, up and forward.
#[derive(Clone, Copy)]
struct Basis {
    right: Vector,
    up: Vector,
    forward: Vector,
    tan_half_fov: f32,
}

impl Camera {
    /// A camera at `eye` looking at `target` with `up` showing as up.
    pub fn look_at(eye: [f32; 3], target: [f32; 3], up: [f32; 3], fov_y_deg: f32) -> Self {
        Self {
            eye,
            target,
            up,
            fov_y_deg,
        }
    }

    fn basis(&self) -> Basis {
        let forward =
            (Vector::from(self.target) - Vector::from(self.eye)).normalize_or(Vector::NEG_Z);
        let right = forward.cross(Vector::from(self.up)).normalize_or(Vector::X);
        let up = right.cross(forward);
        Basis {
            right,
            up,
            forward,
            tan_half_fov: (self.fov_y_deg.to_radians() * 0.5).tan(),
        }
    }

    /// Project a world point to continuous pixel coordinates `[column, row]` in a
    /// `width x height` frame; `None` when the point is behind the camera.
    pub fn project(&self, point: [f32; 3], width: usize, height: usize) -> Option<[f32; 2]> {
        self.project_with(&self.basis(), Vector::from(point), width, height)
    }

    fn project_with(&self, b: &Basis, p: Vector, width: usize, height: usize) -> Option<[f32; 2]> {
        let d = p - Vector::from(self.eye);
        let z = d.dot(b.forward);
        if z <= 1e-4 {
            return None;
        }
        let aspect = width as f32 / height.max(1) as f32;
        let nx = d.dot(b.right) / (z * b.tan_half_fov * aspect);
        let ny = d.dot(b.up) / (z * b.tan_half_fov);
        Some([
            (nx + 1.0) * 0.5 * width as f32,
            (1.0 - ny) * 0.5 * height as f32,
        ])
    }

    /// The unit direction of the ray through the centre of pixel `(column, row)`.
    fn ray_dir(b: &Basis, column: usize, row: usize, width: usize, height: usize) -> Vector {
        let aspect = width as f32 / height.max(1) as f32;
        let nx = ((column as f32 + 0.5) / width as f32) * 2.0 - 1.0;
        let ny = 1.0 - ((row as f32 + 0.5) / height as f32) * 2.0;
        (b.forward + b.right * (nx * b.tan_half_fov * aspect) + b.up * (ny * b.tan_half_fov))
            .normalize()
    }
}

/// Shading parameters: brightness = `ambient + diffuse * max(0, n . to_light)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lighting {
    /// Direction the light travels (towards the scene).
    pub direction: [f32; 3],
    pub ambient: f32,
    pub diffuse: f32,
}

impl Default for Lighting {
    fn default() -> Self {
        Self {
            direction: [-0.3, -1.0, -0.4],
            ambient: 0.55,
            diffuse: 0.45,
        }
    }
}

/// The ray-cast static layer of one frame size.
struct StaticLayer {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    depth: Vec<f32>,
    dirs: Vec<Vector>,
}

/// Renders a [`PhysicsCore`] through a camera; owns the static-layer cache.
pub(crate) struct Renderer {
    pub camera: Camera,
    pub lighting: Lighting,
    cache: Mutex<Option<StaticLayer>>,
}

impl Renderer {
    pub fn new(camera: Camera) -> Self {
        Self {
            camera,
            lighting: Lighting::default(),
            cache: Mutex::new(None),
        }
    }

    /// Forget the static layer (call when fixed colliders were rebuilt, e.g. on reset).
    pub fn invalidate(&mut self) {
        *self.cache.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn shade(&self, rgb: [u8; 3], normal: Vector, dir: Vector) -> [u8; 3] {
        let n = if normal.dot(dir) > 0.0 {
            -normal
        } else {
            normal
        };
        let to_light = -Vector::from(self.lighting.direction).normalize_or(Vector::NEG_Y);
        let k = self.lighting.ambient + self.lighting.diffuse * n.dot(to_light).max(0.0);
        rgb.map(|c| (c as f32 * k).round().clamp(0.0, 255.0) as u8)
    }

    fn build_static(
        &self,
        core: &PhysicsCore,
        colors: &ColorTable,
        width: usize,
        height: usize,
    ) -> StaticLayer {
        let basis = self.camera.basis();
        let origin = Vector::from(self.camera.eye);
        let n = width * height;
        let mut layer = StaticLayer {
            width,
            height,
            rgb: colors.background.repeat(n),
            depth: vec![f32::INFINITY; n],
            dirs: Vec::with_capacity(n),
        };
        for row in 0..height {
            for column in 0..width {
                layer
                    .dirs
                    .push(Camera::ray_dir(&basis, column, row, width, height));
            }
        }
        let statics: Vec<_> = core.drawables.iter().filter(|d| !d.moving).collect();
        for (i, dir) in layer.dirs.iter().enumerate() {
            let ray = Ray::new(origin, *dir);
            for d in &statics {
                let Some(co) = core.world.colliders.get(d.collider) else {
                    continue;
                };
                let max = if layer.depth[i].is_finite() {
                    layer.depth[i]
                } else {
                    Real::MAX
                };
                if let Some(hit) =
                    co.shape()
                        .cast_ray_and_get_normal(co.position(), &ray, max, true)
                {
                    if hit.time_of_impact < layer.depth[i] {
                        layer.depth[i] = hit.time_of_impact;
                        let rgb = colors
                            .objects
                            .get(d.object)
                            .map_or([255, 255, 255], |o| o.rgb);
                        layer.rgb[i * 3..i * 3 + 3]
                            .copy_from_slice(&self.shade(rgb, hit.normal, *dir));
                    }
                }
            }
        }
        layer
    }

    /// Render `width x height` RGB u8: cached static layer, then the moving colliders.
    pub fn render(
        &self,
        core: &PhysicsCore,
        colors: &ColorTable,
        width: usize,
        height: usize,
    ) -> Frame {
        if width == 0 || height == 0 {
            return Frame {
                width,
                height,
                data: Vec::new(),
            };
        }
        let mut guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if guard
            .as_ref()
            .is_none_or(|l| l.width != width || l.height != height)
        {
            *guard = Some(self.build_static(core, colors, width, height));
        }
        let Some(layer) = guard.as_ref() else {
            return Frame {
                width,
                height,
                data: colors.background.repeat(width * height),
            };
        };
        let mut data = layer.rgb.clone();
        let mut depth = layer.depth.clone();
        let basis = self.camera.basis();
        let origin = Vector::from(self.camera.eye);
        for d in core.drawables.iter().filter(|d| d.moving) {
            let Some(co) = core.world.colliders.get(d.collider) else {
                continue;
            };
            let [x0, y0, x1, y1] = self.screen_box(&basis, co, width, height);
            let rgb = colors
                .objects
                .get(d.object)
                .map_or([255, 255, 255], |o| o.rgb);
            for row in y0..y1 {
                for column in x0..x1 {
                    let i = row * width + column;
                    let dir = layer.dirs[i];
                    let ray = Ray::new(origin, dir);
                    let max = if depth[i].is_finite() {
                        depth[i]
                    } else {
                        Real::MAX
                    };
                    if let Some(hit) =
                        co.shape()
                            .cast_ray_and_get_normal(co.position(), &ray, max, true)
                    {
                        if hit.time_of_impact < depth[i] {
                            depth[i] = hit.time_of_impact;
                            data[i * 3..i * 3 + 3]
                                .copy_from_slice(&self.shade(rgb, hit.normal, dir));
                        }
                    }
                }
            }
        }
        Frame {
            width,
            height,
            data,
        }
    }

    /// Pixel box `[x0, y0, x1, y1)` that covers the collider's projected AABB
    /// (the whole frame when part of it is behind the camera).
    fn screen_box(&self, basis: &Basis, co: &Collider, width: usize, height: usize) -> [usize; 4] {
        let aabb = co.compute_aabb();
        let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for corner in 0..8 {
            let p = Vector::new(
                if corner & 1 == 0 {
                    aabb.mins.x
                } else {
                    aabb.maxs.x
                },
                if corner & 2 == 0 {
                    aabb.mins.y
                } else {
                    aabb.maxs.y
                },
                if corner & 4 == 0 {
                    aabb.mins.z
                } else {
                    aabb.maxs.z
                },
            );
            let Some(px) = self.camera.project_with(basis, p, width, height) else {
                return [0, 0, width, height];
            };
            for k in 0..2 {
                lo[k] = lo[k].min(px[k]);
                hi[k] = hi[k].max(px[k]);
            }
        }
        let clamp = |v: f32, max: usize| v.clamp(0.0, max as f32) as usize;
        [
            clamp(lo[0].floor(), width),
            clamp(lo[1].floor(), height),
            clamp(hi[0].ceil() + 1.0, width),
            clamp(hi[1].ceil() + 1.0, height),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projecting_the_target_lands_in_the_frame_centre() {
        let cam = Camera::look_at([0.0, 3.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, -1.0], 40.0);
        let p = cam.project([0.0, 0.0, 0.0], 64, 64).unwrap();
        assert!((p[0] - 32.0).abs() < 1e-3 && (p[1] - 32.0).abs() < 1e-3);
        // +x shows to the right, -z (the up vector) shows at the top.
        let right = cam.project([0.5, 0.0, 0.0], 64, 64).unwrap();
        let top = cam.project([0.0, 0.0, -0.5], 64, 64).unwrap();
        assert!(right[0] > 32.0 && top[1] < 32.0);
        assert!(cam.project([0.0, 5.0, 0.0], 64, 64).is_none());
    }

    #[test]
    fn a_ball_over_a_floor_is_drawn_in_its_colour_and_the_rest_is_background() {
        use crate::ObjectColor;
        let mut core = PhysicsCore::new(15.0, 1, Vector::ZERO);
        core.add_static(Vector::ZERO, ColliderBuilder::cuboid(0.5, 0.01, 0.5), 0);
        core.add_object(
            RigidBodyBuilder::dynamic().translation(Vector::new(0.0, 0.2, 0.0)),
            ColliderBuilder::ball(0.2),
            1,
        );
        let colors = ColorTable {
            background: [0, 0, 0],
            objects: vec![
                ObjectColor {
                    name: "floor".into(),
                    rgb: [100, 100, 100],
                    dynamic: false,
                },
                ObjectColor {
                    name: "ball".into(),
                    rgb: [255, 0, 0],
                    dynamic: true,
                },
            ],
        };
        let r = Renderer::new(Camera::look_at(
            [0.0, 4.0, 0.0],
            [0.0; 3],
            [0.0, 0.0, -1.0],
            40.0,
        ));
        let f = r.render(&core, &colors, 32, 24);
        assert_eq!(f.data.len(), 32 * 24 * 3);
        let px = |x: usize, y: usize| &f.data[(y * 32 + x) * 3..(y * 32 + x) * 3 + 3];
        let c = px(16, 12);
        assert!(c[0] > 100 && c[1] == 0 && c[2] == 0, "centre {c:?}");
        assert_eq!(px(0, 0), &[0, 0, 0]);
        // The cache does not change the result.
        assert_eq!(r.render(&core, &colors, 32, 24), f);
    }
}
