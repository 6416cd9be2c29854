//! The physics core every scenario shares: rapier3d's sets and pipeline stepped at a
//! fixed control rate, plus the map from each collider to its object in the colour table.
//!
//! Coordinates: metres, `+y` up, gravity along `-y`. One control period is
//! `substeps` physics steps of `1 / (control_hz * substeps)` seconds each.

use rapier3d::prelude::*;

use crate::ScenarioError;

/// A collider that is drawn: which object of the colour table it belongs to and
/// whether it can move (moving colliders are re-rendered every frame).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Drawable {
    pub collider: ColliderHandle,
    /// Index into the scenario's [`crate::ColorTable::objects`].
    pub object: usize,
    /// Whether the collider can move during an episode.
    pub moving: bool,
}

/// Collision groups for colliders that are only visual (markers, floors under
/// objects locked in height): they interact with nothing.
pub(crate) fn visual_only() -> InteractionGroups {
    InteractionGroups::none()
}

/// Rapier's whole world plus the list of drawn colliders.
pub(crate) struct PhysicsCore {
    pub world: PhysicsWorld,
    pub drawables: Vec<Drawable>,
    substeps: u32,
}

impl PhysicsCore {
    /// An empty world stepping `substeps` physics steps per control period of `1 / control_hz` s.
    pub fn new(control_hz: f32, substeps: u32, gravity: Vector) -> Self {
        let mut world = PhysicsWorld::new();
        world.gravity = gravity;
        world.integration_parameters.dt = 1.0 / (control_hz * substeps as f32);
        world.integration_parameters.num_solver_iterations = 8;
        Self {
            world,
            drawables: Vec::new(),
            substeps,
        }
    }

    /// Insert a body with one collider drawn as `object`; returns both handles.
    pub fn add_object(
        &mut self,
        body: RigidBodyBuilder,
        collider: ColliderBuilder,
        object: usize,
    ) -> (RigidBodyHandle, ColliderHandle) {
        let body = self.world.bodies.insert(body);
        let collider = self.add_collider(body, collider, object);
        (body, collider)
    }

    /// Attach a collider drawn as `object` to an existing body.
    pub fn add_collider(
        &mut self,
        body: RigidBodyHandle,
        collider: ColliderBuilder,
        object: usize,
    ) -> ColliderHandle {
        let collider = collider.user_data(object as u128).build();
        let handle =
            self.world
                .colliders
                .insert_with_parent(collider, body, &mut self.world.bodies);
        let moving = self.world.bodies.get(body).is_some_and(|b| !b.is_fixed());
        self.drawables.push(Drawable {
            collider: handle,
            object,
            moving,
        });
        handle
    }

    /// A fixed, drawn object (floor, wall, marker) at `translation`.
    pub fn add_static(
        &mut self,
        translation: Vector,
        collider: ColliderBuilder,
        object: usize,
    ) -> ColliderHandle {
        self.add_object(
            RigidBodyBuilder::fixed().translation(translation),
            collider,
            object,
        )
        .1
    }

    /// Advance one control period, calling `before_substep` before each physics step
    /// (to apply forces or move kinematic bodies).
    pub fn step_control(&mut self, mut before_substep: impl FnMut(&mut PhysicsWorld)) {
        for _ in 0..self.substeps {
            before_substep(&mut self.world);
            self.world.step();
        }
    }

    /// Moves every dynamic body by `distance` metres in a horizontal (`x, z`)
    /// direction drawn from a ChaCha8 seeded with `seed` (velocities kept).
    pub fn nudge(&mut self, distance: f32, seed: u64) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let handles: Vec<RigidBodyHandle> = self
            .world
            .bodies
            .iter()
            .filter(|(_, b)| b.is_dynamic())
            .map(|(h, _)| h)
            .collect();
        for h in handles {
            let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
            if let Some(body) = self.world.bodies.get_mut(h) {
                let t = body.translation();
                let offset = Vector::new(angle.cos(), 0.0, angle.sin()) * distance;
                body.set_translation(t + offset, true);
            }
        }
    }

    /// Physics step length in seconds.
    pub fn dt(&self) -> f32 {
        self.world.integration_parameters.dt
    }

    /// The body, or an internal error if the handle is stale (never for handles this core made).
    pub fn body(&self, handle: RigidBodyHandle) -> &RigidBody {
        &self.world.bodies[handle]
    }

    /// Mutable access to a body.
    #[cfg(test)]
    pub fn body_mut(&mut self, handle: RigidBodyHandle) -> &mut RigidBody {
        &mut self.world.bodies[handle]
    }
}

/// A `[lo, hi]` interval a config draws values from.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Range {
    pub lo: f32,
    pub hi: f32,
}

impl Range {
    /// The interval `[lo, hi]`.
    pub const fn new(lo: f32, hi: f32) -> Self {
        Self { lo, hi }
    }

    /// A uniform draw (exactly `lo` when the interval is empty).
    pub fn sample(&self, rng: &mut impl rand::Rng) -> f32 {
        if self.hi > self.lo {
            rng.random_range(self.lo..=self.hi)
        } else {
            self.lo
        }
    }

