//! `bounce-v0`: one to three balls sliding on a walled square arena, a billiard table
//! seen from straight above. Friction 0 and restitution 1 keep them moving; the
//! action is a bounded horizontal force on ball 0.
//!
//! State (length `6 * ball_count.max`): for each ball `i`, `ball{i}.x, ball{i}.y,
//! ball{i}.z, ball{i}.vx, ball{i}.vy, ball{i}.vz` in world coordinates (metres,
//! `+y` up, the arena spans `x, z` in `[-arena_half_width, arena_half_width]`).
//! Balls absent in this episode are padded with zeros. Action: `[fx, fz]` in
//! `[-1, 1]`, scaled by `max_force` newtons. Reward 0, never terminates.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rapier3d::prelude::*;
use serde::{Deserialize, Serialize};

use crate::base::{delegate_to_base, Arena, ScenarioBase};
use crate::render::Camera;
use crate::world::{
    box_space, check_positive, check_rate, check_within, visual_only, CountRange, Range,
};
use crate::{
    Action, ColorTable, ObjectColor, Scenario, ScenarioError, Space, SuccessRule, Transition,
};

/// Configuration of `bounce-v0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BounceConfig {
    /// Half the inner width of the square arena (m).
    pub arena_half_width: f32,
    pub ball_radius: f32,
    /// How many balls (1 to 3), drawn per episode from the seed.
    pub ball_count: CountRange,
    /// Initial horizontal speed (m/s).
    pub speed: Range,
    /// Ball mass (kg).
    pub mass: Range,
    pub restitution: f32,
    pub friction: f32,
    /// Force (N) of an action of magnitude 1.
    pub max_force: f32,
    pub control_hz: f32,
    pub substeps: u32,
    pub max_episode_steps: u32,
}

impl Default for BounceConfig {
    fn default() -> Self {
        Self {
            arena_half_width: 1.0,
            ball_radius: 0.16,
            ball_count: CountRange { min: 1, max: 3 },
            speed: Range::new(0.6, 1.8),
            mass: Range::new(0.5, 1.0),
            restitution: 1.0,
            friction: 0.0,
            max_force: 2.0,
            control_hz: 15.0,
            substeps: 4,
            max_episode_steps: 300,
        }
    }
}

impl BounceConfig {
    /// The in-distribution preset (the default).
    pub fn id() -> Self {
        Self::default()
    }

    /// Out of distribution: always three balls, faster, heavier, less bouncy.
    pub fn ood() -> Self {
        Self {
            ball_count: CountRange { min: 3, max: 3 },
            speed: Range::new(1.8, 2.7),
            mass: Range::new(2.0, 4.0),
            restitution: 0.9,
            ..Self::default()
        }
    }

    /// Error naming the first invalid field.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check_rate(self.control_hz, self.substeps)?;
        check_positive("arena_half_width", self.arena_half_width)?;
        check_positive("ball_radius", self.ball_radius)?;
        check_positive("max_force", self.max_force)?;
        if self.ball_radius * 4.0 > self.arena_half_width {
            return Err(ScenarioError::BadConfig(
                "ball_radius must be at most arena_half_width / 4".into(),
            ));
        }
        let c = self.ball_count;
        if c.min < 1 || c.max > 3 || c.min > c.max {
            return Err(ScenarioError::BadConfig(format!(
                "ball_count must satisfy 1 <= min <= max <= 3, got {c:?}"
            )));
        }
        self.speed.check("speed", 0.0)?;
        self.mass.check("mass", 1e-3)?;
        check_within("restitution", self.restitution, 0.0, 2.0)?;
        check_within("friction", self.friction, 0.0, 100.0)?;
        Ok(())
    }
}

/// The `bounce-v0` scenario.
pub struct Bounce {
    config: BounceConfig,
    base: ScenarioBase,
    balls: Vec<RigidBodyHandle>,
}

const BALL_RGB: [[u8; 3]; 3] = [[230, 30, 30], [30, 200, 40], [40, 80, 240]];

impl Bounce {
    /// A scenario from a validated config, reset to seed 0.
    pub fn new(config: BounceConfig, variant: &str) -> Result<Self, ScenarioError> {
        config.validate()?;
        let camera = Camera::look_at([0.0, 3.0, 0.0], [0.0; 3], [0.0, 0.0, -1.0], 44.0);
        let mut s = Self {
            base: ScenarioBase::new(
                variant,
                config.control_hz,
                config.substeps,
                config.max_episode_steps,
                camera,
            ),
            config,
            balls: Vec::new(),
        };
        s.reset(0);
        Ok(s)
    }

