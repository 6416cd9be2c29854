//! DreamEnv, imagine and the vector dream on a tiny random model.

use somnium_scenarios::{make, Action};
use somnium_world_model::config::{ContextCache, ModelConfig};

use super::*;
use crate::{check_env, Imagine};

fn tiny_model() -> DreamModel {
    DreamModel::random(&ModelConfig::tiny(), 11).unwrap()
}

/// The tiny model dreaming with each way of keeping the context.
fn tiny_models() -> [DreamModel; 2] {
    [ContextCache::Window, ContextCache::Rolling].map(|cache| {
        let cfg = ModelConfig {
            sampling_cache: cache,
            ..ModelConfig::tiny()
        };
        DreamModel::random(&cfg, 11).unwrap()
    })
}

fn bounce(model: DreamModel) -> DreamEnv {
    DreamEnv::make("bounce-v0", "id", model).unwrap()
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.len().max(1) as f64
}

#[test]
fn dream_env_passes_check_env() {
    let mut env = bounce(tiny_model()).with_max_episode_steps(Some(15));
    check_env(&mut env).unwrap();
}

#[test]
fn reset_starts_from_the_physics_frames_and_hides_the_state() {
    let model = tiny_model();
    let (h, w) = model.frame_size();
    let wn = model.context_frames();
    let mut env = bounce(model);
    let (obs, info) = env.reset(Some(3)).unwrap();
    assert_eq!(info.seed, 3);
    assert!(obs.state.is_none());
    let mut physics = make("bounce-v0", "id").unwrap();
    let frames = context_frames(physics.as_mut(), 3, wn, w, h).unwrap();
    assert_eq!(&obs.frame, frames.last().unwrap());
    let step = env.step(&Action::Continuous(vec![0.3, -0.2])).unwrap();
    assert!(step.obs.state.is_none());
    assert_eq!(step.obs.frame.data.len(), h * w * 3);
}

#[test]
fn a_model_for_other_actions_is_refused() {
    let err = DreamEnv::make("cartpole-v0", "id", tiny_model())
        .err()
        .unwrap();
    assert!(err.to_string().contains("action"), "{err}");
}

#[test]
fn imagine_changes_nothing_and_matches_stepping() {
    for model in tiny_models() {
        imagine_matches_stepping(model);
    }
}

fn imagine_matches_stepping(model: DreamModel) {
    let mut env = bounce(model);
    // the random model may predict termination; keep dreaming to compare every step
    env.set_ignore_termination(true);
    env.reset(Some(5)).unwrap();
    env.step(&Action::Continuous(vec![0.5, 0.5])).unwrap();
    let plan: Vec<Action> = [[0.9, -0.4], [-1.0, 0.2], [0.0, 1.0], [0.3, 0.3]]
        .iter()
        .map(|a| Action::Continuous(a.to_vec()))
        .collect();
    let other: Vec<Action> = vec![Action::Continuous(vec![-0.7, 0.7]); 2];
    let before = env.state().unwrap().clone();
    let imagined = env.imagine(&[other, plan.clone()]).unwrap();
    let after = env.state().unwrap();
    assert_eq!(after.step, before.step);
    let same: Vec<f32> = after.context.flatten_all().unwrap().to_vec1().unwrap();
    let orig: Vec<f32> = before.context.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(same, orig, "imagine left the context alone");
    assert_eq!(imagined[0].rewards.len(), 2);
    assert_eq!(imagined[1].rewards.len(), 4);

    let frames = imagined[1].frames.as_ref().unwrap();
    for (k, action) in plan.iter().enumerate() {
        let step = env.step(action).unwrap();
        let diff = mean_abs_diff(&step.obs.frame.data, &frames[k].data);
        assert!(
            diff < 0.05,
            "step {k}: imagined frame differs by {diff} on average"
        );
        assert!((step.reward - imagined[1].rewards[k]).abs() < 1e-3);
        assert_eq!(step.terminated, imagined[1].terminated[k]);
    }
}

#[test]
fn imagine_refuses_a_bad_action_and_needs_a_reset() {
    let mut env = bounce(tiny_model());
    assert!(matches!(
        env.imagine(&[vec![Action::Continuous(vec![0.0, 0.0])]]),
        Err(EnvError::NeedsReset(_))
    ));
    env.reset(Some(1)).unwrap();
    let err = env
        .imagine(&[vec![Action::Continuous(vec![f32::NAN, 0.0])]])
        .unwrap_err();
    assert!(matches!(err, EnvError::BadAction { .. }), "{err}");
}

#[test]
fn the_vector_dream_matches_lone_dreams() {
    let model = tiny_model();
    let mut vec_env = DreamVecEnv::make("bounce-v0", "id", &model, 3).unwrap();
    let (obs, _) = vec_env.reset(Some(20)).unwrap();
    let actions: Vec<Action> = (0..3)
        .map(|i| Action::Continuous(vec![i as f32 * 0.4 - 0.4, 0.1]))
        .collect();
    let batched = vec_env.step(&actions).unwrap();
    for i in 0..3 {
        let mut lone = bounce(model.clone());
        let (first, _) = lone.reset(Some(20 + i as u64)).unwrap();
        assert_eq!(first, obs[i]);
        let step = lone.step(&actions[i]).unwrap();
        // a sub-env whose (random) model predicted termination was reset in the step
        let dreamed = batched.infos[i]
            .final_observation
            .as_deref()
            .unwrap_or(&batched.obs[i]);
        assert_eq!(step.terminated, batched.terminated[i]);
        let diff = mean_abs_diff(&step.obs.frame.data, &dreamed.frame.data);
        assert!(diff < 0.05, "sub-env {i} differs by {diff}");
    }
    let err = vec_env.step(&actions[..2]).unwrap_err();
    assert!(err.to_string().contains("sub-envs"), "{err}");
}

#[test]
fn rolling_vector_dreams_match_lone_dreams_over_steps() {
    let [_, model] = tiny_models();
    let envs = (0..3)
        .map(|_| {
            let mut e = bounce(model.clone());
            e.set_ignore_termination(true);
            e
        })
        .collect();
    let mut vec_env = DreamVecEnv::new(envs).unwrap();
    vec_env.reset(Some(40)).unwrap();
    let mut lone: Vec<DreamEnv> = (0..3)
        .map(|i| {
            let mut e = bounce(model.clone());
            e.set_ignore_termination(true);
            e.reset(Some(40 + i)).unwrap();
            e
        })
        .collect();
    for t in 0..5 {
        let actions: Vec<Action> = (0..3)
            .map(|i| Action::Continuous(vec![0.3 * i as f32 - 0.3, 0.2 * t as f32 - 0.4]))
            .collect();
        let batched = vec_env.step(&actions).unwrap();
        for (i, env) in lone.iter_mut().enumerate() {
            let step = env.step(&actions[i]).unwrap();
            let diff = mean_abs_diff(&step.obs.frame.data, &batched.obs[i].frame.data);
            assert!(diff < 0.05, "step {t} sub-env {i} differs by {diff}");
        }
        let cache = lone[0].state().unwrap().rolling.as_ref().unwrap();
        assert_eq!(cache.cache.frames, model.context_frames() - 1);
    }
}

#[test]
fn a_missing_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = DreamModel::load(&dir.path().join("nothing"), &candle_core::Device::Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("no model checkpoint"), "{err}");
}