    /// Error unless both ends are finite and `lo <= hi` (and `lo >= min`).
    pub fn check(&self, name: &str, min: f32) -> Result<(), ScenarioError> {
        if !self.lo.is_finite()
            || !self.hi.is_finite()
            || self.lo > self.hi
            || self.lo < min
            || self.hi > MAX_MAGNITUDE
        {
            return Err(ScenarioError::BadConfig(format!(
                "{name} must be a finite range with {min} <= lo <= hi <= {MAX_MAGNITUDE}, got [{}, {}]",
                self.lo, self.hi
            )));
        }
        Ok(())
    }
}

/// The largest magnitude a length, speed, mass or force in a config may have:
/// far beyond any scene, well inside what rapier and the renderer handle.
pub(crate) const MAX_MAGNITUDE: f32 = 1e4;

/// Error unless `value` is finite, strictly positive and at most [`MAX_MAGNITUDE`].
pub(crate) fn check_positive(name: &str, value: f32) -> Result<(), ScenarioError> {
    if !(value.is_finite() && value > 0.0 && value <= MAX_MAGNITUDE) {
        return Err(ScenarioError::BadConfig(format!(
            "{name} must be a number in (0, {MAX_MAGNITUDE}], got {value}"
        )));
    }
    Ok(())
}

/// Error unless `value` is a number in `[lo, hi]`.
pub(crate) fn check_within(name: &str, value: f32, lo: f32, hi: f32) -> Result<(), ScenarioError> {
    if !(value.is_finite() && (lo..=hi).contains(&value)) {
        return Err(ScenarioError::BadConfig(format!(
            "{name} must be a number in [{lo}, {hi}], got {value}"
        )));
    }
    Ok(())
}

/// Checks shared by every config: control rate and substeps.
pub(crate) fn check_rate(control_hz: f32, substeps: u32) -> Result<(), ScenarioError> {
    check_within("control_hz", control_hz, 0.1, 1000.0)?;
    if substeps == 0 || substeps > 100 {
        return Err(ScenarioError::BadConfig(format!(
            "substeps must be in 1..=100, got {substeps}"
        )));
    }
    Ok(())
}

#[cfg(test)]
/// A rotation of `angle` radians about `+y` (yaw, seen from above: `+x` towards `-z`).
pub(crate) fn yaw(angle: f32) -> Rotation {
    Rotation::from_rotation_y(angle)
}

/// The yaw of a rotation about `+y`: the angle of its local `+x` axis in the `x, -z` plane.
pub(crate) fn yaw_of(rotation: &Rotation) -> f32 {
    let x = *rotation * Vector::X;
    (-x.z).atan2(x.x)
}

/// A `Box` space with per-element bounds.
pub(crate) fn box_space(low: Vec<f32>, high: Vec<f32>) -> crate::Space {
    let shape = vec![low.len()];
    crate::Space::Box { low, high, shape }
}

/// An integer `[min, max]` count range (e.g. how many balls).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CountRange {
    pub min: u32,
    pub max: u32,
}

impl CountRange {
    /// A uniform draw in `min..=max`.
    pub fn sample(&self, rng: &mut impl rand::Rng) -> u32 {
        if self.max > self.min {
            rng.random_range(self.min..=self.max)
        } else {
            self.min
        }
    }
}

/// Add four walls of `half_height` and `thickness` around the square `[-half, half]^2`
/// (inner faces on its border), drawn as `object`, with the given contact material.
pub(crate) fn add_square_walls(
    core: &mut PhysicsCore,
    half: f32,
    thickness: f32,
    half_height: f32,
    material: ColliderBuilder,
    object: usize,
) {
    let t = thickness * 0.5;
    let outer = half + thickness;
    for (x, z, hx, hz) in [
        (half + t, 0.0, t, outer),
        (-half - t, 0.0, t, outer),
        (0.0, half + t, half, t),
        (0.0, -half - t, half, t),
    ] {
        let mut wall = material.clone();
        wall.shape = SharedShape::cuboid(hx, half_height, hz);
        core.add_static(Vector::new(x, half_height, z), wall, object);
    }
}

/// Wrap an angle into `(-pi, pi]`.
pub(crate) fn wrap_angle(a: f32) -> f32 {
    let tau = std::f32::consts::TAU;
    let w = (a + std::f32::consts::PI).rem_euclid(tau) - std::f32::consts::PI;
    if w <= -std::f32::consts::PI {
        w + tau
    } else {
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaw_round_trips() {
        for a in [-2.0f32, -0.5, 0.0, 0.3, 1.5, 3.0] {
            assert!((yaw_of(&yaw(a)) - a).abs() < 1e-5, "angle {a}");
        }
    }

    #[test]
    fn range_check_refuses_inverted_or_nan() {
        assert!(Range::new(1.0, 0.0).check("r", 0.0).is_err());
        assert!(Range::new(f32::NAN, 0.0).check("r", 0.0).is_err());
        assert!(Range::new(-1.0, 0.0).check("r", 0.0).is_err());
        assert!(Range::new(0.0, 1.0).check("r", 0.0).is_ok());
    }

    #[test]
    fn a_ball_falls_under_gravity_one_control_period() {
        let mut core = PhysicsCore::new(15.0, 4, Vector::new(0.0, -9.81, 0.0));
        let (ball, _) = core.add_object(
            RigidBodyBuilder::dynamic().translation(Vector::new(0.0, 5.0, 0.0)),
            ColliderBuilder::ball(0.1),
            0,
        );
        core.step_control(|_| {});
        assert!(core.body(ball).translation().y < 5.0);
        assert_eq!(core.drawables.len(), 1);
        assert!(core.drawables[0].moving);
    }
}