    /// Ball positions `(x, z)` that do not overlap, drawn from `rng`.
    fn place_balls(&self, count: usize, rng: &mut ChaCha8Rng) -> Vec<(f32, f32)> {
        let r = self.config.ball_radius;
        let lim = self.config.arena_half_width - r * 1.05;
        let mut placed: Vec<(f32, f32)> = Vec::new();
        for i in 0..count {
            let mut spot = (-lim + (i as f32 + 0.5) * 2.0 * lim / count as f32, 0.0);
            for _ in 0..100 {
                let p = (rng.random_range(-lim..=lim), rng.random_range(-lim..=lim));
                if placed
                    .iter()
                    .all(|q| (p.0 - q.0).hypot(p.1 - q.1) > 2.2 * r)
                {
                    spot = p;
                    break;
                }
            }
            placed.push(spot);
        }
        placed
    }
}

impl Scenario for Bounce {
    fn id(&self) -> &'static str {
        "bounce-v0"
    }
    delegate_to_base!();
    fn arena(&self) -> Option<Arena> {
        Some(Arena {
            half_width: self.config.arena_half_width,
            inset: self.config.ball_radius,
            centre_height: self.config.ball_radius,
        })
    }
    /// No goal: the balls just bounce.
    fn success_rule(&self) -> SuccessRule {
        SuccessRule::NoGoal
    }
    fn action_space(&self) -> Space {
        box_space(vec![-1.0; 2], vec![1.0; 2])
    }
    fn state_space(&self) -> Space {
        let n = self.state_names().len();
        box_space(vec![f32::NEG_INFINITY; n], vec![f32::INFINITY; n])
    }
    fn state_names(&self) -> Vec<String> {
        (0..self.config.ball_count.max)
            .flat_map(|i| ["x", "y", "z", "vx", "vy", "vz"].map(|k| format!("ball{i}.{k}")))
            .collect()
    }

    fn reset(&mut self, seed: u64) {
        let c = self.config.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.base.restart(Vector::ZERO);
        let (hw, t, h) = (c.arena_half_width, 0.06, 0.15);
        // Floor (visual only: balls are locked at their height) and four walls.
        self.base.core.add_static(
            Vector::new(0.0, -0.05, 0.0),
            ColliderBuilder::cuboid(hw + 2.0 * t, 0.05, hw + 2.0 * t)
                .collision_groups(visual_only()),
            0,
        );
        for (x, z, hx, hz) in [
            (hw + t, 0.0, t, hw + 2.0 * t),
            (-hw - t, 0.0, t, hw + 2.0 * t),
            (0.0, hw + t, hw, t),
            (0.0, -hw - t, hw, t),
        ] {
            let wall = ColliderBuilder::cuboid(hx, h, hz)
                .restitution(c.restitution)
                .friction(c.friction)
                .restitution_combine_rule(CoefficientCombineRule::Max)
                .friction_combine_rule(CoefficientCombineRule::Min);
            self.base.core.add_static(Vector::new(x, h, z), wall, 1);
        }
        let count = c.ball_count.sample(&mut rng) as usize;
        let spots = self.place_balls(count, &mut rng);
        self.balls.clear();
        for (i, (x, z)) in spots.into_iter().enumerate() {
            let speed = c.speed.sample(&mut rng);
            let heading = rng.random_range(0.0..std::f32::consts::TAU);
            let mass = c.mass.sample(&mut rng);
            let body = RigidBodyBuilder::dynamic()
                .translation(Vector::new(x, c.ball_radius, z))
                .linvel(Vector::new(
                    speed * heading.cos(),
                    0.0,
                    speed * heading.sin(),
                ))
                .enabled_translations(true, false, true)
                .lock_rotations()
                .linear_damping(0.0)
                .can_sleep(false)
                .ccd_enabled(true);
            let collider = ColliderBuilder::ball(c.ball_radius)
                .mass(mass)
                .restitution(c.restitution)
                .friction(c.friction)
                .restitution_combine_rule(CoefficientCombineRule::Max)
                .friction_combine_rule(CoefficientCombineRule::Min);
            let (handle, _) = self.base.core.add_object(body, collider, 2 + i);
            self.balls.push(handle);
        }
    }

    fn step(&mut self, action: &Action) -> Result<Transition, ScenarioError> {
        let space = self.action_space();
        space.validate(action)?;
        let a = space.clip(action).to_f32();
        let force = Vector::new(a[0], 0.0, a[1]) * self.config.max_force;
        let ball0 = self.balls[0];
        self.base.core.step_control(|w| {
            if let Some(b) = w.bodies.get_mut(ball0) {
                b.reset_forces(false);
                b.add_force(force, true);
            }
        });
        Ok(Transition {
            reward: 0.0,
            terminated: false,
        })
    }

    fn state(&self) -> Vec<f32> {
        let mut s = vec![0.0; 6 * self.config.ball_count.max as usize];
        for (i, h) in self.balls.iter().enumerate() {
            let b = self.base.core.body(*h);
            let (p, v) = (b.translation(), b.linvel());
            s[6 * i..6 * i + 6].copy_from_slice(&[p.x, p.y, p.z, v.x, v.y, v.z]);
        }
        s
    }
    fn colors(&self) -> ColorTable {
        let mut objects = vec![
            ObjectColor {
                name: "floor".into(),
                rgb: [60, 60, 64],
                dynamic: false,
            },
            ObjectColor {
                name: "walls".into(),
                rgb: [150, 150, 150],
                dynamic: false,
            },
        ];
        for i in 0..self.config.ball_count.max as usize {
            objects.push(ObjectColor {
                name: format!("ball{i}"),
                rgb: BALL_RGB[i],
                dynamic: true,
            });
        }
        ColorTable {
            background: [16, 16, 20],
            objects,
        }
    }
    /// Pushes ball 0 towards ball 1 (or the arena centre when alone), with noise.
    fn scripted_action(&self, rng: &mut dyn rand::RngCore) -> Action {
        let p0 = self.base.core.body(self.balls[0]).translation();
        let goal = self
            .balls
            .get(1)
            .map_or(Vector::ZERO, |h| self.base.core.body(*h).translation());
        let d = (goal - p0).normalize_or(Vector::X);
        let noise: [f32; 2] = [rng.random_range(-0.3..=0.3), rng.random_range(-0.3..=0.3)];
        Action::Continuous(vec![
            (0.5 * d.x + noise[0]).clamp(-1.0, 1.0),
            (0.5 * d.z + noise[1]).clamp(-1.0, 1.0),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balls_keep_moving_and_stay_inside_the_arena() {
        let mut s = Bounce::new(BounceConfig::id(), "id").unwrap();
        s.reset(3);
        let hw = s.config.arena_half_width;
        for _ in 0..300 {
            s.step(&Action::Continuous(vec![0.0, 0.0])).unwrap();
        }
        let st = s.state();
        for i in 0..s.balls.len() {
            let (x, z, vx, vz) = (st[6 * i], st[6 * i + 2], st[6 * i + 3], st[6 * i + 5]);
            assert!(
                x.abs() < hw && z.abs() < hw,
                "ball {i} left the arena: {x} {z}"
            );
            assert!(
                vx.hypot(vz) > 0.3,
                "ball {i} stopped: speed {}",
                vx.hypot(vz)
            );
        }
    }

    #[test]
    fn ball_count_follows_the_config_and_pads_with_zeros() {
        let cfg = BounceConfig {
            ball_count: CountRange { min: 1, max: 1 },
            ..BounceConfig::id()
        };
        let s = Bounce::new(
            BounceConfig {
                ball_count: CountRange { min: 1, max: 3 },
                ..cfg.clone()
            },
            "custom",
        )
        .unwrap();
        assert_eq!(s.state().len(), 18);
        let one = Bounce::new(cfg, "custom").unwrap();
        assert_eq!(one.state().len(), 6);
        let counts: Vec<usize> = (0..20)
            .map(|seed| {
                let mut s = Bounce::new(BounceConfig::id(), "id").unwrap();
                s.reset(seed);
                s.balls.len()
            })
            .collect();
        assert!(counts.contains(&1) && counts.contains(&3), "{counts:?}");
    }

    #[test]
    fn the_force_moves_ball_zero() {
        let cfg = BounceConfig {
            speed: Range::new(0.0, 0.0),
            ..BounceConfig::id()
        };
        let mut s = Bounce::new(cfg, "custom").unwrap();
        s.reset(1);
        s.step(&Action::Continuous(vec![1.0, 0.0])).unwrap();
        assert!(s.state()[3] > 0.0);
    }
}
