//! The 3D view: one lit mesh per scene object in the scenario's colour, posed
//! from the rollout's ground-truth states at the timeline's step, the light,
//! the orbit camera confined to its viewport, and the dream's predicted
//! centroids drawn as wire spheres (toggle with `C`).

use bevy::camera::Viewport;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::light::GlobalAmbientLight;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;

use crate::layout::Layout;
use crate::model::{ObjectShape, Pose, RolloutView};
use crate::orbit::OrbitCamera;
use crate::timeline::Timeline;

/// The rollout being shown, shared by the app's systems.
#[derive(Resource)]
pub struct Rollout(pub RolloutView);

/// The root entity of scene object `i` (its transform is the object's pose).
#[derive(Component)]
pub struct SceneObjectIndex(pub usize);

/// The camera of the 3D view.
#[derive(Component)]
pub struct SceneCamera;

/// Whether predicted centroids are drawn.
#[derive(Resource)]
pub struct ShowCentroids(pub bool);

/// Background of the 3D view.
const SKY: Color = Color::srgb(0.09, 0.09, 0.12);

/// A Bevy transform from a rollout pose.
pub fn pose_transform(pose: &Pose) -> Transform {
    let [x, y, z, w] = pose.rotation;
    let rotation = Quat::from_xyzw(x, y, z, w);
    let rotation = if rotation.is_finite() && rotation.length_squared() > 1e-6 {
        rotation.normalize()
    } else {
        Quat::IDENTITY
    };
    Transform::from_translation(Vec3::from_array(pose.translation)).with_rotation(rotation)
}

/// The mesh of a shape and its offset from the object's pose (capsules are
/// centred between their end points and turned along them).
fn shape_mesh(shape: &ObjectShape) -> (Mesh, Transform) {
    match *shape {
        ObjectShape::Ball { radius } => {
            (Sphere::new(radius).mesh().uv(32, 18), Transform::IDENTITY)
        }
        ObjectShape::Cuboid {
            half_extents: [x, y, z],
        } => (
            Cuboid::new(2.0 * x, 2.0 * y, 2.0 * z).into(),
            Transform::IDENTITY,
        ),
        ObjectShape::Cylinder {
            half_height,
            radius,
        } => (
            Cylinder::new(radius, 2.0 * half_height)
                .mesh()
                .resolution(32)
                .into(),
            Transform::IDENTITY,
        ),
        ObjectShape::Capsule { a, b, radius } => {
            let (a, b) = (Vec3::from_array(a), Vec3::from_array(b));
            let axis = b - a;
            let rotation = if axis.length() > 1e-6 {
                Quat::from_rotation_arc(Vec3::Y, axis.normalize())
            } else {
                Quat::IDENTITY
            };
            (
                Capsule3d::new(radius, axis.length()).mesh().into(),
                Transform::from_translation((a + b) / 2.0).with_rotation(rotation),
            )
        }
    }
}

/// Where the 3D camera starts: the scenario's camera, or a view from above
/// and in front of the scene's centre.
fn home_orbit(rollout: &RolloutView) -> OrbitCamera {
    let Some(c) = rollout.camera else {
        return OrbitCamera::looking_at(Vec3::new(0.0, 2.5, 3.0), Vec3::ZERO);
    };
    let mut orbit = OrbitCamera::looking_at(Vec3::from_array(c.eye), Vec3::from_array(c.target));
    // A camera looking straight down (bounce, push) shows no depth: tilt it
    // towards the frames' "up" direction so the 3D view reads as 3D, keeping
    // the frames' orientation.
    if orbit.pitch > TOP_DOWN_PITCH {
        let up = Vec3::from_array(c.up);
        orbit.yaw = (-up.x).atan2(-up.z);
        orbit.pitch = TILTED_PITCH;
        orbit.distance *= 1.15;
        orbit.home = (orbit.target, orbit.yaw, orbit.pitch, orbit.distance);
    }
    orbit
}

/// Pitch (radians) above which the scenario camera counts as looking straight down.
const TOP_DOWN_PITCH: f32 = 1.3;
/// Pitch the 3D view starts at for such cameras (about 52 degrees).
const TILTED_PITCH: f32 = 0.9;

/// Spawn the objects, the light and the 3D camera.
pub fn spawn_scene(
    mut commands: Commands,
    rollout: Res<Rollout>,
    timeline: Res<Timeline>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let view = &rollout.0;
    let poses = &view.poses[timeline.step()];
    for (i, object) in view.objects.iter().enumerate() {
        let (mesh, offset) = shape_mesh(&object.shape);
        let [r, g, b] = object.rgb;
        let material = materials.add(StandardMaterial {
            base_color: Color::srgb_u8(r, g, b),
            perceptual_roughness: 0.7,
            reflectance: 0.2,
            ..default()
        });
        commands
            .spawn((
                SceneObjectIndex(i),
                Name::new(object.name.clone()),
                pose_transform(&poses[i]),
                Visibility::default(),
            ))
            .with_child((Mesh3d(meshes.add(mesh)), MeshMaterial3d(material), offset));
    }
    commands.insert_resource(GlobalAmbientLight {
        color: Color::WHITE,
        brightness: 900.0,
        affects_lightmapped_meshes: true,
    });
    commands.spawn((
        DirectionalLight {
            illuminance: 4000.0,
            shadow_maps_enabled: true,
            ..default()
        },
        Transform::default().looking_to(Vec3::new(-0.3, -1.0, -0.4), Vec3::Y),
    ));
    let orbit = home_orbit(view);
    let fov = view.camera.map_or(45.0, |c| c.fov_y_deg).clamp(5.0, 150.0);
    commands.spawn((
        SceneCamera,
        Camera3d::default(),
        Camera {
            order: 0,
            clear_color: ClearColorConfig::Custom(SKY),
            ..default()
        },
        Projection::Perspective(PerspectiveProjection {
            fov: fov.to_radians(),
            ..default()
        }),
        // Flat colours stay recognisable: no filmic curve over them.
        Tonemapping::None,
        orbit.transform(),
        orbit,
    ));
}

