//! [`check_env`]: checks an env keeps the promises of the [`Env`] API, in the
//! spirit of Gymnasium's env checker.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium_scenarios::{Action, Space};

use crate::{Env, EnvError, Observation, ObservationSpace};

/// A broken promise found by [`check_env`].
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("check '{check}' failed: {detail}")]
    Failed { check: &'static str, detail: String },
    #[error("check '{check}': the env returned an unexpected error: {source}")]
    Env {
        check: &'static str,
        source: EnvError,
    },
}

fn fail(check: &'static str, detail: impl Into<String>) -> CheckError {
    CheckError::Failed {
        check,
        detail: detail.into(),
    }
}

/// Steps of the trajectories compared for determinism.
const TRAJECTORY_STEPS: usize = 12;
/// Most steps taken while waiting for an episode without a time limit to end.
const MAX_EPISODE_PROBE: usize = 2000;

/// Check `env`:
/// - observations match the observation space (frame shape, state length and bounds);
/// - `reset` with the same seed and the same actions reproduces identical
///   observations, rewards and flags; different seeds give different episodes;
/// - `info.seed` and `info.elapsed_steps` are reported; rewards are finite;
/// - a bad action (wrong length, NaN, out-of-range index, wrong kind) is refused
///   with [`EnvError::BadAction`] and leaves the env where it was;
/// - stepping after an episode ended is [`EnvError::NeedsReset`].
pub fn check_env(env: &mut dyn Env) -> Result<(), CheckError> {
    let space = env.observation_space();
    let action_space = env.action_space();
    let seed = 1234;

    let reference = trajectory(env, seed, None)?;
    check_observations(&space, &reference)?;
    let again = trajectory(env, seed, None)?;
    if again != reference {
        return Err(fail(
            "determinism",
            format!("two episodes from seed {seed} with the same actions differ"),
        ));
    }
    let differs = (1..=3)
        .map(|d| trajectory(env, seed + d, Some(0)))
        .collect::<Result<Vec<_>, _>>()?;
    if differs.iter().all(|t| t.first() == reference.first()) {
        return Err(fail(
            "seeding",
            "seeds 1234..=1237 all give the same first observation",
        ));
    }

    for bad in bad_actions(&action_space) {
        let check = "bad action refused";
        env.reset(Some(seed))
            .map_err(|source| CheckError::Env { check, source })?;
        match env.step(&bad) {
            Err(EnvError::BadAction { .. }) => {}
            Err(other) => {
                return Err(fail(
                    check,
                    format!("{bad:?} gave {other} instead of a BadAction error"),
                ))
            }
            Ok(_) => return Err(fail(check, format!("{bad:?} was accepted"))),
        }
        // The refused action must not have moved the env: the same actions give
        // the reference episode.
        let replay = continue_trajectory(env, seed, &reference)?;
        if replay != reference[1..] {
            return Err(fail(
                "bad action leaves the env unchanged",
                format!("after {bad:?} the episode differs"),
            ));
        }
    }

    check_step_after_done(env, &action_space)
}

/// One observation or step result, compared exactly.
#[derive(Clone, Debug, PartialEq)]
struct Record {
    obs: Observation,
    reward: f32,
    terminated: bool,
    truncated: bool,
    elapsed_steps: u32,
}

fn actions(space: &Space, seed: u64) -> Vec<Action> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    (0..TRAJECTORY_STEPS)
        .map(|_| space.sample(&mut rng))
        .collect()
}

/// Reset with `seed` and take up to `steps` (default [`TRAJECTORY_STEPS`]) seeded random actions.
fn trajectory(
    env: &mut dyn Env,
    seed: u64,
    steps: Option<usize>,
) -> Result<Vec<Record>, CheckError> {
    let check = "reset and step";
    let (obs, info) = env
        .reset(Some(seed))
        .map_err(|source| CheckError::Env { check, source })?;
    if info.seed != seed {
        return Err(fail(
            "info.seed",
            format!("reset(Some({seed})) reported seed {}", info.seed),
        ));
    }
    let mut out = vec![Record {
        obs,
        reward: 0.0,
        terminated: false,
        truncated: false,
        elapsed_steps: info.elapsed_steps,
    }];
    let limit = steps.unwrap_or(TRAJECTORY_STEPS).min(TRAJECTORY_STEPS);
    for action in actions(&env.action_space(), seed).into_iter().take(limit) {
        let step = env
            .step(&action)
            .map_err(|source| CheckError::Env { check, source })?;
        if !step.reward.is_finite() {
            return Err(fail(
                "finite reward",
                format!("step {} gave reward {}", out.len(), step.reward),
            ));
        }
        let done = step.done();
        out.push(Record {
            obs: step.obs,
            reward: step.reward,
            terminated: step.terminated,
            truncated: step.truncated,
            elapsed_steps: step.info.elapsed_steps,
        });
        if done {
            break;
        }
    }
    Ok(out)
}

