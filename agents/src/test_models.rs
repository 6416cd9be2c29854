//! Tiny, randomly initialised world-model checkpoints for tests.

use std::path::Path;

use candle_core::Device;
use somnium_env::{Env, PhysicsEnv, Space};
use somnium_world_model::checkpoint::{save, Checkpoint};
use somnium_world_model::config::{ActionKind, ModelConfig};
use somnium_world_model::dit::DiT;

/// Saves a tiny random model (32x32 frames, 2 context frames) taking `scenario`'s
/// actions into `dir`.
pub(crate) fn tiny_checkpoint(dir: &Path, scenario: &str) {
    let space = Env::action_space(&PhysicsEnv::make(scenario, "id", 1, 1).unwrap());
    let action = match space {
        Space::Discrete(n) => ActionKind::Discrete { n },
        other => ActionKind::Continuous {
            dim: other.flat_dim(),
        },
    };
    let cfg = ModelConfig {
        action,
        sampling_steps: 1,
        ..ModelConfig::tiny()
    };
    let model = DiT::new(&cfg, 3, &Device::Cpu).unwrap();
    let ckpt = Checkpoint::new(
        serde_json::to_value(&cfg).unwrap(),
        0,
        model.params().snapshot().unwrap(),
    );
    save(dir, &ckpt).unwrap();
}
