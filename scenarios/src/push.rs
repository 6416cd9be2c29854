//! `push-v0`: a kinematic cylinder pusher on a walled table pushes a cube onto a
//! goal marker (a flat disc that is drawn but collides with nothing). Seen from above.
//!
//! State: `pusher.x, pusher.z, cube.x, cube.z, cube.yaw, cube.vx, cube.vz, goal.x,
//! goal.z` (metres, radians; the table is the `x, z` plane, `+y` up). Action:
//! `[vx, vz]` in `[-1, 1]`, the pusher velocity in units of `pusher_max_speed`.
//! Reward: `-distance(cube, goal)` in the plane, plus `success_bonus` on the step the
//! distance falls under `goal_radius`, which also terminates the episode.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rapier3d::prelude::*;
use serde::{Deserialize, Serialize};

use crate::base::{delegate_to_base, Arena, ScenarioBase};
use crate::render::Camera;
use crate::world::{
    add_square_walls, box_space, check_positive, check_rate, check_within, visual_only, yaw_of,
    Range,
};
use crate::{
    Action, ColorTable, ObjectColor, Scenario, ScenarioError, Space, SuccessRule, Transition,
};

/// Configuration of `push-v0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// Half the inner width of the square table (m).
    pub table_half_width: f32,
    pub cube_half_size: f32,
    pub cube_mass: Range,
    pub cube_friction: f32,
    pub pusher_radius: f32,
    /// Pusher speed (m/s) of an action of magnitude 1.
    pub pusher_max_speed: f32,
    /// Cube start: `x` and `z` each drawn from this range.
    pub cube_start: Range,
    /// Goal: `x` and `z` each drawn from this range, at least `min_goal_distance` from the cube.
    pub goal_start: Range,
    pub min_goal_distance: f32,
    /// Success when the cube centre is this close to the goal centre (also the disc radius).
    pub goal_radius: f32,
    pub success_bonus: f32,
    pub control_hz: f32,
    pub substeps: u32,
    pub max_episode_steps: u32,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            table_half_width: 1.0,
            cube_half_size: 0.1,
            cube_mass: Range::new(0.3, 0.6),
            cube_friction: 0.5,
            pusher_radius: 0.08,
            pusher_max_speed: 0.6,
            cube_start: Range::new(-0.5, 0.5),
            goal_start: Range::new(-0.65, 0.65),
            min_goal_distance: 0.35,
            goal_radius: 0.1,
            success_bonus: 10.0,
            control_hz: 15.0,
            substeps: 4,
            max_episode_steps: 200,
        }
    }
}

impl PushConfig {
    /// The in-distribution preset (the default).
    pub fn id() -> Self {
        Self::default()
    }

    /// Out of distribution: a bigger, heavier, grippier cube and a faster pusher.
    pub fn ood() -> Self {
        Self {
            cube_half_size: 0.13,
            cube_mass: Range::new(1.0, 2.0),
            cube_friction: 0.8,
            pusher_max_speed: 0.9,
            ..Self::default()
        }
    }

    /// The in-distribution task controlled at 5 Hz instead of 15 (12 substeps,
    /// so physics still runs at 60 Hz; 67 steps, the same 13.4 s episode). An
    /// action then moves the pusher up to 0.12 m (3.2 px of a 64-pixel frame)
    /// instead of 0.04 m: the frame skip that Atari world models use, so that a
    /// model at 32x32 sees the pusher move by more than a pixel per step.
    pub fn coarse() -> Self {
        Self {
            control_hz: 5.0,
            substeps: 12,
            max_episode_steps: 67,
            ..Self::default()
        }
    }

    /// [`PushConfig::coarse`] with objects the size of `bounce-v0`'s balls: a
    /// 0.32 m cube (4.2 px of a 32-pixel frame instead of 2.6), a 0.24 m pusher
    /// and a goal disc of radius 0.16 m (also the success radius). At 32x32 a
    /// 2-pixel object falls inside one 4x4 patch and a model learns it as a blob
    /// (measured, README); at this size each object spans patches as bounce's
    /// balls do. The goal starts at least 0.5 m from the cube.
    pub fn large() -> Self {
        Self {
            cube_half_size: 0.16,
            pusher_radius: 0.12,
            goal_radius: 0.16,
            min_goal_distance: 0.5,
            ..Self::coarse()
        }
    }