/// Take the actions of `reference` from the env's current state (no reset).
fn continue_trajectory(
    env: &mut dyn Env,
    seed: u64,
    reference: &[Record],
) -> Result<Vec<Record>, CheckError> {
    let check = "step after a refused action";
    let mut out = Vec::new();
    for action in actions(&env.action_space(), seed)
        .into_iter()
        .take(reference.len() - 1)
    {
        let step = env
            .step(&action)
            .map_err(|source| CheckError::Env { check, source })?;
        out.push(Record {
            obs: step.obs,
            reward: step.reward,
            terminated: step.terminated,
            truncated: step.truncated,
            elapsed_steps: step.info.elapsed_steps,
        });
    }
    Ok(out)
}

fn check_observations(space: &ObservationSpace, records: &[Record]) -> Result<(), CheckError> {
    let (h, w) = space.frame_size();
    for (t, r) in records.iter().enumerate() {
        let f = &r.obs.frame;
        if f.height != h || f.width != w || f.data.len() != h * w * 3 {
            return Err(fail(
                "frame shape",
                format!(
                    "step {t}: frame {}x{} with {} bytes, space says [{h}, {w}, 3]",
                    f.width,
                    f.height,
                    f.data.len()
                ),
            ));
        }
        match (&space.state, &r.obs.state) {
            (Some(s), Some(state)) => {
                if !s.contains_values(state) {
                    return Err(fail(
                        "state in state space",
                        format!("step {t}: state {state:?} is outside {s:?}"),
                    ));
                }
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(fail(
                    "state present",
                    format!("step {t}: the observation has no state"),
                ))
            }
            (None, Some(_)) => {
                return Err(fail(
                    "state present",
                    format!("step {t}: a state the space does not declare"),
                ))
            }
        }
        if r.elapsed_steps as usize != t {
            return Err(fail(
                "info.elapsed_steps",
                format!("step {t} reported elapsed_steps {}", r.elapsed_steps),
            ));
        }
    }
    Ok(())
}

/// Actions every env must refuse, for its action space.
fn bad_actions(space: &Space) -> Vec<Action> {
    match space {
        Space::Box { low, .. } => {
            let mut nan = vec![0.0; low.len()];
            if let Some(first) = nan.first_mut() {
                *first = f32::NAN;
            }
            vec![
                Action::Continuous(vec![0.0; low.len() + 1]),
                Action::Continuous(nan),
                Action::Discrete(0),
            ]
        }
        Space::Discrete(n) => vec![Action::Discrete(*n), Action::Continuous(vec![0.0])],
    }
}

fn check_step_after_done(env: &mut dyn Env, action_space: &Space) -> Result<(), CheckError> {
    let check = "step after the episode ended";
    env.reset(Some(7))
        .map_err(|source| CheckError::Env { check, source })?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..MAX_EPISODE_PROBE {
        let step = env
            .step(&action_space.sample(&mut rng))
            .map_err(|source| CheckError::Env { check, source })?;
        if step.done() {
            return match env.step(&action_space.sample(&mut rng)) {
                Err(EnvError::NeedsReset(_)) => Ok(()),
                Err(other) => Err(fail(
                    check,
                    format!("gave {other} instead of a NeedsReset error"),
                )),
                Ok(_) => Err(fail(check, "a step after the end was accepted")),
            };
        }
    }
    Ok(()) // The episode never ended within the probe: nothing to check.
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeScenario;
    use crate::{PhysicsEnv, Step};

    #[test]
    fn a_correct_env_passes() {
        let mut env = PhysicsEnv::new(Box::new(FakeScenario::new()), 10, 10).unwrap();
        check_env(&mut env).unwrap();
    }

    /// An env that ignores seeds: the checker must notice.
    struct Unseeded(PhysicsEnv);
    impl Env for Unseeded {
        fn reset(&mut self, seed: Option<u64>) -> Result<(Observation, crate::Info), EnvError> {
            let (obs, mut info) = self.0.reset(Some(0))?;
            info.seed = seed.unwrap_or(0);
            Ok((obs, info))
        }
        fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
            self.0.step(action)
        }
        fn observation_space(&self) -> ObservationSpace {
            self.0.observation_space()
        }
        fn action_space(&self) -> Space {
            self.0.action_space()
        }
        fn spec(&self) -> crate::EnvSpec {
            self.0.spec()
        }
    }

    #[test]
    fn an_env_that_ignores_seeds_fails() {
        let mut env = Unseeded(PhysicsEnv::new(Box::new(FakeScenario::new()), 10, 10).unwrap());
        let err = check_env(&mut env).unwrap_err();
        assert!(
            matches!(
                err,
                CheckError::Failed {
                    check: "seeding",
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[cfg(test)]
mod scenario_tests {
    use super::*;
    use crate::PhysicsEnv;

    #[test]
    fn every_scenario_passes_in_both_variants() {
        for id in somnium_scenarios::SCENARIO_IDS {
            for variant in ["id", "ood"] {
                let mut env = PhysicsEnv::make(id, variant, 32, 32).unwrap();
                if let Err(e) = check_env(&mut env) {
                    panic!("{id} ({variant}): {e}");
                }
            }
        }
    }
}