/// Keep the 3D camera inside the layout's 3D view when the window changes size.
pub fn fit_viewport(
    window: Query<&Window, With<PrimaryWindow>>,
    mut cameras: Query<&mut Camera, With<SceneCamera>>,
) {
    let Ok(window) = window.single() else {
        return;
    };
    let layout = Layout::for_window(window.width() as u32, window.height() as u32);
    let rect = layout.view3d.scaled(window.scale_factor());
    let physical = window.physical_size();
    let size = UVec2::new(
        rect.width.min(physical.x.saturating_sub(rect.x)),
        rect.height.min(physical.y.saturating_sub(rect.y)),
    );
    if size.x == 0 || size.y == 0 {
        return;
    }
    for mut camera in &mut cameras {
        let viewport = Viewport {
            physical_position: UVec2::new(rect.x, rect.y),
            physical_size: size,
            ..default()
        };
        let unchanged = camera.viewport.as_ref().is_some_and(|v| {
            v.physical_position == viewport.physical_position
                && v.physical_size == viewport.physical_size
        });
        if !unchanged {
            camera.viewport = Some(viewport);
        }
    }
}

/// Pose every object at the timeline's step.
pub fn apply_poses(
    rollout: Res<Rollout>,
    timeline: Res<Timeline>,
    mut objects: Query<(&SceneObjectIndex, &mut Transform)>,
) {
    if !timeline.is_changed() {
        return;
    }
    let Some(poses) = rollout.0.poses.get(timeline.step()) else {
        return;
    };
    for (index, mut transform) in &mut objects {
        if let Some(pose) = poses.get(index.0) {
            let target = pose_transform(pose);
            if *transform != target {
                *transform = target;
            }
        }
    }
}

/// Draw the dream's predicted centroids at the current step; `C` toggles them.
pub fn draw_centroids(
    rollout: Res<Rollout>,
    timeline: Res<Timeline>,
    keys: Res<ButtonInput<KeyCode>>,
    mut show: ResMut<ShowCentroids>,
    mut gizmos: Gizmos,
) {
    if keys.just_pressed(KeyCode::KeyC) {
        show.0 = !show.0;
    }
    if !show.0 {
        return;
    }
    let radius = rollout
        .0
        .objects
        .iter()
        .find_map(|o| match o.shape {
            ObjectShape::Ball { radius } => Some(radius),
            _ => None,
        })
        .unwrap_or(0.05);
    let Some(centroids) = rollout.0.predicted_centroids.get(timeline.step()) else {
        return;
    };
    for &(position, [r, g, b]) in centroids {
        let at = Vec3::from_array(position);
        if at.is_finite() {
            gizmos.sphere(
                Isometry3d::from_translation(at),
                radius * 1.25,
                Color::srgb_u8(r, g, b),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poses_become_transforms_and_bad_rotations_fall_back_to_identity() {
        let t = pose_transform(&Pose {
            translation: [1.0, 2.0, 3.0],
            rotation: [0.0, 0.0, 0.0, 2.0],
        });
        assert_eq!(t.translation, Vec3::new(1.0, 2.0, 3.0));
        assert!((t.rotation.length() - 1.0).abs() < 1e-6);
        let bad = pose_transform(&Pose {
            translation: [0.0; 3],
            rotation: [f32::NAN, 0.0, 0.0, 1.0],
        });
        assert_eq!(bad.rotation, Quat::IDENTITY);
    }

    #[test]
    fn capsules_are_centred_between_their_end_points_and_turned_along_them() {
        let (_, offset) = shape_mesh(&ObjectShape::Capsule {
            a: [0.0, 0.0, 0.0],
            b: [1.0, 0.0, 0.0],
            radius: 0.1,
        });
        assert!((offset.translation - Vec3::new(0.5, 0.0, 0.0)).length() < 1e-6);
        assert!((offset.rotation * Vec3::Y - Vec3::X).length() < 1e-5);
    }

    /// The pose system moves objects when the timeline moves.
    #[test]
    fn stepping_the_timeline_moves_the_objects() {
        let rollout = crate::model::tests::tiny_rollout();
        let mut app = App::new();
        app.insert_resource(Timeline::new(2, 0, 15.0))
            .insert_resource(Rollout(rollout))
            .add_systems(Update, apply_poses);
        let ball = app
            .world_mut()
            .spawn((SceneObjectIndex(1), Transform::default()))
            .id();
        app.update();
        assert_eq!(
            app.world().get::<Transform>(ball).unwrap().translation.x,
            0.0
        );
        app.world_mut().resource_mut::<Timeline>().step_by(1);
        app.update();
        let x = app.world().get::<Transform>(ball).unwrap().translation.x;
        assert!((x - 0.2).abs() < 1e-6);
    }
}
