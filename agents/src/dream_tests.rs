//! Agents in the dream, on a tiny random world model: PPO trains in a dream vec
//! env, evaluation runs the same seeds in a dream and in physics (with frames
//! recorded), and the planner imagines with a model while acting in physics.

use somnium_env::DreamModel;

use crate::ppo::{PpoConfig, PpoTrainer};
use crate::test_models::tiny_checkpoint;
use crate::{
    AgentError, CemConfig, CemPlanner, EnvTarget, EvalOptions, Evaluator, ObsKind, PpoAgent,
    PpoPolicy, RandomPolicy,
};

fn dream_target(dir: &std::path::Path, scenario: &str) -> EnvTarget {
    tiny_checkpoint(dir, scenario);
    EnvTarget::parse(&format!("dream:{scenario}@{}", dir.display())).unwrap()
}

fn frames_config() -> PpoConfig {
    PpoConfig {
        total_steps: 48,
        num_envs: 3,
        num_steps: 8,
        num_minibatches: 2,
        update_epochs: 2,
        frame_size: 18,
        hidden: 16,
        ..PpoConfig::frames()
    }
}

#[test]
fn ppo_trains_a_pixel_policy_in_a_dream_and_refuses_states() {
    let dir = tempfile::tempdir().unwrap();
    let target = dream_target(dir.path(), "cartpole-v0");
    let mut trainer = PpoTrainer::new(frames_config(), target.clone()).unwrap();
    while !trainer.is_done() {
        let stats = trainer.train_update().unwrap();
        assert!(stats.policy_loss.is_finite() && stats.value_loss.is_finite());
    }
    assert_eq!(trainer.global_step(), 48);
    // The 32x32 dream frames were downsampled to 18x18; the render size is kept.
    assert_eq!(trainer.agent().obs.render, Some([32, 32]));
    let out = dir.path().join("agent");
    trainer.save(&out).unwrap();
    let (agent, file) = PpoAgent::load(&out, &candle_core::Device::Cpu).unwrap();
    assert!(file.env.starts_with("dream:cartpole-v0"), "{}", file.env);
    assert_eq!(agent.obs.render_size(), (32, 32));

    let state = PpoConfig {
        obs: ObsKind::State,
        ..frames_config()
    };
    let err = PpoTrainer::new(state, target).err().unwrap();
    assert!(matches!(err, AgentError::StateInDream(_)), "{err}");
}

#[test]
fn the_same_seeds_run_in_a_dream_and_in_physics_with_frames() {
    let dir = tempfile::tempdir().unwrap();
    let dream = dream_target(dir.path(), "cartpole-v0");
    let model = DreamModel::load(dir.path(), &candle_core::Device::Cpu).unwrap();
    let physics = EnvTarget::parse("physics:cartpole-v0").unwrap();
    let seeds = [7, 8, 9];
    let mut in_dream = Evaluator::new(
        &dream,
        EvalOptions {
            parallel: 3,
            ..EvalOptions::default()
        },
    )
    .unwrap();
    let mut in_physics = Evaluator::new(
        &physics,
        EvalOptions {
            parallel: 3,
            frame_size: Some(model.frame_size()),
            warmup: model.context_frames() - 1,
            ..EvalOptions::default()
        },
    )
    .unwrap();
    let a = in_dream
        .run_wave(&mut RandomPolicy::new(1), &seeds, true)
        .unwrap();
    let b = in_physics
        .run_wave(&mut RandomPolicy::new(1), &seeds, true)
        .unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.result.seed, y.result.seed);
        assert_eq!(x.frames.len(), x.result.length as usize + 1);
        assert_eq!(y.frames.len(), y.result.length as usize + 1);
        // Both start from the same frame: the dream's last context frame.
        assert_eq!(x.frames[0], y.frames[0]);
        assert!(x.result.done_reason.is_some() && y.result.done_reason.is_some());
    }
    // A pixel policy trained elsewhere acts in the dream (frames downsampled).
    let mut trainer = PpoTrainer::new(frames_config(), dream.clone()).unwrap();
    trainer.train_update().unwrap();
    let out = dir.path().join("agent");
    trainer.save(&out).unwrap();
    let (agent, _) = PpoAgent::load(&out, &candle_core::Device::Cpu).unwrap();
    let summary = in_dream
        .evaluate(&mut PpoPolicy::new(agent, true, 0), 4, 100)
        .unwrap();
    assert_eq!(summary.episodes.len(), 4);
    assert_eq!(summary.episodes[3].seed, 103);
    assert_eq!(summary.terminated + summary.time_limit, 4);
}

#[test]
fn the_planner_imagines_with_a_model_while_acting_in_physics() {
    let dir = tempfile::tempdir().unwrap();
    tiny_checkpoint(dir.path(), "push-v0");
    let model = DreamModel::load(dir.path(), &candle_core::Device::Cpu).unwrap();
    let physics = EnvTarget::parse("physics:push-v0").unwrap();
    let mut evaluator = Evaluator::new(
        &physics,
        EvalOptions {
            parallel: 2,
            planner_model: Some(model),
            ..EvalOptions::default()
        },
    )
    .unwrap();
    let mut cem = CemPlanner::new(CemConfig {
        horizon: 2,
        population: 4,
        elites: 2,
        iterations: 1,
        replan_every: 4,
        ..CemConfig::default()
    })
    .unwrap();
    let runs = evaluator.run_wave(&mut cem, &[3, 4], true).unwrap();
    assert_eq!(runs.len(), 2);
    for r in &runs {
        assert!(r.result.length > 0);
        // physics rendered the model's frames for the planner to read
        assert_eq!((r.frames[0].width, r.frames[0].height), (32, 32));
    }
}
