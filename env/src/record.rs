//! Recording episodes of a [`PhysicsEnv`] under a behaviour policy into dataset
//! shards (`somnium_world_model::data`).
//!
//! Episode `i` is reset with seed `seed + i`, and its policy draws from a ChaCha8
//! stream seeded by the same number, so a recording is reproducible episode by
//! episode and an interrupted one resumes exactly where its last complete shard
//! ended. Episodes are simulated in parallel (rayon) and written in order.
//!
//! Behaviour policies (`random`, `scripted`, `scripted:EPS`, optionally holding
//! random actions) are in [`crate::behaviour`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use somnium_scenarios::{Scenario, ScenarioError, Space};
use somnium_world_model::data::{
    DatasetManifest, DatasetSpec, DatasetWriter, Episode, ManifestActionSpace, ManifestColor,
};

pub use crate::behaviour::{BehaviourPolicy, SCRIPTED_EPSILON};
use crate::{Env, EnvError, PhysicsEnv};

/// Time limit used for scenarios that have none, so every episode ends.
pub const DEFAULT_MAX_STEPS: u32 = 1000;

/// What to record.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Episodes the dataset should hold when done (already recorded ones count).
    pub episodes: usize,
    /// Base seed: episode `i` uses `seed + i`.
    pub seed: u64,
    pub policy: BehaviourPolicy,
    pub width: usize,
    pub height: usize,
    pub episodes_per_shard: usize,
    /// Time limit; `None` uses the scenario's (or [`DEFAULT_MAX_STEPS`]).
    pub max_episode_steps: Option<u32>,
    /// Show an indicatif progress bar on stderr.
    pub progress: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            episodes: 100,
            seed: 0,
            policy: BehaviourPolicy::RANDOM,
            width: PhysicsEnv::DEFAULT_SIZE,
            height: PhysicsEnv::DEFAULT_SIZE,
            episodes_per_shard: 50,
            max_episode_steps: None,
            progress: false,
        }
    }
}

/// What a recording run did.
#[derive(Clone, Debug)]
pub struct RecordSummary {
    pub dir: PathBuf,
    /// Episodes already on disk when this run started.
    pub resumed_from: usize,
    /// Episodes recorded by this run.
    pub recorded: usize,
    /// Steps recorded by this run.
    pub recorded_steps: usize,
    /// Of this run's episodes, how many terminated and how many were truncated.
    pub terminated: usize,
    pub truncated: usize,
    /// Mean undiscounted return of this run's episodes (0 if none).
    pub mean_return: f64,
    pub elapsed_s: f64,
    /// The final manifest.
    pub manifest: DatasetManifest,
}

/// The dataset spec for recording `scenario` with `opts`.
pub fn dataset_spec(scenario: &dyn Scenario, opts: &RecordOptions) -> DatasetSpec {
    let colors = scenario.colors();
    let action_space = match scenario.action_space() {
        Space::Box { low, high, .. } => ManifestActionSpace::Box { low, high },
        Space::Discrete(n) => ManifestActionSpace::Discrete { n },
    };
    DatasetSpec {
        scenario: scenario.id().to_string(),
        variant: scenario.variant().to_string(),
        config: scenario.config_json(),
        seed: opts.seed,
        policy: opts.policy.name(),
        height: opts.height,
        width: opts.width,
        action_dim: action_space.flat_dim(),
        action_space,
        state_names: scenario.state_names(),
        background: colors.background,
        colors: colors
            .objects
            .into_iter()
            .map(|o| ManifestColor {
                name: o.name,
                rgb: o.rgb,
                dynamic: o.dynamic,
            })
            .collect(),
        arena_px: scenario.arena_px(opts.width, opts.height),
        control_hz: scenario.control_hz(),
        max_episode_steps: Some(effective_limit(scenario, opts)),
        episodes_per_shard: opts.episodes_per_shard,
    }
}

