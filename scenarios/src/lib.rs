//! Ground-truth worlds for somnium: rapier3d scenes, their spaces, rewards and
//! terminations, and a software ray-cast renderer that draws what a camera sees.
//!
//! Every scenario implements [`Scenario`]. Build one by name with [`make`]:
//!
//! ```no_run
//! use somnium_scenarios::{make, Action};
//! let mut s = make("bounce-v0", "id").unwrap();
//! s.reset(7);
//! let t = s.step(&Action::Continuous(vec![0.0, 0.0])).unwrap();
//! let frame = s.render(64, 64);
//! assert_eq!(frame.data.len(), 64 * 64 * 3);
//! # let _ = t;
//! ```
//!
//! A scenario answers for itself what other crates need to know about it: its
//! control rate and render fps ([`Scenario::render_fps`], one frame per control
//! step), its [`Arena`], and how an episode's success is judged
//! ([`SuccessRule`]). [`catalog`] lists every scenario with its variants and
//! these facts (the env server reports it to clients). The five rapier
//! scenarios share their plumbing (world, renderer, camera, scene objects,
//! `nudge`) through one embedded base (`base.rs`).

mod base;
mod bounce;
mod cartpole;
mod catalog;
mod config;
mod occlusion;
mod push;
mod reach;
mod render;
mod scene;
mod space;
#[cfg(test)]
mod tests;
mod types;
mod world;

pub use base::Arena;
pub use bounce::{Bounce, BounceConfig};
pub use cartpole::{CartPole, CartPoleConfig};
pub use catalog::{catalog, describe, ScenarioInfo, SuccessRule, VariantInfo};
pub use config::{make_from_file, make_from_str, make_with_config, variants, ScenarioConfig};
pub use occlusion::{Occlusion, OcclusionConfig};
pub use push::{Push, PushConfig};
pub use reach::{Reach, ReachConfig};
pub use render::{Camera, Lighting};
pub use scene::{SceneObject, SceneShape};
pub use space::{Action, Space};
pub use types::{ColorTable, Frame, ObjectColor, ScenarioError, Transition};
pub use world::{CountRange, Range};

/// A rapier3d scene with a fixed control rate, driven one action at a time.
///
/// Semantics every implementation keeps:
/// - `reset(seed)` rebuilds the world from the config and the seed; the same seed
///   gives bit-identical states and frames.
/// - `step` validates the action (wrong length, NaN or an out-of-range discrete
///   index is an error that names the problem; continuous actions inside their
///   length are clipped to the box), applies it, advances physics by one control
///   period (`1 / control_hz`, in `substeps` physics steps) and returns the reward
///   and whether the episode terminated. Truncation (time limits) is the env's job;
///   [`Scenario::max_episode_steps`] says where that limit sits.
/// - `state()` is the documented state vector (see [`Scenario::state_names`]).
pub trait Scenario: Send {
    /// The registered id, e.g. `bounce-v0`.
    fn id(&self) -> &'static str;
    /// The named variant this config came from (`id`, `ood`, or `custom`).
    fn variant(&self) -> &str;
    /// The full config as JSON, for manifests and reproducibility.
    fn config_json(&self) -> serde_json::Value;
    /// Space of valid actions.
    fn action_space(&self) -> Space;
    /// Space of the state vector (a `Box` with one entry per [`Self::state_names`]).
    fn state_space(&self) -> Space;
    /// One name per entry of the state vector, e.g. `ball0.x`.
    fn state_names(&self) -> Vec<String>;
    /// Rebuild the world for `seed`.
    fn reset(&mut self, seed: u64);
    /// Apply `action` and advance one control period.
    fn step(&mut self, action: &Action) -> Result<Transition, ScenarioError>;
    /// The current state vector.
    fn state(&self) -> Vec<f32>;
    /// Control steps per second (15 by default).
    fn control_hz(&self) -> f32;
    /// Frames per second a video of this scenario plays at: one frame per
    /// control step, so the control rate of the variant (5 for `push-v0@coarse`).
    fn render_fps(&self) -> f32 {
        self.control_hz()
    }
    /// The time limit the env applies (`None` for no limit).
    fn max_episode_steps(&self) -> Option<u32>;
    /// One distinct flat colour per object; part of the public API so objects can
    /// be found in frames by colour alone.
    fn colors(&self) -> ColorTable;
    /// Render the current world to an RGB u8 frame of `width x height`.
    fn render(&self, width: usize, height: usize) -> Frame;
    /// A scripted expert that uses the true state to reach interesting states
    /// (the pusher pushes the cube, the cart balances the pole).
    fn scripted_action(&self, rng: &mut dyn rand::RngCore) -> Action;
    /// The walled arena the objects move in (world space, metres); `None` where
    /// there is none.
    fn arena(&self) -> Option<Arena> {
        None
    }
    /// The arena's inner width in metres (`None` where there is no arena), the
    /// scale of perturbations and of positions measured in frames.
    fn arena_size(&self) -> Option<f32> {
        self.arena().map(|a| a.size())
    }
    /// Where object centroids can lie in a `width x height` frame, in pixels
    /// `[x_min, y_min, x_max, y_max]` (the [`Scenario::arena`] less the objects'
    /// inset, projected through the camera at the objects' height), for baselines
    /// that reflect motion at the walls. `None` where there is no arena.
    fn arena_px(&self, width: usize, height: usize) -> Option<[f32; 4]> {
        self.arena()?.project(&self.camera()?, width, height)
    }
    /// How an episode's success follows from the way it ended (see
    /// [`SuccessRule::judge`]); tasks without a goal answer [`SuccessRule::NoGoal`].
    fn success_rule(&self) -> SuccessRule {
        SuccessRule::NoGoal
    }
    /// The camera the frames are rendered through (`None` where there is none).
    fn camera(&self) -> Option<Camera> {
        None
    }
    /// Every drawn collider with its shape, colour and current pose, so a 3D
    /// viewer can rebuild the scene without rapier (empty where not provided).
    fn scene_objects(&self) -> Vec<SceneObject> {
        Vec::new()
    }
    /// Moves every dynamic body by `distance` metres in a seeded random horizontal
    /// direction: a tiny perturbation of the state, for measuring how fast two
    /// nearly identical physics runs diverge. Returns `false` where not supported.
    fn nudge(&mut self, _distance: f32, _seed: u64) -> bool {
        false
    }
}

/// Every registered scenario id.
pub const SCENARIO_IDS: &[&str] = &[
    "bounce-v0",
    "push-v0",
    "cartpole-v0",
    "reach-v0",
    "occlusion-v0",
];

/// Build a scenario by id and named variant (`id` or `ood`).
pub fn make(id: &str, variant: &str) -> Result<Box<dyn Scenario>, ScenarioError> {
    make_with_config(ScenarioConfig::preset(id, variant)?, variant)
}
