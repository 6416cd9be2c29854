//! somnium-viewer: a Bevy app that shows a rollout's ground-truth scene in 3D
//! beside the dreamed and physics frames, their difference heat map and the
//! per-step metrics, with a timeline to play, step and scrub through it.
//!
//! The binary `somnium-viewer ROLLOUT_DIR` opens a rollout written by
//! `somnium_env::rollout`; `--screenshot out.png --at-step N` renders one frame
//! of the full layout without a person and exits (the CI's screenshot test).
//!
//! The pieces: [`reader`] turns a rollout directory into a [`RolloutView`];
//! [`app::build_app`] assembles the Bevy app around it; [`layout`] places the
//! views; [`check`] tells whether a rendered image shows what it should.

pub mod app;
pub mod check;
mod error;
pub mod layout;
pub mod model;
pub mod orbit;
pub mod panels;
pub mod pixels;
pub mod reader;
pub mod scene3d;
pub mod screenshot;
pub mod timeline;

pub use app::{build_app, ViewerOptions};
pub use error::ViewerError;
pub use model::RolloutView;
