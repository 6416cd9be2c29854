//! Shared value types: frames, colour tables, step results and errors.

use serde::{Deserialize, Serialize};

/// An RGB u8 image, row-major `[height, width, 3]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    /// `height * width * 3` bytes, row 0 at the top.
    pub data: Vec<u8>,
}

/// The colour of one object, so it can be found in frames by colour alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectColor {
    /// e.g. `ball0`, `cube`, `pole`.
    pub name: String,
    /// The flat (unshaded) colour; shading scales it, hue stays.
    pub rgb: [u8; 3],
    /// Whether the object moves (walls and floors do not).
    pub dynamic: bool,
}

impl ObjectColor {
    /// An object's entry in a colour table.
    pub fn new(name: &str, rgb: [u8; 3], dynamic: bool) -> Self {
        Self {
            name: name.into(),
            rgb,
            dynamic,
        }
    }
}

/// The colours of every object in a scenario, plus the background.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColorTable {
    /// Colour of pixels whose ray hits nothing.
    pub background: [u8; 3],
    pub objects: Vec<ObjectColor>,
}

/// What one control step produced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    pub reward: f32,
    pub terminated: bool,
}

/// Errors from scenarios: always names what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "unknown scenario '{0}' (known: bounce-v0, push-v0, cartpole-v0, reach-v0, occlusion-v0)"
    )]
    UnknownScenario(String),
    #[error("unknown variant '{variant}' of {scenario} (known: {known})")]
    UnknownVariant {
        scenario: String,
        variant: String,
        known: String,
    },
    #[error("bad action: {0}")]
    BadAction(String),
    #[error("bad config: {0}")]
    BadConfig(String),
    #[error("io error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}
