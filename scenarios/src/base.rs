//! What every rapier scenario shares, in one place: [`ScenarioBase`] holds the
//! variant name, the control rate and time limit, the [`PhysicsCore`] and the
//! ray-cast [`Renderer`] with its camera, and does the work that was once copied
//! into each scenario (rebuilding the world on reset, rendering, the scene
//! objects for the viewer, the perturbation `nudge`). [`delegate_to_base!`]
//! writes the [`crate::Scenario`] methods that only forward to it.
//!
//! [`Arena`] describes a walled arena in world space; the trait projects it
//! through the camera for [`crate::Scenario::arena_px`].

use rapier3d::prelude::Vector;
use serde::{Deserialize, Serialize};

use crate::render::{Camera, Renderer};
use crate::world::PhysicsCore;
use crate::{ColorTable, Frame, SceneObject};

/// The shared state of a rapier scenario; each scenario embeds one as `base`.
pub(crate) struct ScenarioBase {
    /// The named variant the config came from (`id`, `ood`, `custom`, ...).
    pub variant: String,
    pub core: PhysicsCore,
    pub renderer: Renderer,
    control_hz: f32,
    substeps: u32,
    max_episode_steps: u32,
}

impl ScenarioBase {
    /// An empty world without gravity, stepped `substeps` times per control period of
    /// `1 / control_hz` s, seen through `camera`.
    pub fn new(
        variant: &str,
        control_hz: f32,
        substeps: u32,
        max_episode_steps: u32,
        camera: Camera,
    ) -> Self {
        Self {
            variant: variant.to_string(),
            core: PhysicsCore::new(control_hz, substeps, Vector::ZERO),
            renderer: Renderer::new(camera),
            control_hz,
            substeps,
            max_episode_steps,
        }
    }

    /// Start a new, empty world with `gravity` (the start of every reset) and
    /// forget the renderer's cached static layer.
    pub fn restart(&mut self, gravity: Vector) {
        self.core = PhysicsCore::new(self.control_hz, self.substeps, gravity);
        self.renderer.invalidate();
    }

    /// Control steps per second.
    pub fn control_hz(&self) -> f32 {
        self.control_hz
    }

    /// The time limit the env applies, in control steps.
    pub fn max_episode_steps(&self) -> u32 {
        self.max_episode_steps
    }

    /// The current world drawn through the camera in `colors`.
    pub fn render(&self, colors: &ColorTable, width: usize, height: usize) -> Frame {
        self.renderer.render(&self.core, colors, width, height)
    }

    /// The camera the frames are rendered through.
    pub fn camera(&self) -> Camera {
        self.renderer.camera
    }

    /// Every drawn collider with its shape, colour and pose.
    pub fn scene_objects(&self, colors: &ColorTable) -> Vec<SceneObject> {
        crate::scene::scene_objects(&self.core, colors)
    }

    /// Moves every dynamic body by `distance` metres in a seeded horizontal direction.
    pub fn nudge(&mut self, distance: f32, seed: u64) -> bool {
        self.core.nudge(distance, seed);
        true
    }
}

/// The [`crate::Scenario`] methods that forward to the scenario's `base`
/// ([`ScenarioBase`]) or serialise its `config`; used inside `impl Scenario`.
macro_rules! delegate_to_base {
    () => {
        fn variant(&self) -> &str {
            &self.base.variant
        }
        fn config_json(&self) -> serde_json::Value {
            serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null)
        }
        fn control_hz(&self) -> f32 {
            self.base.control_hz()
        }
        fn max_episode_steps(&self) -> Option<u32> {
            Some(self.base.max_episode_steps())
        }
        fn render(&self, width: usize, height: usize) -> $crate::Frame {
            self.base.render(&self.colors(), width, height)
        }
        fn camera(&self) -> Option<$crate::Camera> {
            Some(self.base.camera())
        }
        fn scene_objects(&self) -> Vec<$crate::SceneObject> {
            self.base.scene_objects(&self.colors())
        }
        fn nudge(&mut self, distance: f32, seed: u64) -> bool {
            self.base.nudge(distance, seed)
        }
    };
}
pub(crate) use delegate_to_base;

/// A square arena with walls, in the horizontal `x, z` plane centred on the origin.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arena {
    /// Half the inner width between the walls (m).
    pub half_width: f32,
    /// How far object centres stay from the walls (m): a ball's radius, a cube's
    /// half size.
    pub inset: f32,
    /// Height (`y`, m) of the object centres.
    pub centre_height: f32,
}

impl Arena {
    /// The inner width between the walls (m).
    pub fn size(&self) -> f32 {
        2.0 * self.half_width
    }

    /// The width of the square where object centres can lie (m).
    pub fn centre_span(&self) -> f32 {
        2.0 * (self.half_width - self.inset)
    }

    /// The square where object centres can lie, projected through `camera` into a
    /// `width x height` frame: `[x_min, y_min, x_max, y_max]` in pixels.
    pub fn project(&self, camera: &Camera, width: usize, height: usize) -> Option<[f32; 4]> {
        let (l, y) = (self.half_width - self.inset, self.centre_height);
        let a = camera.project([-l, y, -l], width, height)?;
        let b = camera.project([l, y, l], width, height)?;
        Some([
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[0].max(b[0]),
            a[1].max(b[1]),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arena_projects_to_a_centred_square_under_a_camera_looking_down() {
        let camera = Camera::look_at([0.0, 3.0, 0.0], [0.0; 3], [0.0, 0.0, -1.0], 44.0);
        let arena = Arena {
            half_width: 1.0,
            inset: 0.16,
            centre_height: 0.16,
        };
        assert_eq!(arena.size(), 2.0);
        assert!((arena.centre_span() - 1.68).abs() < 1e-6);
        let [x0, y0, x1, y1] = arena.project(&camera, 64, 64).unwrap();
        assert!((x0 + x1 - 64.0).abs() < 1e-3 && (y0 + y1 - 64.0).abs() < 1e-3);
        assert!(((x1 - x0) - (y1 - y0)).abs() < 1e-3 && x1 > x0);
    }
}