    /// Error naming the first invalid field.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check_rate(self.control_hz, self.substeps)?;
        for (n, v) in [
            ("table_half_width", self.table_half_width),
            ("cube_half_size", self.cube_half_size),
            ("pusher_radius", self.pusher_radius),
            ("pusher_max_speed", self.pusher_max_speed),
            ("goal_radius", self.goal_radius),
        ] {
            check_positive(n, v)?;
        }
        self.cube_mass.check("cube_mass", 1e-3)?;
        self.cube_start
            .check("cube_start", -self.table_half_width)?;
        self.goal_start
            .check("goal_start", -self.table_half_width)?;
        if self.cube_start.hi.max(self.goal_start.hi) > self.table_half_width - self.cube_half_size
        {
            return Err(ScenarioError::BadConfig(
                "cube_start and goal_start must lie inside the table".into(),
            ));
        }
        check_within("cube_friction", self.cube_friction, 0.0, 100.0)?;
        check_within("success_bonus", self.success_bonus, -1e6, 1e6)?;
        check_within(
            "min_goal_distance",
            self.min_goal_distance,
            0.0,
            4.0 * self.table_half_width,
        )?;
        Ok(())
    }
}

/// The `push-v0` scenario.
pub struct Push {
    config: PushConfig,
    base: ScenarioBase,
    pusher: RigidBodyHandle,
    cube: RigidBodyHandle,
    goal: [f32; 2],
}

impl Push {
    /// A scenario from a validated config, reset to seed 0.
    pub fn new(config: PushConfig, variant: &str) -> Result<Self, ScenarioError> {
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
            pusher: RigidBodyHandle::invalid(),
            cube: RigidBodyHandle::invalid(),
            goal: [0.0; 2],
        };
        s.reset(0);
        Ok(s)
    }

    fn cube_xz(&self) -> [f32; 2] {
        let p = self.base.core.body(self.cube).translation();
        [p.x, p.z]
    }

    /// Planar distance between the cube centre and the goal centre.
    pub fn cube_goal_distance(&self) -> f32 {
        let c = self.cube_xz();
        (c[0] - self.goal[0]).hypot(c[1] - self.goal[1])
    }
}

