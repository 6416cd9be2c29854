//! A tiny fake scenario for unit tests: a square that moves in a unit box by the
//! action, drawn into the frame; it terminates when it reaches the right wall.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use somnium_scenarios::{
    Action, ColorTable, Frame, ObjectColor, Scenario, ScenarioError, Space, Transition,
};

pub(crate) struct FakeScenario {
    pos: [f32; 2],
}

impl FakeScenario {
    pub(crate) const LIMIT: u32 = 12;

    pub(crate) fn new() -> Self {
        FakeScenario { pos: [0.5, 0.5] }
    }
}

impl Scenario for FakeScenario {
    fn id(&self) -> &'static str {
        "fake-v0"
    }
    fn variant(&self) -> &str {
        "id"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::json!({"speed": 0.1})
    }
    fn action_space(&self) -> Space {
        Space::Box {
            low: vec![-1.0, -1.0],
            high: vec![1.0, 1.0],
            shape: vec![2],
        }
    }
    fn state_space(&self) -> Space {
        Space::Box {
            low: vec![0.0, 0.0],
            high: vec![1.0, 1.0],
            shape: vec![2],
        }
    }
    fn state_names(&self) -> Vec<String> {
        vec!["square.x".into(), "square.y".into()]
    }
    fn reset(&mut self, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.pos = [rng.random_range(0.1..0.6), rng.random_range(0.1..0.9)];
    }
    fn step(&mut self, action: &Action) -> Result<Transition, ScenarioError> {
        self.action_space().validate(action)?;
        let a = self.action_space().clip(action).to_f32();
        for (p, d) in self.pos.iter_mut().zip(a) {
            *p = (*p + 0.1 * d).clamp(0.0, 1.0);
        }
        Ok(Transition {
            reward: self.pos[0],
            terminated: self.pos[0] >= 1.0,
        })
    }
    fn state(&self) -> Vec<f32> {
        self.pos.to_vec()
    }
    fn control_hz(&self) -> f32 {
        15.0
    }
    fn max_episode_steps(&self) -> Option<u32> {
        Some(Self::LIMIT)
    }
    fn colors(&self) -> ColorTable {
        ColorTable {
            background: [0, 0, 0],
            objects: vec![ObjectColor {
                name: "square".into(),
                rgb: [255, 0, 0],
                dynamic: true,
            }],
        }
    }
    fn render(&self, width: usize, height: usize) -> Frame {
        let mut data = vec![0u8; width * height * 3];
        let cx = (self.pos[0] * (width.saturating_sub(1)) as f32) as usize;
        let cy = (self.pos[1] * (height.saturating_sub(1)) as f32) as usize;
        for y in cy.saturating_sub(1)..(cy + 2).min(height) {
            for x in cx.saturating_sub(1)..(cx + 2).min(width) {
                data[(y * width + x) * 3] = 255;
            }
        }
        Frame {
            width,
            height,
            data,
        }
    }
    fn scripted_action(&self, _rng: &mut dyn RngCore) -> Action {
        Action::Continuous(vec![1.0, 0.0])
    }
    fn arena_px(&self, width: usize, height: usize) -> Option<[f32; 4]> {
        Some([0.0, 0.0, width as f32 - 1.0, height as f32 - 1.0])
    }
}
