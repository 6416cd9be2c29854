//! `reach-v0`: a two-link planar arm on revolute joints (axes along `+y`, the arm
//! moves in the horizontal plane, no gravity) driven by bounded joint torques reaches
//! for a target marker. Seen from above.
//!
//! State: `q1, q2, q1_dot, q2_dot, tip.x, tip.z, target.x, target.z`: joint angles
//! (rad; `q1` is link 1's yaw, `q2` link 2's yaw relative to link 1, yaw measured
//! from `+x` towards `-z`), their rates, the fingertip and the target in the `x, z`
//! plane (m). Action: `[tau1, tau2]` in `[-1, 1]`, scaled by `max_torque` N m.
//! Reward: `-distance(fingertip, target)`, plus `success_bonus` and termination
//! when the distance falls under `reach_threshold`.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rapier3d::prelude::*;
use serde::{Deserialize, Serialize};

use crate::base::{delegate_to_base, ScenarioBase};
use crate::render::Camera;
use crate::world::{
    box_space, check_positive, check_rate, check_within, visual_only, wrap_angle, yaw_of, Range,
};
use crate::{
    Action, ColorTable, ObjectColor, Scenario, ScenarioError, Space, SuccessRule, Transition,
};

/// Configuration of `reach-v0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReachConfig {
    pub link_lengths: [f32; 2],
    pub link_masses: [f32; 2],
    /// Torque (N m) of an action of magnitude 1.
    pub max_torque: f32,
    /// Angular damping of both links (1/s).
    pub damping: f32,
    /// Target distance from the base (m), and its bearing is uniform.
    pub target_radius: Range,
    /// Initial `q1` and `q2` are drawn from these ranges (rad), at rest.
    pub initial_q1: Range,
    pub initial_q2: Range,
    pub reach_threshold: f32,
    pub success_bonus: f32,
    pub control_hz: f32,
    pub substeps: u32,
    pub max_episode_steps: u32,
}

impl Default for ReachConfig {
    fn default() -> Self {
        Self {
            link_lengths: [0.5, 0.5],
            link_masses: [1.0, 1.0],
            max_torque: 2.0,
            damping: 1.0,
            target_radius: Range::new(0.3, 0.9),
            initial_q1: Range::new(-3.14, 3.14),
            initial_q2: Range::new(-2.5, 2.5),
            reach_threshold: 0.05,
            success_bonus: 10.0,
            control_hz: 15.0,
            substeps: 4,
            max_episode_steps: 200,
        }
    }
}

impl ReachConfig {
    /// The in-distribution preset (the default).
    pub fn id() -> Self {
        Self::default()
    }

    /// Out of distribution: heavier, less damped links and a stronger motor.
    pub fn ood() -> Self {
        Self {
            link_masses: [2.0, 1.5],
            damping: 0.4,
            max_torque: 3.0,
            ..Self::default()
        }
    }

    /// Error naming the first invalid field.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check_rate(self.control_hz, self.substeps)?;
        for (n, v) in [
            ("link_lengths[0]", self.link_lengths[0]),
            ("link_lengths[1]", self.link_lengths[1]),
            ("link_masses[0]", self.link_masses[0]),
            ("link_masses[1]", self.link_masses[1]),
            ("max_torque", self.max_torque),
            ("reach_threshold", self.reach_threshold),
        ] {
            check_positive(n, v)?;
        }
        self.target_radius.check("target_radius", 0.0)?;
        self.initial_q1.check("initial_q1", -10.0)?;
        self.initial_q2.check("initial_q2", -10.0)?;
        check_within("damping", self.damping, 0.0, 1e4)?;
        check_within("success_bonus", self.success_bonus, -1e6, 1e6)?;
        Ok(())
    }
}

const ARM_Y: f32 = 0.08;

/// The `reach-v0` scenario.
pub struct Reach {
    config: ReachConfig,
    base: ScenarioBase,
    links: [RigidBodyHandle; 2],
    target: [f32; 2],
}

/// A point at distance `r` and yaw `angle` from the origin, as `(x, z)`.
fn polar(r: f32, angle: f32) -> [f32; 2] {
    [r * angle.cos(), -r * angle.sin()]
}