fn effective_limit(scenario: &dyn Scenario, opts: &RecordOptions) -> u32 {
    opts.max_episode_steps
        .or(scenario.max_episode_steps())
        .unwrap_or(DEFAULT_MAX_STEPS)
}

/// Run one episode from `seed` under `policy` (the env's time limit applies).
pub fn record_episode(
    env: &mut PhysicsEnv,
    policy: BehaviourPolicy,
    seed: u64,
) -> Result<Episode, EnvError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1); // Independent of any stream the scenario derives from the seed.
    let (obs, _) = env.reset(Some(seed))?;
    let mut ep = Episode {
        seed,
        frames: obs.frame.data,
        actions: Vec::new(),
        rewards: Vec::new(),
        terminated: Vec::new(),
        truncated: Vec::new(),
        states: obs.state.unwrap_or_default(),
    };
    let mut actor = policy.actor();
    loop {
        let action = actor.act(env, &mut rng);
        let step = env.step(&action)?;
        let done = step.done();
        ep.actions.extend(action.to_f32());
        ep.rewards.push(step.reward);
        ep.terminated.push(step.terminated);
        ep.truncated.push(step.truncated);
        ep.frames.extend_from_slice(&step.obs.frame.data);
        ep.states.extend(step.obs.state.unwrap_or_default());
        if done {
            return Ok(ep);
        }
        if env.spec().max_episode_steps.is_none() && ep.len() >= DEFAULT_MAX_STEPS as usize {
            return Ok(ep);
        }
    }
}

