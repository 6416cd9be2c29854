//! A renderer-free description of a scenario's scene: every drawn collider's
//! shape, colour and pose, and the camera, so another program (the Bevy viewer)
//! can rebuild the same 3D view without rapier.
//!
//! Poses are world-space: translation in metres (`+y` up) and rotation as a unit
//! quaternion `[x, y, z, w]`.

use rapier3d::prelude::*;
use serde::{Deserialize, Serialize};

use crate::world::PhysicsCore;
use crate::ColorTable;

/// The geometry of one collider, in its local frame (centred at its pose).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SceneShape {
    /// A sphere of `radius`.
    Ball { radius: f32 },
    /// A box with `half_extents` `[x, y, z]`.
    Cuboid { half_extents: [f32; 3] },
    /// A cylinder along the local `y` axis, from `-half_height` to `+half_height`.
    Cylinder { half_height: f32, radius: f32 },
    /// A capsule: a segment from `a` to `b` (local coordinates) swept by a sphere of `radius`.
    Capsule {
        a: [f32; 3],
        b: [f32; 3],
        radius: f32,
    },
    /// A shape the viewer cannot draw exactly; `half_extents` of its local bounding box.
    Other { half_extents: [f32; 3] },
}

/// One drawn collider: which object of the colour table it shows, its shape and pose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneObject {
    /// Name of the object in the colour table (several colliders may share one, e.g. walls).
    pub name: String,
    /// Index into [`ColorTable::objects`].
    pub object: usize,
    /// The flat colour of the object.
    pub rgb: [u8; 3],
    /// Whether the collider can move during an episode.
    pub dynamic: bool,
    pub shape: SceneShape,
    /// World position of the collider's centre, metres.
    pub translation: [f32; 3],
    /// World orientation, unit quaternion `[x, y, z, w]`.
    pub rotation: [f32; 4],
}

/// The shape of a collider as a [`SceneShape`].
pub(crate) fn scene_shape(shape: &dyn Shape) -> SceneShape {
    if let Some(b) = shape.as_ball() {
        SceneShape::Ball { radius: b.radius }
    } else if let Some(c) = shape.as_cuboid() {
        SceneShape::Cuboid {
            half_extents: c.half_extents.to_array(),
        }
    } else if let Some(c) = shape.as_cylinder() {
        SceneShape::Cylinder {
            half_height: c.half_height,
            radius: c.radius,
        }
    } else if let Some(c) = shape.as_capsule() {
        SceneShape::Capsule {
            a: c.segment.a.to_array(),
            b: c.segment.b.to_array(),
            radius: c.radius,
        }
    } else {
        let aabb = shape.compute_local_aabb();
        SceneShape::Other {
            half_extents: aabb.half_extents().to_array(),
        }
    }
}

/// Every drawn collider of `core`, in the order they were added.
pub(crate) fn scene_objects(core: &PhysicsCore, colors: &ColorTable) -> Vec<SceneObject> {
    core.drawables
        .iter()
        .filter_map(|d| {
            let collider = core.world.colliders.get(d.collider)?;
            let pose = collider.position();
            let color = colors.objects.get(d.object);
            Some(SceneObject {
                name: color.map_or_else(|| format!("object{}", d.object), |c| c.name.clone()),
                object: d.object,
                rgb: color.map_or([255, 255, 255], |c| c.rgb),
                dynamic: d.moving,
                shape: scene_shape(collider.shape()),
                translation: pose.translation.to_array(),
                rotation: pose.rotation.to_array(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::make;

    use super::*;

    #[test]
    fn bounce_scene_lists_floor_walls_and_balls_with_their_shapes() {
        let mut s = make("bounce-v0", "id").unwrap();
        s.reset(3);
        let objects = s.scene_objects();
        let colors = s.colors();
        let balls: Vec<_> = objects.iter().filter(|o| o.dynamic).collect();
        assert!(!balls.is_empty());
        for b in &balls {
            assert!(matches!(b.shape, SceneShape::Ball { radius } if radius > 0.0));
            assert_eq!(b.rgb, colors.objects[b.object].rgb);
        }
        assert!(objects
            .iter()
            .any(|o| matches!(o.shape, SceneShape::Cuboid { .. })));
        let camera = s.camera().expect("bounce has a camera");
        assert!(camera.fov_y_deg > 0.0);
    }

    #[test]
    fn poses_follow_the_state() {
        let mut s = make("bounce-v0", "id").unwrap();
        s.reset(5);
        let before = s.scene_objects();
        for _ in 0..5 {
            s.step(&crate::Action::Continuous(vec![0.0, 0.0])).unwrap();
        }
        let after = s.scene_objects();
        let moved = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a.dynamic && a.translation != b.translation)
            .count();
        assert!(moved > 0, "some ball moved");
        let state = s.state();
        let ball0 = after.iter().find(|o| o.dynamic).unwrap();
        assert!((ball0.translation[0] - state[0]).abs() < 1e-5);
        assert!((ball0.translation[2] - state[2]).abs() < 1e-5);
    }

    #[test]
    fn nudge_moves_each_ball_by_the_distance() {
        let mut s = make("bounce-v0", "id").unwrap();
        s.reset(8);
        let before = s.state();
        assert!(s.nudge(0.01, 1));
        let after = s.state();
        let moved = ((after[0] - before[0]).powi(2) + (after[2] - before[2]).powi(2)).sqrt();
        assert!((moved - 0.01).abs() < 1e-4, "moved {moved}");
    }
}