impl Scenario for Push {
    fn id(&self) -> &'static str {
        "push-v0"
    }
    delegate_to_base!();
    fn arena(&self) -> Option<Arena> {
        Some(Arena {
            half_width: self.config.table_half_width,
            inset: self.config.cube_half_size,
            centre_height: self.config.cube_half_size,
        })
    }
    /// The cube on the goal ends the episode: success is termination.
    fn success_rule(&self) -> SuccessRule {
        SuccessRule::Terminated
    }
    fn action_space(&self) -> Space {
        box_space(vec![-1.0; 2], vec![1.0; 2])
    }
    fn state_space(&self) -> Space {
        box_space(vec![f32::NEG_INFINITY; 9], vec![f32::INFINITY; 9])
    }
    fn state_names(&self) -> Vec<String> {
        [
            "pusher.x", "pusher.z", "cube.x", "cube.z", "cube.yaw", "cube.vx", "cube.vz", "goal.x",
            "goal.z",
        ]
        .map(String::from)
        .to_vec()
    }

    fn reset(&mut self, seed: u64) {
        let c = self.config.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.base.restart(Vector::new(0.0, -9.81, 0.0));
        let hw = c.table_half_width;
        let floor = ColliderBuilder::cuboid(hw + 0.12, 0.05, hw + 0.12).friction(c.cube_friction);
        self.base
            .core
            .add_static(Vector::new(0.0, -0.05, 0.0), floor, 0);
        add_square_walls(
            &mut self.base.core,
            hw,
            0.08,
            0.08,
            ColliderBuilder::ball(1.0).friction(0.2),
            1,
        );
        let cube = [c.cube_start.sample(&mut rng), c.cube_start.sample(&mut rng)];
        let mut goal = [c.goal_start.sample(&mut rng), c.goal_start.sample(&mut rng)];
        for _ in 0..100 {
            if (goal[0] - cube[0]).hypot(goal[1] - cube[1]) >= c.min_goal_distance {
                break;
            }
            goal = [c.goal_start.sample(&mut rng), c.goal_start.sample(&mut rng)];
        }
        self.goal = goal;
        let disc = ColliderBuilder::cylinder(0.004, c.goal_radius)
            .collision_groups(visual_only())
            .sensor(true);
        self.base
            .core
            .add_static(Vector::new(goal[0], 0.004, goal[1]), disc, 2);
        let cube_yaw = rng.random_range(-0.5f32..0.5);
        let body = RigidBodyBuilder::dynamic()
            .translation(Vector::new(cube[0], c.cube_half_size, cube[1]))
            .rotation(Vector::Y * cube_yaw)
            .can_sleep(false);
        let h = c.cube_half_size;
        let collider = ColliderBuilder::cuboid(h, h, h)
            .mass(c.cube_mass.sample(&mut rng))
            .friction(c.cube_friction);
        self.cube = self.base.core.add_object(body, collider, 3).0;
        // The pusher starts on a ring around the cube, inside the table.
        let lim = hw - c.pusher_radius;
        let angle = rng.random_range(0.0..std::f32::consts::TAU);
        let reach = 2.5 * h + c.pusher_radius;
        let start = [
            (cube[0] + reach * angle.cos()).clamp(-lim, lim),
            (cube[1] + reach * angle.sin()).clamp(-lim, lim),
        ];
        let body = RigidBodyBuilder::kinematic_position_based()
            .translation(Vector::new(start[0], 0.06, start[1]));
        let collider = ColliderBuilder::cylinder(0.06, c.pusher_radius).friction(0.3);
        self.pusher = self.base.core.add_object(body, collider, 4).0;
    }

    fn step(&mut self, action: &Action) -> Result<Transition, ScenarioError> {
        let space = self.action_space();
        space.validate(action)?;
        let a = space.clip(action).to_f32();
        let (pusher, dt) = (self.pusher, self.base.core.dt());
        let velocity = Vector::new(a[0], 0.0, a[1]) * self.config.pusher_max_speed;
        let lim = self.config.table_half_width - self.config.pusher_radius;
        self.base.core.step_control(|w| {
            if let Some(b) = w.bodies.get_mut(pusher) {
                let next = b.translation() + velocity * dt;
                b.set_next_kinematic_translation(Vector::new(
                    next.x.clamp(-lim, lim),
                    next.y,
                    next.z.clamp(-lim, lim),
                ));
            }
        });
        let d = self.cube_goal_distance();
        let success = d < self.config.goal_radius;
        let reward = -d
            + if success {
                self.config.success_bonus
            } else {
                0.0
            };
        Ok(Transition {
            reward,
            terminated: success,
        })
    }

    fn state(&self) -> Vec<f32> {
        let p = self.base.core.body(self.pusher).translation();
        let cube = self.base.core.body(self.cube);
        let (c, v) = (cube.translation(), cube.linvel());
        vec![
            p.x,
            p.z,
            c.x,
            c.z,
            yaw_of(cube.rotation()),
            v.x,
            v.z,
            self.goal[0],
            self.goal[1],
        ]
    }
    fn colors(&self) -> ColorTable {
        let o = ObjectColor::new;
        ColorTable {
            background: [16, 16, 20],
            objects: vec![
                o("table", [60, 60, 64], false),
                o("walls", [150, 150, 150], false),
                o("goal", [30, 200, 40], false),
                o("cube", [40, 80, 240], true),
                o("pusher", [230, 30, 30], true),
            ],
        }
    }
    /// Goes around to the side of the cube away from the goal, then pushes it towards the goal.
    fn scripted_action(&self, rng: &mut dyn rand::RngCore) -> Action {
        let s = self.state();
        let (pusher, cube, goal) = ([s[0], s[1]], [s[2], s[3]], [s[7], s[8]]);
        let sub = |a: [f32; 2], b: [f32; 2]| [a[0] - b[0], a[1] - b[1]];
        let to_goal = sub(goal, cube);
        let len = to_goal[0].hypot(to_goal[1]).max(1e-6);
        let dir = [to_goal[0] / len, to_goal[1] / len];
        let perp = [-dir[1], dir[0]];
        let rel = sub(pusher, cube);
        let along = rel[0] * dir[0] + rel[1] * dir[1];
        let lat = rel[0] * perp[0] + rel[1] * perp[1];
        let contact = self.config.cube_half_size + self.config.pusher_radius;
        let clear = 1.5 * self.config.cube_half_size + self.config.pusher_radius + 0.06;
        let at = |a: f32, l: f32| {
            [
                cube[0] + dir[0] * a + perp[0] * l,
                cube[1] + dir[1] * a + perp[1] * l,
            ]
        };
        let speed = self.config.pusher_max_speed;
        let v = if along < -0.9 * contact && lat.abs() < 0.03 {
            // Aligned behind the cube: push towards the goal, correcting sideways drift.
            let k = (len / 0.3).clamp(0.4, 1.0);
            [
                k * dir[0] - 3.0 * lat * perp[0],
                k * dir[1] - 3.0 * lat * perp[1],
            ]
        } else {
            let target = if along < -0.9 * contact {
                at(-clear, 0.0)
            } else if lat.abs() < clear * 0.95 {
                let side = if lat >= 0.0 { 1.0 } else { -1.0 };
                at(along, side * clear)
            } else {
                at(-clear, lat.signum() * clear)
            };
            let d = sub(target, pusher);
            // Close 40% of the gap per control step (a gain of 6/s at 15 Hz).
            let gain = 6.0f32.min(0.4 * self.config.control_hz);
            [d[0] * gain / speed, d[1] * gain / speed]
        };
        let jitter = rng.random_range(-0.02f32..=0.02);
        Action::Continuous(vec![
            (v[0] + jitter).clamp(-1.0, 1.0),
            (v[1] - jitter).clamp(-1.0, 1.0),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripted_expert_pushes_the_cube_towards_the_goal_in_most_seeds() {
        for (variant, config) in [
            ("id", PushConfig::id()),
            ("coarse", PushConfig::coarse()),
            ("large", PushConfig::large()),
        ] {
            let mut improved = 0;
            let mut solved = 0;
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            for seed in 0..10 {
                let mut s = Push::new(config.clone(), variant).unwrap();
                s.reset(seed);
                let start = s.cube_goal_distance();
                let mut done = false;
                for _ in 0..s.config.max_episode_steps {
                    let a = s.scripted_action(&mut rng);
                    if s.step(&a).unwrap().terminated {
                        done = true;
                        break;
                    }
                }
                if s.cube_goal_distance() < 0.5 * start {
                    improved += 1;
                }
                solved += done as usize;
            }
            assert!(
                improved >= 7,
                "{variant}: expert halved the distance in only {improved}/10 seeds"
            );
            assert!(
                solved >= 5,
                "{variant}: expert solved only {solved}/10 seeds"
            );
        }
    }

    #[test]
    fn a_coarse_step_moves_the_pusher_three_times_as_far_in_the_same_time_per_physics_step() {
        let moved = |config: PushConfig| {
            let mut s = Push::new(config, "v").unwrap();
            s.reset(3);
            let before = s.state();
            s.step(&Action::Continuous(vec![1.0, 0.0])).unwrap();
            let after = s.state();
            (after[0] - before[0]).hypot(after[1] - before[1])
        };
        let (fine, coarse) = (moved(PushConfig::id()), moved(PushConfig::coarse()));
        assert!((fine - 0.04).abs() < 0.005, "15 Hz step moved {fine} m");
        assert!((coarse / fine - 3.0).abs() < 0.05, "{coarse} vs {fine}");
        let c = PushConfig::coarse();
        assert_eq!(c.control_hz * c.substeps as f32, 60.0);
    }

    #[test]
    fn success_pays_the_bonus_and_terminates() {
        let mut s = Push::new(PushConfig::id(), "id").unwrap();
        s.reset(4);
        let g = s.goal;
        s.base
            .core
            .body_mut(s.cube)
            .set_translation(Vector::new(g[0], 0.1, g[1]), true);
        let t = s.step(&Action::Continuous(vec![0.0, 0.0])).unwrap();
        assert!(t.terminated && t.reward > 9.0, "{t:?}");
    }
}