/// Record into `out` until it holds `opts.episodes` episodes, resuming a dataset
/// already there (same setup) after its last complete shard.
/// `make_scenario` builds a fresh scenario (one per worker thread).
pub fn record(
    make_scenario: &(dyn Fn() -> Result<Box<dyn Scenario>, ScenarioError> + Sync),
    out: &Path,
    opts: &RecordOptions,
) -> Result<RecordSummary, EnvError> {
    if opts.episodes_per_shard == 0 {
        return Err(EnvError::BadConfig(
            "episodes per shard must be at least 1".into(),
        ));
    }
    let probe = make_scenario()?;
    let limit = effective_limit(probe.as_ref(), opts);
    let spec = dataset_spec(probe.as_ref(), opts);
    drop(probe);
    let mut writer = DatasetWriter::open(out, spec)?;
    let resumed_from = writer.episodes_written();
    let start = Instant::now();
    let todo = opts.episodes.saturating_sub(resumed_from);
    let bar = if opts.progress {
        ProgressBar::new(opts.episodes as u64)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {pos}/{len} episodes [{elapsed_precise}<{eta}] {msg}",
    ) {
        bar.set_style(style);
    }
    bar.set_position(resumed_from as u64);
    let steps_done = AtomicUsize::new(0);
    let (mut terminated, mut truncated, mut return_sum) = (0, 0, 0.0f64);

    let batch = (rayon::current_num_threads() * 4).max(1);
    let mut next = resumed_from;
    while next < opts.episodes {
        let end = (next + batch).min(opts.episodes);
        let episodes: Vec<Episode> = (next..end)
            .into_par_iter()
            .map_init(
                || {
                    let mut env = PhysicsEnv::new(make_scenario()?, opts.width, opts.height)?;
                    env.set_max_episode_steps(Some(limit));
                    Ok::<_, EnvError>(env)
                },
                |env, i| {
                    let env = env
                        .as_mut()
                        .map_err(|e| EnvError::BadConfig(format!("building the scenario: {e}")))?;
                    let ep = record_episode(env, opts.policy, opts.seed.wrapping_add(i as u64))?;
                    let steps = steps_done.fetch_add(ep.len(), Ordering::Relaxed) + ep.len();
                    bar.inc(1);
                    bar.set_message(format!(
                        "{:.0} steps/s",
                        steps as f64 / start.elapsed().as_secs_f64().max(1e-9)
                    ));
                    Ok(ep)
                },
            )
            .collect::<Result<_, EnvError>>()?;
        for ep in episodes {
            terminated += usize::from(ep.terminated.last() == Some(&true));
            truncated += usize::from(ep.truncated.last() == Some(&true));
            return_sum += ep.rewards.iter().map(|&r| f64::from(r)).sum::<f64>();
            writer.push(ep)?;
        }
        next = end;
    }
    let manifest = writer.finish()?;
    bar.finish();
    Ok(RecordSummary {
        dir: out.to_path_buf(),
        resumed_from,
        recorded: todo,
        recorded_steps: steps_done.into_inner(),
        terminated,
        truncated,
        mean_return: if todo > 0 {
            return_sum / todo as f64
        } else {
            0.0
        },
        elapsed_s: start.elapsed().as_secs_f64(),
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeScenario;
    use somnium_world_model::data::DatasetReader;

    fn fake() -> Result<Box<dyn Scenario>, ScenarioError> {
        Ok(Box::new(FakeScenario::new()))
    }

    fn opts(episodes: usize, policy: BehaviourPolicy) -> RecordOptions {
        RecordOptions {
            episodes,
            seed: 11,
            policy,
            width: 8,
            height: 6,
            episodes_per_shard: 3,
            ..Default::default()
        }
    }

    #[test]
    fn recorded_episodes_replay_in_the_env() {
        let dir = tempfile::tempdir().unwrap();
        let summary = record(&fake, dir.path(), &opts(5, BehaviourPolicy::RANDOM)).unwrap();
        assert_eq!(
            (
                summary.recorded,
                summary.resumed_from,
                summary.manifest.shards.len()
            ),
            (5, 0, 2)
        );
        let reader = DatasetReader::open(dir.path()).unwrap();
        let episodes = reader.load_all().unwrap();
        assert_eq!(episodes.len(), 5);
        // Replaying episode 3's actions from its seed reproduces its frames.
        let ep = &episodes[3];
        assert_eq!(ep.seed, 14);
        let mut env = PhysicsEnv::new(Box::new(FakeScenario::new()), 8, 6).unwrap();
        let (obs, _) = env.reset(Some(ep.seed)).unwrap();
        let frame_bytes = 8 * 6 * 3;
        assert_eq!(obs.frame.data, ep.frames[..frame_bytes]);
        for (t, a) in ep.actions.chunks(2).enumerate() {
            let step = env
                .step(&somnium_scenarios::Action::Continuous(a.to_vec()))
                .unwrap();
            assert_eq!(
                step.obs.frame.data,
                ep.frames[(t + 1) * frame_bytes..(t + 2) * frame_bytes]
            );
            assert_eq!(step.reward, ep.rewards[t]);
        }
    }

    #[test]
    fn recording_is_reproducible_and_resumes_after_more_episodes_are_asked() {
        let policy = BehaviourPolicy::parse("scripted").unwrap();
        let a = tempfile::tempdir().unwrap();
        record(&fake, a.path(), &opts(7, policy)).unwrap();
        let b = tempfile::tempdir().unwrap();
        record(&fake, b.path(), &opts(4, policy)).unwrap();
        let resumed = record(&fake, b.path(), &opts(7, policy)).unwrap();
        assert_eq!((resumed.resumed_from, resumed.recorded), (4, 3));
        let all = |d: &Path| DatasetReader::open(d).unwrap().load_all().unwrap();
        assert_eq!(all(a.path()), all(b.path()));
        assert_eq!(
            std::fs::read(a.path().join("manifest.json")).unwrap(),
            std::fs::read(b.path().join("manifest.json")).unwrap()
        );
    }

    #[test]
    fn a_different_policy_in_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        record(&fake, dir.path(), &opts(2, BehaviourPolicy::RANDOM)).unwrap();
        let err = record(
            &fake,
            dir.path(),
            &opts(3, BehaviourPolicy::parse("scripted").unwrap()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("policy"), "{err}");
        assert!(BehaviourPolicy::parse("greedy").is_err());
    }
}
