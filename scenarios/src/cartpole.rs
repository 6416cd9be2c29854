//! `cartpole-v0`: Gymnasium's CartPole-v1 built from rapier joints: a cart on a
//! prismatic joint along `x` and a uniform pole on a revolute joint about `z`.
//! Seen from the side.
//!
//! Semantics follow CartPole-v1: control at 50 Hz (tau 0.02 s), two discrete actions
//! (0 pushes the cart with `-force` newtons along `x`, 1 with `+force`), reward 1 every
//! step, terminated when `|theta| > 12` degrees or `|x| > 2.4` m, time limit 500
//! steps, initial state uniform in `+-0.05`.
//!
//! State: `x, x_dot, theta, theta_dot` (m, m/s, rad, rad/s); `theta` is the pole's
//! angle from vertical, positive when its top leans towards `+x`.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rapier3d::prelude::*;
use serde::{Deserialize, Serialize};

use crate::base::{delegate_to_base, ScenarioBase};
use crate::render::Camera;
use crate::world::{box_space, check_positive, check_rate, check_within, visual_only};
use crate::{
    Action, ColorTable, ObjectColor, Scenario, ScenarioError, Space, SuccessRule, Transition,
};

/// Configuration of `cartpole-v0` (defaults are CartPole-v1's constants).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CartPoleConfig {
    pub cart_mass: f32,
    pub pole_mass: f32,
    /// Half the pole's length (Gymnasium's `length`).
    pub pole_half_length: f32,
    /// Force (N) of one push.
    pub force: f32,
    pub gravity: f32,
    /// Each state element starts uniform in `[-initial_range, initial_range]`.
    pub initial_range: f32,
    pub x_threshold: f32,
    pub theta_threshold_deg: f32,
    pub control_hz: f32,
    pub substeps: u32,
    pub max_episode_steps: u32,
    /// Distance (m) of the side camera from the track: smaller zooms in.
    pub camera_distance: f32,
}

impl Default for CartPoleConfig {
    fn default() -> Self {
        Self {
            cart_mass: 1.0,
            pole_mass: 0.1,
            pole_half_length: 0.5,
            force: 10.0,
            gravity: 9.8,
            initial_range: 0.05,
            x_threshold: 2.4,
            theta_threshold_deg: 12.0,
            control_hz: 50.0,
            substeps: 2,
            max_episode_steps: 500,
            camera_distance: 6.5,
        }
    }
}

impl CartPoleConfig {
    /// The in-distribution preset: CartPole-v1.
    pub fn id() -> Self {
        Self::default()
    }

    /// Out of distribution: a heavier cart, a longer and heavier pole, wider starts.
    pub fn ood() -> Self {
        Self {
            cart_mass: 2.0,
            pole_mass: 0.3,
            pole_half_length: 0.75,
            initial_range: 0.1,
            ..Self::default()
        }
    }

    /// CartPole-v1 seen by a model: control at 12.5 Hz (eight 100 Hz physics
    /// steps a frame, as CartPole-v1's two at 50 Hz), 125 steps (the same 10 s),
    /// a track of +-1.2 m and the camera at 3.6 m, so the frame shows the track and
    /// the pole's 12 degree limit moves its top 2.3 px of a 32-pixel frame
    /// (1.3 px before). At 50 Hz a frame moves the pole by a tenth of a pixel and
    /// a model at 32x32 learned the upright pole but never its fall (README).
    pub fn coarse() -> Self {
        Self {
            control_hz: 12.5,
            substeps: 8,
            max_episode_steps: 125,
            x_threshold: 1.2,
            camera_distance: 3.6,
            ..Self::default()
        }
    }

    /// Error naming the first invalid field.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check_rate(self.control_hz, self.substeps)?;
        for (n, v) in [
            ("cart_mass", self.cart_mass),
            ("pole_mass", self.pole_mass),
            ("pole_half_length", self.pole_half_length),
            ("force", self.force),
            ("x_threshold", self.x_threshold),
            ("theta_threshold_deg", self.theta_threshold_deg),
            ("camera_distance", self.camera_distance),
        ] {
            check_positive(n, v)?;
        }
        check_within("gravity", self.gravity, -1000.0, 1000.0)?;
        check_within("initial_range", self.initial_range, 0.0, 10.0)?;
        Ok(())
    }
}

