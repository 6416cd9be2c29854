//! `occlusion-v0`: a ball slides along a lane across the floor, passes behind an
//! opaque wall that hides the middle of its path from the camera, comes out the
//! other side and bounces off the end walls back again: a test of object permanence.
//!
//! State: `ball.x, ball.y, ball.z, ball.vx, ball.vy, ball.vz` (m, m/s; `+y` up, the
//! lane runs along `x`, the camera looks from `+z`). Action: `[fx]` in `[-1, 1]`, a
//! force along the lane in units of `max_force` newtons (zero is the usual action).
//! Reward 0, never terminates.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rapier3d::prelude::*;
use serde::{Deserialize, Serialize};

use crate::base::{delegate_to_base, ScenarioBase};
use crate::render::Camera;
use crate::world::{box_space, check_positive, check_rate, check_within, visual_only, Range};
use crate::{
    Action, ColorTable, ObjectColor, Scenario, ScenarioError, Space, SuccessRule, Transition,
};

/// Configuration of `occlusion-v0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcclusionConfig {
    pub ball_radius: f32,
    /// Initial speed along `+x` (m/s).
    pub speed: Range,
    /// Initial `x` (m): the ball starts on the left.
    pub start_x: Range,
    /// The lane's `z` (m).
    pub lane_z: Range,
    /// End walls stand at `x = +-lane_half_length`.
    pub lane_half_length: f32,
    /// The occluder spans `x` in `+-occluder_half_width` at `z = occluder_z`.
    pub occluder_half_width: f32,
    pub occluder_height: f32,
    pub occluder_z: f32,
    pub restitution: f32,
    pub mass: f32,
    /// Force (N) of an action of magnitude 1.
    pub max_force: f32,
    pub control_hz: f32,
    pub substeps: u32,
    pub max_episode_steps: u32,
}

impl Default for OcclusionConfig {
    fn default() -> Self {
        Self {
            ball_radius: 0.15,
            speed: Range::new(0.7, 1.2),
            start_x: Range::new(-1.6, -1.3),
            lane_z: Range::new(-0.1, 0.1),
            lane_half_length: 2.0,
            occluder_half_width: 0.5,
            occluder_height: 0.9,
            occluder_z: 0.8,
            restitution: 1.0,
            mass: 1.0,
            max_force: 0.5,
            control_hz: 15.0,
            substeps: 4,
            max_episode_steps: 90,
        }
    }
}

impl OcclusionConfig {
    /// The in-distribution preset (the default).
    pub fn id() -> Self {
        Self::default()
    }

    /// Out of distribution: a smaller, faster, heavier ball that loses energy at the walls.
    pub fn ood() -> Self {
        Self {
            ball_radius: 0.12,
            speed: Range::new(1.6, 2.4),
            mass: 3.0,
            restitution: 0.8,
            ..Self::default()
        }
    }

    /// Error naming the first invalid field.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check_rate(self.control_hz, self.substeps)?;
        for (n, v) in [
            ("ball_radius", self.ball_radius),
            ("lane_half_length", self.lane_half_length),
            ("occluder_half_width", self.occluder_half_width),
            ("occluder_height", self.occluder_height),
            ("occluder_z", self.occluder_z),
            ("mass", self.mass),
            ("max_force", self.max_force),
        ] {
            check_positive(n, v)?;
        }
        self.speed.check("speed", 0.0)?;
        self.start_x
            .check("start_x", -self.lane_half_length + self.ball_radius)?;
        self.lane_z
            .check("lane_z", -self.occluder_z + self.ball_radius)?;
        if self.start_x.hi > self.lane_half_length - self.ball_radius
            || self.lane_z.hi + self.ball_radius >= self.occluder_z
        {
            return Err(ScenarioError::BadConfig(
                "start_x must lie in the lane and lane_z behind the occluder".into(),
            ));
        }
        check_within("restitution", self.restitution, 0.0, 2.0)?;
        Ok(())
    }
}

/// The `occlusion-v0` scenario.
pub struct Occlusion {
    config: OcclusionConfig,
    base: ScenarioBase,
    ball: RigidBodyHandle,
}

impl Occlusion {
    /// A scenario from a validated config, reset to seed 0.
    pub fn new(config: OcclusionConfig, variant: &str) -> Result<Self, ScenarioError> {
        config.validate()?;
        let camera = Camera::look_at([0.0, 2.2, 4.2], [0.0, 0.1, 0.0], [0.0, 1.0, 0.0], 50.0);
        let mut s = Self {
            base: ScenarioBase::new(
                variant,
                config.control_hz,
                config.substeps,
                config.max_episode_steps,
                camera,
            ),
            config,
            ball: RigidBodyHandle::invalid(),
        };
        s.reset(0);
        Ok(s)
    }

    /// Whether the straight line from the camera to the ball centre crosses the occluder.
    pub fn ball_hidden(&self) -> bool {
        let eye = Vector::from(self.base.renderer.camera.eye);
        let p = self.base.core.body(self.ball).translation();
        let t = (eye.z - self.config.occluder_z) / (eye.z - p.z);
        let at = eye + (p - eye) * t;
        at.x.abs() < self.config.occluder_half_width && at.y < self.config.occluder_height
    }
}