impl Reach {
    /// A scenario from a validated config, reset to seed 0.
    pub fn new(config: ReachConfig, variant: &str) -> Result<Self, ScenarioError> {
        config.validate()?;
        let reach = config.link_lengths[0] + config.link_lengths[1];
        let height = (reach + 0.15) / 22f32.to_radians().tan();
        let camera = Camera::look_at([0.0, height, 0.0], [0.0; 3], [0.0, 0.0, -1.0], 44.0);
        let mut s = Self {
            base: ScenarioBase::new(
                variant,
                config.control_hz,
                config.substeps,
                config.max_episode_steps,
                camera,
            ),
            config,
            links: [RigidBodyHandle::invalid(); 2],
            target: [0.0; 2],
        };
        s.reset(0);
        Ok(s)
    }

    /// The fingertip `(x, z)`.
    pub fn fingertip(&self) -> [f32; 2] {
        let b = self.base.core.body(self.links[1]);
        let tip = b.translation()
            + *b.rotation() * Vector::new(self.config.link_lengths[1] * 0.5, 0.0, 0.0);
        [tip.x, tip.z]
    }

    fn distance(&self) -> f32 {
        let t = self.fingertip();
        (t[0] - self.target[0]).hypot(t[1] - self.target[1])
    }
}

impl Scenario for Reach {
    fn id(&self) -> &'static str {
        "reach-v0"
    }
    delegate_to_base!();
    /// The fingertip on the target ends the episode: success is termination.
    fn success_rule(&self) -> SuccessRule {
        SuccessRule::Terminated
    }
    fn action_space(&self) -> Space {
        box_space(vec![-1.0; 2], vec![1.0; 2])
    }
    fn state_space(&self) -> Space {
        box_space(vec![f32::NEG_INFINITY; 8], vec![f32::INFINITY; 8])
    }
    fn state_names(&self) -> Vec<String> {
        [
            "q1", "q2", "q1_dot", "q2_dot", "tip.x", "tip.z", "target.x", "target.z",
        ]
        .map(String::from)
        .to_vec()
    }

    fn reset(&mut self, seed: u64) {
        let c = self.config.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.base.restart(Vector::ZERO);
        let [l1, l2] = c.link_lengths;
        let half = l1 + l2 + 0.15;
        let floor = ColliderBuilder::cuboid(half, 0.02, half).collision_groups(visual_only());
        self.base
            .core
            .add_static(Vector::new(0.0, -0.02, 0.0), floor, 0);
        let base = ColliderBuilder::cylinder(0.04, 0.07).collision_groups(visual_only());
        let base = self
            .base
            .core
            .add_static(Vector::new(0.0, ARM_Y, 0.0), base, 1);
        let base_body = self.base.core.world.colliders[base]
            .parent()
            .unwrap_or(RigidBodyHandle::invalid());
        let bearing = rng.random_range(-std::f32::consts::PI..std::f32::consts::PI);
        self.target = polar(c.target_radius.sample(&mut rng), bearing);
        let marker = ColliderBuilder::cylinder(0.01, 0.06).collision_groups(visual_only());
        self.base
            .core
            .add_static(Vector::new(self.target[0], 0.01, self.target[1]), marker, 2);
        let q1 = c.initial_q1.sample(&mut rng);
        let q2 = c.initial_q2.sample(&mut rng);
        let elbow = polar(l1, q1);
        let centres = [polar(l1 * 0.5, q1), {
            let d = polar(l2 * 0.5, q1 + q2);
            [elbow[0] + d[0], elbow[1] + d[1]]
        }];
        let yaws = [q1, q1 + q2];
        for i in 0..2 {
            let body = RigidBodyBuilder::dynamic()
                .translation(Vector::new(centres[i][0], ARM_Y, centres[i][1]))
                .rotation(Vector::Y * yaws[i])
                .angular_damping(c.damping)
                .can_sleep(false);
            let collider = ColliderBuilder::cuboid(c.link_lengths[i] * 0.5, 0.03, 0.035)
                .mass(c.link_masses[i])
                .collision_groups(visual_only());
            self.links[i] = self.base.core.add_object(body, collider, 3 + i).0;
        }
        let shoulder = RevoluteJointBuilder::new(Vector::Y)
            .local_anchor1(Vector::ZERO)
            .local_anchor2(Vector::new(-l1 * 0.5, 0.0, 0.0))
            .contacts_enabled(false);
        self.base
            .core
            .world
            .impulse_joints
            .insert(base_body, self.links[0], shoulder, true);
        let elbow = RevoluteJointBuilder::new(Vector::Y)
            .local_anchor1(Vector::new(l1 * 0.5, 0.0, 0.0))
            .local_anchor2(Vector::new(-l2 * 0.5, 0.0, 0.0))
            .contacts_enabled(false);
        self.base
            .core
            .world
            .impulse_joints
            .insert(self.links[0], self.links[1], elbow, true);
    }

    fn step(&mut self, action: &Action) -> Result<Transition, ScenarioError> {
        let space = self.action_space();
        space.validate(action)?;
        let a = space.clip(action).to_f32();
        let (t1, t2) = (a[0] * self.config.max_torque, a[1] * self.config.max_torque);
        let [first, second] = self.links;
        self.base.core.step_control(|w| {
            for (h, torque) in [(first, t1 - t2), (second, t2)] {
                if let Some(b) = w.bodies.get_mut(h) {
                    b.reset_torques(false);
                    b.add_torque(Vector::Y * torque, true);
                }
            }
        });
        let d = self.distance();
        let reached = d < self.config.reach_threshold;
        Ok(Transition {
            reward: -d
                + if reached {
                    self.config.success_bonus
                } else {
                    0.0
                },
            terminated: reached,
        })
    }

    fn state(&self) -> Vec<f32> {
        let (b1, b2) = (
            self.base.core.body(self.links[0]),
            self.base.core.body(self.links[1]),
        );
        let q1 = yaw_of(b1.rotation());
        let q2 = wrap_angle(yaw_of(b2.rotation()) - q1);
        let (w1, w2) = (b1.angvel().y, b2.angvel().y - b1.angvel().y);
        let tip = self.fingertip();
        vec![
            q1,
            q2,
            w1,
            w2,
            tip[0],
            tip[1],
            self.target[0],
            self.target[1],
        ]
    }
    fn colors(&self) -> ColorTable {
        let o = ObjectColor::new;
        ColorTable {
            background: [16, 16, 20],
            objects: vec![
                o("floor", [60, 60, 64], false),
                o("base", [150, 150, 150], false),
                o("target", [230, 30, 30], false),
                o("link1", [40, 80, 240], true),
                o("link2", [30, 200, 40], true),
            ],
        }
    }
    /// Inverse kinematics to the target (the elbow closest to the current one), then a
    /// PD controller on the joint angles.
    fn scripted_action(&self, _rng: &mut dyn rand::RngCore) -> Action {
        let s = self.state();
        let [l1, l2] = self.config.link_lengths;
        // Planar coordinates: (x, -z), where yaw is the ordinary angle.
        let (px, py) = (self.target[0], -self.target[1]);
        let d2 = px * px + py * py;
        let c2 = ((d2 - l1 * l1 - l2 * l2) / (2.0 * l1 * l2)).clamp(-1.0, 1.0);
        let q2 = c2.acos() * if s[1] >= 0.0 { 1.0 } else { -1.0 };
        let q1 = py.atan2(px) - (l2 * q2.sin()).atan2(l1 + l2 * q2.cos());
        let (kp, kd) = (6.0, 2.5);
        let t1 = kp * wrap_angle(q1 - s[0]) - kd * s[2];
        let t2 = kp * wrap_angle(q2 - s[1]) - kd * s[3];
        let m = self.config.max_torque;
        Action::Continuous(vec![(t1 / m).clamp(-1.0, 1.0), (t2 / m).clamp(-1.0, 1.0)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_angles_and_fingertip_agree_with_forward_kinematics() {
        let mut s = Reach::new(ReachConfig::id(), "id").unwrap();
        s.reset(5);
        for _ in 0..5 {
            s.step(&Action::Continuous(vec![0.5, -0.5])).unwrap();
        }
        let st = s.state();
        let [l1, l2] = s.config.link_lengths;
        let e = polar(l1, st[0]);
        let t = polar(l2, st[0] + st[1]);
        assert!(
            (e[0] + t[0] - st[4]).abs() < 0.02 && (e[1] + t[1] - st[5]).abs() < 0.02,
            "{st:?}"
        );
    }

    #[test]
    fn the_expert_reaches_most_targets() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut reached = 0;
        for seed in 0..8 {
            let mut s = Reach::new(ReachConfig::id(), "id").unwrap();
            s.reset(seed);
            for _ in 0..s.config.max_episode_steps {
                let a = s.scripted_action(&mut rng);
                if s.step(&a).unwrap().terminated {
                    reached += 1;
                    break;
                }
            }
        }
        assert!(reached >= 6, "reached {reached}/8");
    }
}