const CART_HALF: [f32; 3] = [0.25, 0.125, 0.15];
const CART_Y: f32 = 0.2;

/// The `cartpole-v0` scenario.
pub struct CartPole {
    config: CartPoleConfig,
    base: ScenarioBase,
    cart: RigidBodyHandle,
    pole: RigidBodyHandle,
}

impl CartPole {
    /// A scenario from a validated config, reset to seed 0.
    pub fn new(config: CartPoleConfig, variant: &str) -> Result<Self, ScenarioError> {
        config.validate()?;
        let top = 2.0 * config.pole_half_length + CART_Y;
        let camera = Camera::look_at(
            [0.0, top * 0.5, config.camera_distance],
            [0.0, top * 0.5, 0.0],
            [0.0, 1.0, 0.0],
            44.0,
        );
        let mut s = Self {
            base: ScenarioBase::new(
                variant,
                config.control_hz,
                config.substeps,
                config.max_episode_steps,
                camera,
            ),
            config,
            cart: RigidBodyHandle::invalid(),
            pole: RigidBodyHandle::invalid(),
        };
        s.reset(0);
        Ok(s)
    }

    fn pivot_offset() -> Vector {
        Vector::new(0.0, CART_HALF[1], 0.0)
    }
}

impl Scenario for CartPole {
    fn id(&self) -> &'static str {
        "cartpole-v0"
    }
    delegate_to_base!();
    /// Keeping the pole up until the time limit is the task.
    fn success_rule(&self) -> SuccessRule {
        SuccessRule::TimeLimit
    }
    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }
    fn state_space(&self) -> Space {
        box_space(vec![f32::NEG_INFINITY; 4], vec![f32::INFINITY; 4])
    }
    fn state_names(&self) -> Vec<String> {
        ["x", "x_dot", "theta", "theta_dot"]
            .map(String::from)
            .to_vec()
    }

    fn reset(&mut self, seed: u64) {
        let c = self.config.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let r = c.initial_range;
        let mut draw = || {
            if r > 0.0 {
                rng.random_range(-r..=r)
            } else {
                0.0
            }
        };
        let (x, x_dot, theta, theta_dot) = (draw(), draw(), draw(), draw());
        self.base.restart(Vector::new(0.0, -c.gravity, 0.0));
        // The rail (visual only) spans the allowed track.
        let rail = ColliderBuilder::cuboid(c.x_threshold + CART_HALF[0], 0.03, 0.05)
            .collision_groups(visual_only());
        let ground =
            self.base
                .core
                .add_static(Vector::new(0.0, CART_Y - CART_HALF[1] - 0.03, 0.0), rail, 0);
        let ground_body = self.base.core.world.colliders[ground]
            .parent()
            .unwrap_or(RigidBodyHandle::invalid());
        let cart_body = RigidBodyBuilder::dynamic()
            .translation(Vector::new(x, CART_Y, 0.0))
            .linvel(Vector::new(x_dot, 0.0, 0.0))
            .can_sleep(false);
        let cart_collider = ColliderBuilder::cuboid(CART_HALF[0], CART_HALF[1], CART_HALF[2])
            .mass(c.cart_mass)
            .collision_groups(visual_only());
        self.cart = self.base.core.add_object(cart_body, cart_collider, 1).0;
        // The pole hinges on the cart's top face; rotation about -z tilts it towards +x.
        let rotation = Rotation::from_rotation_z(-theta);
        let arm = rotation * Vector::new(0.0, c.pole_half_length, 0.0);
        let pivot = Vector::new(x, CART_Y, 0.0) + Self::pivot_offset();
        let omega = Vector::new(0.0, 0.0, -theta_dot);
        let pole_body = RigidBodyBuilder::dynamic()
            .translation(pivot + arm)
            .rotation(Vector::new(0.0, 0.0, -theta))
            .linvel(Vector::new(x_dot, 0.0, 0.0) + omega.cross(arm))
            .angvel(omega)
            .can_sleep(false);
        let pole_collider = ColliderBuilder::cuboid(0.07, c.pole_half_length, 0.07)
            .mass(c.pole_mass)
            .collision_groups(visual_only());
        self.pole = self.base.core.add_object(pole_body, pole_collider, 2).0;
        let slider = PrismaticJointBuilder::new(Vector::X)
            .local_anchor1(Vector::new(
                0.0,
                CART_Y - (CART_Y - CART_HALF[1] - 0.03),
                0.0,
            ))
            .local_anchor2(Vector::ZERO)
            .contacts_enabled(false);
        self.base
            .core
            .world
            .impulse_joints
            .insert(ground_body, self.cart, slider, true);
        let hinge = RevoluteJointBuilder::new(Vector::Z)
            .local_anchor1(Self::pivot_offset())
            .local_anchor2(Vector::new(0.0, -c.pole_half_length, 0.0))
            .contacts_enabled(false);
        self.base
            .core
            .world
            .impulse_joints
            .insert(self.cart, self.pole, hinge, true);
    }

    fn step(&mut self, action: &Action) -> Result<Transition, ScenarioError> {
        self.action_space().validate(action)?;
        let push = if matches!(action, Action::Discrete(1)) {
            self.config.force
        } else {
            -self.config.force
        };
        let cart = self.cart;
        self.base.core.step_control(|w| {
            if let Some(b) = w.bodies.get_mut(cart) {
                b.reset_forces(false);
                b.add_force(Vector::new(push, 0.0, 0.0), true);
            }
        });
        let s = self.state();
        let terminated = s[0].abs() > self.config.x_threshold
            || s[2].abs() > self.config.theta_threshold_deg.to_radians()
            || s.iter().any(|v| !v.is_finite());
        Ok(Transition {
            reward: 1.0,
            terminated,
        })
    }

    fn state(&self) -> Vec<f32> {
        let cart = self.base.core.body(self.cart);
        let pole = self.base.core.body(self.pole);
        let top = *pole.rotation() * Vector::Y;
        vec![
            cart.translation().x,
            cart.linvel().x,
            top.x.atan2(top.y),
            -pole.angvel().z,
        ]
    }
    fn colors(&self) -> ColorTable {
        let o = ObjectColor::new;
        ColorTable {
            background: [16, 16, 20],
            objects: vec![
                o("rail", [150, 150, 150], false),
                o("cart", [40, 80, 240], true),
                o("pole", [240, 140, 20], true),
            ],
        }
    }
    /// A linear state-feedback controller, bang-bang: push towards where the pole leans.
    fn scripted_action(&self, _rng: &mut dyn rand::RngCore) -> Action {
        let s = self.state();
        let u = 0.1 * s[0] + 0.5 * s[1] + 10.0 * s[2] + 2.0 * s[3];
        Action::Discrete(usize::from(u > 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &mut CartPole, policy: &mut dyn FnMut(&CartPole) -> Action) -> (u32, f32) {
        let (mut steps, mut total) = (0, 0.0);
        while steps < s.config.max_episode_steps {
            let a = policy(s);
            let t = s.step(&a).unwrap();
            steps += 1;
            total += t.reward;
            if t.terminated {
                break;
            }
        }
        (steps, total)
    }

    /// Steps survived over seeds 0..5 by the scripted expert and by random
    /// actions (each seed's own stream), in `config`.
    fn expert_and_random_steps(config: CartPoleConfig, variant: &str) -> (u32, u32) {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut expert, mut random) = (0, 0);
        for seed in 0..5 {
            let mut s = CartPole::new(config.clone(), variant).unwrap();
            s.reset(seed);
            expert += run(&mut s, &mut |s| s.scripted_action(&mut rng)).0;
            s.reset(seed);
            let mut r2 = ChaCha8Rng::seed_from_u64(seed);
            random += run(&mut s, &mut |s| s.action_space().sample(&mut r2)).0;
        }
        (expert, random)
    }

    #[test]
    fn the_expert_balances_the_coarse_variant_and_random_falls_within_a_second() {
        let (expert, random) = expert_and_random_steps(CartPoleConfig::coarse(), "coarse");
        assert!(
            expert >= 5 * 110,
            "expert survived {expert} steps over 5 episodes"
        );
        assert!(random < 5 * 13, "random survived {random}");
    }

    #[test]
    fn the_coarse_camera_shows_the_whole_track_and_a_tilt_of_12_degrees_moves_the_top_2_px() {
        let c = CartPoleConfig::coarse();
        let s = CartPole::new(c.clone(), "coarse").unwrap();
        let cam = s.base.renderer.camera;
        let end = cam
            .project([c.x_threshold + CART_HALF[0], CART_Y, 0.0], 32, 32)
            .unwrap();
        assert!(end[0] < 32.0, "track end at {end:?} is off the frame");
        let pivot = [0.0, CART_Y + CART_HALF[1]];
        let len = 2.0 * c.pole_half_length;
        let tilt = c.theta_threshold_deg.to_radians();
        let up = cam
            .project([pivot[0], pivot[1] + len, 0.0], 32, 32)
            .unwrap();
        let tilted = cam
            .project([len * tilt.sin(), pivot[1] + len * tilt.cos(), 0.0], 32, 32)
            .unwrap();
        let moved = (tilted[0] - up[0]).hypot(tilted[1] - up[1]);
        assert!(moved > 2.0, "12 degrees moves the pole top {moved} px");
    }

    #[test]
    fn the_expert_balances_far_longer_than_random() {
        let (expert, random) = expert_and_random_steps(CartPoleConfig::id(), "id");
        assert!(
            expert >= 5 * 450,
            "expert survived {expert} steps over 5 episodes"
        );
        assert!(random < 5 * 100, "random survived {random}");
    }

    #[test]
    fn reward_is_one_per_step_and_it_terminates_past_12_degrees() {
        let mut s = CartPole::new(CartPoleConfig::id(), "id").unwrap();
        s.reset(0);
        let (steps, total) = run(&mut s, &mut |_| Action::Discrete(1));
        assert_eq!(total, steps as f32);
        assert!(
            steps < 100,
            "always pushing right should topple the pole quickly"
        );
        let st = s.state();
        assert!(
            st[2].abs() > 12f32.to_radians() || st[0].abs() > 2.4,
            "{st:?}"
        );
    }

    #[test]
    fn it_terminates_past_the_track_end() {
        let mut s = CartPole::new(
            CartPoleConfig {
                x_threshold: 0.05,
                ..CartPoleConfig::id()
            },
            "custom",
        )
        .unwrap();
        s.reset(2);
        let mut flag = false;
        for _ in 0..20 {
            let theta = s.state()[2];
            // Keep the pole up while drifting: this must end on |x|, not on theta.
            let t = s.step(&Action::Discrete(usize::from(theta > 0.0))).unwrap();
            if t.terminated {
                flag = s.state()[0].abs() > 0.05;
                break;
            }
        }
        assert!(flag, "did not terminate past x_threshold");
    }

    #[test]
    fn the_initial_state_is_small_and_the_pole_falls_under_gravity() {
        let mut s = CartPole::new(CartPoleConfig::id(), "id").unwrap();
        s.reset(11);
        let st = s.state();
        assert!(st.iter().all(|v| v.abs() <= 0.0501), "{st:?}");
        let falls = |s: &mut CartPole| {
            for _ in 0..30 {
                s.step(&Action::Discrete(0)).unwrap();
                s.step(&Action::Discrete(1)).unwrap();
            }
            s.state()[2].abs()
        };
        assert!(falls(&mut s) > 0.1);
    }
}