impl Scenario for Occlusion {
    fn id(&self) -> &'static str {
        "occlusion-v0"
    }
    delegate_to_base!();
    /// No goal: the ball coasts.
    fn success_rule(&self) -> SuccessRule {
        SuccessRule::NoGoal
    }
    fn action_space(&self) -> Space {
        box_space(vec![-1.0], vec![1.0])
    }
    fn state_space(&self) -> Space {
        box_space(vec![f32::NEG_INFINITY; 6], vec![f32::INFINITY; 6])
    }
    fn state_names(&self) -> Vec<String> {
        [
            "ball.x", "ball.y", "ball.z", "ball.vx", "ball.vy", "ball.vz",
        ]
        .map(String::from)
        .to_vec()
    }

    fn reset(&mut self, seed: u64) {
        let c = self.config.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.base.restart(Vector::ZERO);
        let l = c.lane_half_length;
        let floor = ColliderBuilder::cuboid(l + 0.1, 0.05, 1.2).collision_groups(visual_only());
        self.base
            .core
            .add_static(Vector::new(0.0, -0.05, 0.0), floor, 0);
        for side in [-1.0f32, 1.0] {
            let wall = ColliderBuilder::cuboid(0.05, 0.2, 0.6)
                .restitution(c.restitution)
                .friction(0.0)
                .restitution_combine_rule(CoefficientCombineRule::Max);
            self.base
                .core
                .add_static(Vector::new(side * (l + 0.05), 0.2, 0.0), wall, 1);
        }
        let h = c.occluder_height * 0.5;
        let occluder =
            ColliderBuilder::cuboid(c.occluder_half_width, h, 0.04).collision_groups(visual_only());
        self.base
            .core
            .add_static(Vector::new(0.0, h, c.occluder_z), occluder, 2);
        let x = c.start_x.sample(&mut rng);
        let z = c.lane_z.sample(&mut rng);
        let speed = c.speed.sample(&mut rng);
        let body = RigidBodyBuilder::dynamic()
            .translation(Vector::new(x, c.ball_radius, z))
            .linvel(Vector::new(speed, 0.0, 0.0))
            .enabled_translations(true, false, false)
            .lock_rotations()
            .can_sleep(false)
            .ccd_enabled(true);
        let collider = ColliderBuilder::ball(c.ball_radius)
            .mass(c.mass)
            .restitution(c.restitution)
            .friction(0.0)
            .restitution_combine_rule(CoefficientCombineRule::Max);
        self.ball = self.base.core.add_object(body, collider, 3).0;
    }

    fn step(&mut self, action: &Action) -> Result<Transition, ScenarioError> {
        let space = self.action_space();
        space.validate(action)?;
        let force = space.clip(action).to_f32()[0] * self.config.max_force;
        let ball = self.ball;
        self.base.core.step_control(|w| {
            if let Some(b) = w.bodies.get_mut(ball) {
                b.reset_forces(false);
                b.add_force(Vector::new(force, 0.0, 0.0), true);
            }
        });
        Ok(Transition {
            reward: 0.0,
            terminated: false,
        })
    }

    fn state(&self) -> Vec<f32> {
        let b = self.base.core.body(self.ball);
        let (p, v) = (b.translation(), b.linvel());
        vec![p.x, p.y, p.z, v.x, v.y, v.z]
    }
    fn colors(&self) -> ColorTable {
        let o = ObjectColor::new;
        ColorTable {
            background: [16, 16, 20],
            objects: vec![
                o("floor", [60, 60, 64], false),
                o("end_walls", [120, 120, 120], false),
                o("occluder", [190, 190, 190], false),
                o("ball", [230, 30, 30], true),
            ],
        }
    }
    /// No push: the ball coasts.
    fn scripted_action(&self, _rng: &mut dyn rand::RngCore) -> Action {
        Action::Continuous(vec![0.0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ball_disappears_behind_the_wall_and_comes_out_the_other_side() {
        let mut s = Occlusion::new(OcclusionConfig::id(), "id").unwrap();
        s.reset(2);
        let mut seen = Vec::new();
        for _ in 0..40 {
            let red = s
                .render(64, 64)
                .data
                .chunks(3)
                .filter(|p| p[0] > 100 && p[1] < 60 && p[2] < 60)
                .count();
            let x = s.state()[0];
            if red == 0 {
                assert!(
                    x.abs() < 0.8,
                    "ball invisible at x = {x}, away from the occluder"
                );
            }
            if s.ball_hidden() {
                assert!(red < 20, "centre hidden but {red} red pixels");
            }
            seen.push(red > 0);
            s.step(&Action::Continuous(vec![0.0])).unwrap();
        }
        let first_hidden = seen.iter().position(|v| !*v).expect("never hidden");
        assert!(
            seen[0] && seen[first_hidden..].iter().any(|v| *v),
            "{seen:?}"
        );
    }
}
