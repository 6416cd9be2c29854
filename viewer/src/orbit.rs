//! The orbit camera of the 3D view: left-drag turns around the target,
//! right- or middle-drag pans, the wheel zooms, `R` goes back to the
//! scenario's own camera. Only input over the 3D view counts.

use bevy::input::mouse::{
    AccumulatedMouseMotion, AccumulatedMouseScroll, MouseButton, MouseScrollUnit,
};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;

use crate::layout::Layout;

/// Radians per pixel of drag.
const TURN_PER_PIXEL: f32 = 0.008;
/// Zoom factor per wheel line.
const ZOOM_PER_LINE: f32 = 0.9;
/// Pitch stays short of the poles so "up" stays defined.
const MAX_PITCH: f32 = 1.5;

/// Where the 3D camera is: a point on a sphere around `target`.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct OrbitCamera {
    pub target: Vec3,
    /// Angle around `+y`, radians.
    pub yaw: f32,
    /// Angle above the horizontal, radians.
    pub pitch: f32,
    /// Distance from the target, metres.
    pub distance: f32,
    /// The pose `R` returns to.
    pub home: (Vec3, f32, f32, f32),
}

impl OrbitCamera {
    /// The orbit that puts the camera at `eye` looking at `target`.
    pub fn looking_at(eye: Vec3, target: Vec3) -> Self {
        let offset = eye - target;
        let distance = offset.length().max(1e-3);
        let pitch = (offset.y / distance)
            .clamp(-1.0, 1.0)
            .asin()
            .clamp(-MAX_PITCH, MAX_PITCH);
        let yaw = offset.x.atan2(offset.z);
        Self {
            target,
            yaw,
            pitch,
            distance,
            home: (target, yaw, pitch, distance),
        }
    }

    /// The camera's position.
    pub fn eye(&self) -> Vec3 {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        self.target + self.distance * Vec3::new(cp * sy, sp, cp * cy)
    }

    /// The camera's transform, looking at the target with `+y` up.
    pub fn transform(&self) -> Transform {
        Transform::from_translation(self.eye()).looking_at(self.target, Vec3::Y)
    }

    /// Turn by a drag of `delta` pixels.
    pub fn turn(&mut self, delta: Vec2) {
        self.yaw -= delta.x * TURN_PER_PIXEL;
        self.pitch = (self.pitch + delta.y * TURN_PER_PIXEL).clamp(-MAX_PITCH, MAX_PITCH);
    }

    /// Move the target in the view plane by a drag of `delta` pixels.
    pub fn pan(&mut self, delta: Vec2) {
        let t = self.transform();
        let scale = self.distance * 0.0015;
        self.target += (-delta.x * *t.right() + delta.y * *t.up()) * scale;
    }

    /// Zoom by `lines` wheel lines (positive: closer).
    pub fn zoom(&mut self, lines: f32) {
        self.distance = (self.distance * ZOOM_PER_LINE.powf(lines)).clamp(0.05, 500.0);
    }

    /// Back to the starting pose.
    pub fn reset(&mut self) {
        (self.target, self.yaw, self.pitch, self.distance) = self.home;
    }
}

/// Mouse and `R` key drive the orbit; only while the cursor is over the 3D view.
pub fn orbit_controls(
    window: Query<&Window, With<PrimaryWindow>>,
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    mut cameras: Query<(&mut OrbitCamera, &mut Transform)>,
    mut dragging: Local<bool>,
) {
    let over_view = window.single().ok().and_then(|w| {
        let layout = Layout::for_window(w.width() as u32, w.height() as u32);
        w.cursor_position()
            .map(|p| layout.view3d.contains(p.x, p.y))
    });
    let over_view = over_view.unwrap_or(false);
    let any_drag = [MouseButton::Left, MouseButton::Right, MouseButton::Middle];
    if buttons.any_just_pressed(any_drag) {
        *dragging = over_view;
    }
    if !buttons.any_pressed(any_drag) {
        *dragging = false;
    }
    for (mut orbit, mut transform) in &mut cameras {
        let before = *orbit;
        if *dragging && buttons.pressed(MouseButton::Left) {
            orbit.turn(motion.delta);
        } else if *dragging {
            orbit.pan(motion.delta);
        }
        if over_view && scroll.delta.y != 0.0 {
            let lines = match scroll.unit {
                MouseScrollUnit::Line => scroll.delta.y,
                MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
            };
            orbit.zoom(lines);
        }
        if keys.just_pressed(KeyCode::KeyR) {
            orbit.reset();
        }
        if *orbit != before {
            *transform = orbit.transform();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looking_at_round_trips_the_eye() {
        let eye = Vec3::new(1.0, 2.0, 3.0);
        let target = Vec3::new(0.0, 0.5, 0.0);
        let orbit = OrbitCamera::looking_at(eye, target);
        assert!((orbit.eye() - eye).length() < 1e-4, "{:?}", orbit.eye());
        let forward = *orbit.transform().forward();
        assert!((forward - (target - eye).normalize()).length() < 1e-4);
    }

    #[test]
    fn turning_keeps_the_distance_and_zoom_changes_it() {
        let mut orbit = OrbitCamera::looking_at(Vec3::new(0.0, 1.0, 4.0), Vec3::ZERO);
        let d = orbit.distance;
        orbit.turn(Vec2::new(100.0, 30.0));
        assert!((orbit.eye().length() - d).abs() < 1e-4);
        orbit.zoom(2.0);
        assert!(orbit.distance < d);
        orbit.turn(Vec2::new(0.0, 1e6));
        assert!(orbit.pitch <= MAX_PITCH);
        orbit.reset();
        assert!((orbit.eye() - Vec3::new(0.0, 1.0, 4.0)).length() < 1e-4);
    }

    #[test]
    fn panning_moves_the_target_sideways() {
        let mut orbit = OrbitCamera::looking_at(Vec3::new(0.0, 0.0, 4.0), Vec3::ZERO);
        orbit.pan(Vec2::new(100.0, 0.0));
        assert!(orbit.target.x < 0.0 && orbit.target.y.abs() < 1e-5);
    }
}
