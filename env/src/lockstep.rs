//! The lockstep runner: a [`DreamEnv`] and its physics twin stepped from the same
//! seed with the same actions, recorded as a [`Rollout`] (see `docs/rollout.md`).
//!
//! The twin is the dream's scenario rebuilt from its config; it renders the same
//! `W` context frames the dream starts from, then both streams advance on each
//! action. Actions come from an [`ActionPlan`]: zeros, seeded random, the
//! scenario's scripted expert (reading the twin's true state) or a recorded list.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium_scenarios::{make_with_config, Action, Scenario, ScenarioConfig};

use crate::consistency::meter::{FrameMeter, FramePair};
use crate::dream::warmup_action;
use crate::rollout::{Rollout, RolloutMeta, SceneMeta, SceneObjectMeta, FORMAT, FORMAT_VERSION};
use crate::{DreamEnv, Env, EnvError};

/// Where the actions of a lockstep run come from.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionPlan {
    /// The warm-up action every step (zeros / index 0): passive dynamics.
    Idle,
    /// Uniform samples of the action space from a ChaCha8 seeded with `seed`.
    Random { seed: u64 },
    /// The scenario's scripted expert on the physics twin's true state.
    Scripted { seed: u64 },
    /// These actions in order (after the warm-up), then the warm-up action.
    Recorded(Vec<Action>),
}

impl ActionPlan {
    /// Parses `idle`, `random`, `scripted` (seeded with `seed`).
    pub fn named(name: &str, seed: u64) -> Result<Self, EnvError> {
        match name {
            "idle" | "zero" => Ok(ActionPlan::Idle),
            "random" => Ok(ActionPlan::Random { seed }),
            "scripted" | "expert" => Ok(ActionPlan::Scripted { seed }),
            other => Err(EnvError::BadConfig(format!(
                "unknown policy {other:?} (expected idle, random or scripted)"
            ))),
        }
    }
}

/// A fresh copy of `scenario`'s kind, config and variant (not its state).
pub fn clone_scenario(scenario: &dyn Scenario) -> Result<Box<dyn Scenario>, EnvError> {
    let mut config = scenario.config_json();
    if let serde_json::Value::Object(map) = &mut config {
        map.insert("scenario".into(), scenario.id().into());
    }
    Ok(make_with_config(
        ScenarioConfig::from_json(config)?,
        scenario.variant(),
    )?)
}

/// Everything recorded so far, frame by frame.
struct Recorder {
    meter: FrameMeter,
    rollout: Rollout,
}

impl Recorder {
    fn frame(&mut self, dream: &[u8], twin: &dyn Scenario, physics: &[u8]) -> Result<(), EnvError> {
        let r = &mut self.rollout;
        let FramePair {
            metrics,
            dream_centroids,
            physics_centroids,
        } = self.meter.measure(r.meta.steps, dream, physics)?;
        r.meta.metrics.push(metrics);
        r.dream_centroids.extend(dream_centroids.iter().flatten());
        r.physics_centroids
            .extend(physics_centroids.iter().flatten());
        r.dream_frames.extend_from_slice(dream);
        r.physics_frames.extend_from_slice(physics);
        r.physics_states.extend(twin.state());
        for o in twin.scene_objects() {
            r.scene_translations.extend(o.translation);
            r.scene_rotations.extend(o.rotation);
        }
        r.meta.steps += 1;
        Ok(())
    }
}

