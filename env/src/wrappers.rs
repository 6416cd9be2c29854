//! Wrappers for any [`Env`]: [`TimeLimit`] truncates episodes, [`RecordGif`]
//! writes each finished episode as a GIF.

use std::path::{Path, PathBuf};

use somnium_scenarios::{Action, Frame, Space};

use crate::{DoneReason, Env, EnvError, EnvSpec, Info, Observation, ObservationSpace, Step};

/// Gymnasium's TimeLimit: the step that reaches `max_steps` since the last reset
/// has `truncated = true` unless it terminated. Stepping after the end is an error.
pub struct TimeLimit<E: Env> {
    env: E,
    max_steps: u32,
    elapsed: u32,
    done: bool,
}

impl<E: Env> TimeLimit<E> {
    /// Wrap `env` with a limit of `max_steps` steps per episode.
    pub fn new(env: E, max_steps: u32) -> Self {
        TimeLimit {
            env,
            max_steps,
            elapsed: 0,
            done: false,
        }
    }

    /// The wrapped env.
    pub fn into_inner(self) -> E {
        self.env
    }
}

impl<E: Env> Env for TimeLimit<E> {
    fn reset(&mut self, seed: Option<u64>) -> Result<(Observation, Info), EnvError> {
        let out = self.env.reset(seed)?;
        self.elapsed = 0;
        self.done = false;
        Ok(out)
    }

    fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        if self.done {
            return Err(EnvError::NeedsReset(
                "after the episode ended (time limit or termination)",
            ));
        }
        let mut step = self.env.step(action)?;
        self.elapsed += 1;
        if self.elapsed >= self.max_steps && !step.terminated {
            step.truncated = true;
            step.info.done_reason = Some(DoneReason::TimeLimit);
        }
        self.done = step.done();
        Ok(step)
    }

    fn observation_space(&self) -> ObservationSpace {
        self.env.observation_space()
    }

    fn action_space(&self) -> Space {
        self.env.action_space()
    }

    fn spec(&self) -> EnvSpec {
        let inner = self.env.spec();
        let limit = inner
            .max_episode_steps
            .map_or(self.max_steps, |l| l.min(self.max_steps));
        EnvSpec {
            max_episode_steps: Some(limit),
            ..inner
        }
    }
}

/// Writes every finished episode's frames to
/// `dir/{prefix}-episode-{k:04}.gif` (upscaled `scale` times, at the env's control rate).
pub struct RecordGif<E: Env> {
    env: E,
    dir: PathBuf,
    prefix: String,
    scale: usize,
    frames: Vec<Frame>,
    episode: usize,
    written: Vec<PathBuf>,
}

impl<E: Env> RecordGif<E> {
    /// Wrap `env`; GIFs go into `dir` (created if needed).
    pub fn new(
        env: E,
        dir: impl AsRef<Path>,
        prefix: &str,
        scale: usize,
    ) -> Result<Self, EnvError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| EnvError::Io {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(RecordGif {
            env,
            dir,
            prefix: prefix.to_string(),
            scale,
            frames: Vec::new(),
            episode: 0,
            written: Vec::new(),
        })
    }

    /// Paths of the GIFs written so far.
    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    /// The wrapped env.
    pub fn into_inner(self) -> E {
        self.env
    }
}

impl<E: Env> Env for RecordGif<E> {
    fn reset(&mut self, seed: Option<u64>) -> Result<(Observation, Info), EnvError> {
        let (obs, info) = self.env.reset(seed)?;
        self.frames.clear();
        self.frames.push(obs.frame.clone());
        Ok((obs, info))
    }

    fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        let step = self.env.step(action)?;
        self.frames.push(step.obs.frame.clone());
        if step.done() {
            let path = self
                .dir
                .join(format!("{}-episode-{:04}.gif", self.prefix, self.episode));
            crate::gif_out::write_gif(
                &path,
                &self.frames,
                self.scale,
                self.env.spec().render_fps(),
            )?;
            self.written.push(path);
            self.episode += 1;
            self.frames.clear();
        }
        Ok(step)
    }

    fn observation_space(&self) -> ObservationSpace {
        self.env.observation_space()
    }

    fn action_space(&self) -> Space {
        self.env.action_space()
    }

    fn spec(&self) -> EnvSpec {
        self.env.spec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeScenario;
    use crate::PhysicsEnv;

    fn physics() -> PhysicsEnv {
        PhysicsEnv::new(Box::new(FakeScenario::new()), 8, 8)
            .unwrap()
            .with_max_episode_steps(None)
    }

    #[test]
    fn time_limit_truncates_at_the_limit_and_then_needs_a_reset() {
        let mut env = TimeLimit::new(physics(), 3);
        assert_eq!(env.spec().max_episode_steps, Some(3));
        env.reset(Some(0)).unwrap();
        let still = Action::Continuous(vec![0.0, 0.0]);
        assert!(!env.step(&still).unwrap().truncated);
        assert!(!env.step(&still).unwrap().truncated);
        let third = env.step(&still).unwrap();
        assert!(third.truncated && !third.terminated);
        assert!(matches!(env.step(&still), Err(EnvError::NeedsReset(_))));
        env.reset(None).unwrap();
        assert!(env.step(&still).is_ok());
    }

    #[test]
    fn time_limit_keeps_termination_over_truncation() {
        let right = Action::Continuous(vec![1.0, 0.0]);
        let mut plain = physics();
        plain.reset(Some(0)).unwrap();
        let mut steps_to_wall = 1;
        while !plain.step(&right).unwrap().terminated {
            steps_to_wall += 1;
        }
        // A limit that falls on the terminating step: terminated, not truncated.
        let mut env = TimeLimit::new(physics(), steps_to_wall);
        env.reset(Some(0)).unwrap();
        let mut last = None;
        for _ in 0..steps_to_wall {
            last = Some(env.step(&right).unwrap());
        }
        let last = last.unwrap();
        assert!(last.terminated && !last.truncated);
        assert_eq!(last.info.done_reason, Some(DoneReason::Terminated));
    }

    #[test]
    fn record_gif_writes_one_file_per_episode() {
        let dir = tempfile::tempdir().unwrap();
        let mut env = RecordGif::new(TimeLimit::new(physics(), 4), dir.path(), "fake", 2).unwrap();
        for seed in 0..2 {
            env.reset(Some(seed)).unwrap();
            while !env
                .step(&Action::Continuous(vec![0.1, 0.0]))
                .unwrap()
                .done()
            {}
        }
        assert_eq!(env.written().len(), 2);
        assert!(env.written().iter().all(|p| p.is_file()));
    }
}