/// Runs `dream` and its physics twin in lockstep from `seed` for `steps` frames in
/// all (the `W` context frames included) and returns the rollout. Stops early
/// when physics terminates; the dream's predicted terminations are recorded but
/// do not stop it, and its time limit is lifted for the run.
pub fn run_lockstep(
    dream: &mut DreamEnv,
    plan: &ActionPlan,
    seed: u64,
    steps: usize,
    mut progress: impl FnMut(usize),
) -> Result<Rollout, EnvError> {
    let wn = dream.model().context_frames();
    if steps < wn {
        return Err(EnvError::BadConfig(format!(
            "a lockstep run needs at least the {wn} context frames, got {steps} steps"
        )));
    }
    let (h, w) = dream.frame_size();
    let mut twin = clone_scenario(dream.scenario())?;
    twin.reset(seed);
    let space = twin.action_space();
    let warmup = warmup_action(&space);
    let scene = twin.scene_objects();
    let colors = twin.colors();
    let meta = RolloutMeta {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        scenario: twin.id().into(),
        variant: twin.variant().into(),
        config: twin.config_json(),
        seed,
        model: dream.model().source().map(|p| p.display().to_string()),
        control_hz: twin.control_hz(),
        width: w,
        height: h,
        steps: 0,
        context_frames: wn,
        colors: colors.clone(),
        action_space: space.clone(),
        state_names: twin.state_names(),
        objects: Vec::new(),
        metrics: Vec::new(),
        scene: SceneMeta {
            camera: twin.camera(),
            objects: scene
                .iter()
                .map(|o| SceneObjectMeta {
                    name: o.name.clone(),
                    object: o.object,
                    rgb: o.rgb,
                    dynamic: o.dynamic,
                    shape: o.shape.clone(),
                })
                .collect(),
        },
    };
    let meter = FrameMeter::new(&colors, h, w, twin.arena_px(w, h));
    let mut rec = Recorder {
        rollout: Rollout {
            meta: RolloutMeta {
                objects: meter.names().to_vec(),
                ..meta
            },
            dream_frames: Vec::new(),
            physics_frames: Vec::new(),
            actions: Vec::new(),
            physics_states: Vec::new(),
            physics_rewards: Vec::new(),
            dream_rewards: Vec::new(),
            physics_terminated: Vec::new(),
            dream_terminated: Vec::new(),
            physics_centroids: Vec::new(),
            dream_centroids: Vec::new(),
            scene_translations: Vec::new(),
            scene_rotations: Vec::new(),
        },
        meter,
    };

    let saved_limit = dream.spec().max_episode_steps;
    dream.set_max_episode_steps(None);
    dream.set_ignore_termination(true);
    let result: Result<(), EnvError> = (|| {
        dream.reset(Some(seed))?;
        twin.reset(seed);
        // The context: physics frames on both sides.
        for t in 0..wn {
            if t > 0 {
                let tr = twin.step(&warmup)?;
                push_transition(
                    &mut rec.rollout,
                    &warmup,
                    tr.reward,
                    tr.terminated,
                    tr.reward,
                    tr.terminated,
                );
            }
            let frame = twin.render(w, h);
            rec.frame(&frame.data, twin.as_ref(), &frame.data)?;
            progress(rec.rollout.meta.steps);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(match plan {
            ActionPlan::Random { seed } | ActionPlan::Scripted { seed } => *seed,
            _ => 0,
        });
        let mut recorded = match plan {
            ActionPlan::Recorded(list) => list.iter(),
            _ => [].iter(),
        };
        while rec.rollout.meta.steps < steps {
            let action = match plan {
                ActionPlan::Idle => warmup.clone(),
                ActionPlan::Random { .. } => space.sample(&mut rng),
                ActionPlan::Scripted { .. } => twin.scripted_action(&mut rng),
                ActionPlan::Recorded(_) => recorded.next().cloned().unwrap_or(warmup.clone()),
            };
            let tr = twin.step(&action)?;
            let step = dream.step(&action)?;
            let dream_terminated = step
                .info
                .extra
                .get("terminated_prob")
                .and_then(|p| p.as_f64())
                .is_some_and(|p| p > 0.5);
            push_transition(
                &mut rec.rollout,
                &space.clip(&action),
                tr.reward,
                tr.terminated,
                step.reward,
                dream_terminated,
            );
            let physics = twin.render(w, h);
            rec.frame(&step.obs.frame.data, twin.as_ref(), &physics.data)?;
            progress(rec.rollout.meta.steps);
            if tr.terminated {
                break;
            }
        }
        Ok(())
    })();
    dream.set_max_episode_steps(saved_limit);
    dream.set_ignore_termination(false);
    result?;
    rec.rollout.validate()?;
    Ok(rec.rollout)
}

fn push_transition(
    r: &mut Rollout,
    action: &Action,
    p_reward: f32,
    p_term: bool,
    d_reward: f32,
    d_term: bool,
) {
    r.actions.extend(action.to_f32());
    r.physics_rewards.push(p_reward);
    r.physics_terminated.push(p_term);
    r.dream_rewards.push(d_reward);
    r.dream_terminated.push(d_term);
}

#[cfg(test)]
mod tests {
    use somnium_world_model::config::ModelConfig;

    use super::*;
    use crate::DreamModel;

    #[test]
    fn a_lockstep_run_records_both_streams_and_round_trips() {
        let model = DreamModel::random(&ModelConfig::tiny(), 2).unwrap();
        let wn = model.context_frames();
        let mut dream = DreamEnv::make("bounce-v0", "id", model).unwrap();
        let mut seen = 0;
        let r = run_lockstep(&mut dream, &ActionPlan::Random { seed: 1 }, 9, 6, |n| {
            seen = n
        })
        .unwrap();
        assert_eq!(seen, 6);
        assert_eq!(r.meta.steps, 6);
        assert_eq!(r.meta.context_frames, wn);
        for t in 0..wn {
            assert_eq!(r.dream_frame(t), r.physics_frame(t), "context frame {t}");
            assert_eq!(r.meta.metrics[t].centroid_error_px, Some(0.0));
        }
        assert!(!r.meta.scene.objects.is_empty());
        assert!(r.meta.scene.camera.is_some());
        let dir = tempfile::tempdir().unwrap();
        crate::rollout::write(&dir.path().join("r"), &r).unwrap();
        let back = crate::rollout::read(&dir.path().join("r")).unwrap();
        assert_eq!(back.meta, r.meta);
        assert_eq!(back.dream_frames, r.dream_frames);
    }
}
