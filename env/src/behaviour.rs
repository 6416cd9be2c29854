//! Behaviour policies: how `somnium record` (and `render`) choose actions.
//!
//! - `random`: uniform samples from the action space;
//! - `scripted`: the scenario's [`Scenario::scripted_action`] expert, replaced by a
//!   uniform random action with probability [`SCRIPTED_EPSILON`] (0.2) at each
//!   decision, so the data also covers states the expert would avoid;
//! - `scripted:EPS`: the same with random actions at rate `EPS`.
//!
//! A `:HOLD` suffix (`random:HOLD`, `scripted:EPS:HOLD`) holds every random
//! action for `HOLD` steps: data where one action acts long enough to move
//! things far, which a world model needs to learn to follow its actions.
//!
//! [`Scenario::scripted_action`]: somnium_scenarios::Scenario::scripted_action

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use somnium_scenarios::Action;

use crate::{Env, EnvError, PhysicsEnv};

/// Probability that the `scripted` policy takes a random action instead.
pub const SCRIPTED_EPSILON: f32 = 0.2;

/// Longest hold accepted, in steps.
pub const MAX_HOLD: u32 = 1000;

/// How actions are chosen while recording.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BehaviourPolicy {
    /// Uniform samples from the action space, each held `hold` steps.
    Random { hold: u32 },
    /// The scenario's scripted expert, with random actions (held `hold` steps)
    /// chosen at rate `epsilon`.
    Scripted { epsilon: f32, hold: u32 },
}

fn parse_hold(name: &str, hold: Option<&str>) -> Result<u32, EnvError> {
    let Some(h) = hold else { return Ok(1) };
    match h.parse::<u32>() {
        Ok(n) if (1..=MAX_HOLD).contains(&n) => Ok(n),
        _ => Err(EnvError::BadConfig(format!(
            "policy '{name}': hold '{h}' is not a whole number of steps in 1..={MAX_HOLD}"
        ))),
    }
}

impl BehaviourPolicy {
    /// Uniform random actions, a new one every step.
    pub const RANDOM: Self = BehaviourPolicy::Random { hold: 1 };

    /// Parse `random[:HOLD]`, `scripted` (epsilon [`SCRIPTED_EPSILON`]) or
    /// `scripted:EPS[:HOLD]` (EPS in `[0, 1]`).
    pub fn parse(name: &str) -> Result<Self, EnvError> {
        let mut parts = name.split(':');
        let kind = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        match (kind, rest.as_slice()) {
            ("random", []) => Ok(Self::RANDOM),
            ("random", [hold]) => Ok(BehaviourPolicy::Random {
                hold: parse_hold(name, Some(hold))?,
            }),
            ("scripted", []) => Ok(BehaviourPolicy::Scripted {
                epsilon: SCRIPTED_EPSILON,
                hold: 1,
            }),
            ("scripted", [eps, hold @ ..]) if hold.len() <= 1 => {
                let epsilon: f32 = eps.parse().map_err(|_| {
                    EnvError::BadConfig(format!(
                        "policy '{name}': '{eps}' is not a number (expected scripted:EPS, EPS in [0, 1])"
                    ))
                })?;
                if !(0.0..=1.0).contains(&epsilon) {
                    return Err(EnvError::BadConfig(format!(
                        "policy '{name}': random-action rate {epsilon} is outside [0, 1]"
                    )));
                }
                let hold = parse_hold(name, hold.first().copied())?;
                Ok(BehaviourPolicy::Scripted { epsilon, hold })
            }
            _ => Err(EnvError::BadConfig(format!(
                "unknown policy '{name}' (known: random, random:HOLD, scripted, scripted:EPS, scripted:EPS:HOLD)"
            ))),
        }
    }

    /// The name the manifest records, e.g. `random` or `scripted(eps=0.2)`, with
    /// `hold=K` where actions are held.
    pub fn name(&self) -> String {
        match *self {
            BehaviourPolicy::Random { hold: 1 } => "random".into(),
            BehaviourPolicy::Random { hold } => format!("random(hold={hold})"),
            BehaviourPolicy::Scripted { epsilon, hold: 1 } => format!("scripted(eps={epsilon})"),
            BehaviourPolicy::Scripted { epsilon, hold } => {
                format!("scripted(eps={epsilon},hold={hold})")
            }
        }
    }

    /// A fresh actor for one episode.
    pub fn actor(&self) -> BehaviourActor {
        BehaviourActor {
            policy: *self,
            held: None,
        }
    }
}

/// One episode's behaviour: the policy plus the random action it is holding.
#[derive(Clone, Debug)]
pub struct BehaviourActor {
    policy: BehaviourPolicy,
    /// The held random action and the steps it is still held for.
    held: Option<(Action, u32)>,
}

impl BehaviourActor {
    /// The next action for the env's current state.
    pub fn act(&mut self, env: &PhysicsEnv, rng: &mut ChaCha8Rng) -> Action {
        if let Some((action, left)) = self.held.take() {
            if left > 0 {
                self.held = Some((action.clone(), left - 1));
                return action;
            }
        }
        let (random, hold) = match self.policy {
            BehaviourPolicy::Random { hold } => (true, hold),
            BehaviourPolicy::Scripted { epsilon, hold } => (rng.random::<f32>() < epsilon, hold),
        };
        if !random {
            return env.scenario().scripted_action(rng);
        }
        let action = env.action_space().sample(rng);
        if hold > 1 {
            self.held = Some((action.clone(), hold - 1));
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn behaviour_policies_parse_with_their_random_rate_and_hold() {
        assert_eq!(
            BehaviourPolicy::parse("random").unwrap(),
            BehaviourPolicy::RANDOM
        );
        assert_eq!(
            BehaviourPolicy::parse("random:4").unwrap(),
            BehaviourPolicy::Random { hold: 4 }
        );
        assert_eq!(
            BehaviourPolicy::parse("scripted:0.5").unwrap(),
            BehaviourPolicy::Scripted {
                epsilon: 0.5,
                hold: 1
            }
        );
        let held = BehaviourPolicy::parse("scripted:0.3:6").unwrap();
        assert_eq!(
            held,
            BehaviourPolicy::Scripted {
                epsilon: 0.3,
                hold: 6
            }
        );
        assert_eq!(held.name(), "scripted(eps=0.3,hold=6)");
        assert_eq!(
            BehaviourPolicy::parse("scripted:0.5").unwrap().name(),
            "scripted(eps=0.5)"
        );
        for bad in [
            "scripted:1.5",
            "scripted:abc",
            "expert",
            "random:0",
            "random:x",
            "scripted:0.2:0",
            "scripted:0.2:3:4",
        ] {
            let err = BehaviourPolicy::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn a_held_random_action_repeats_for_its_hold_then_changes() {
        let env = PhysicsEnv::make("push-v0", "id", 8, 8).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut actor = BehaviourPolicy::Random { hold: 5 }.actor();
        let actions: Vec<Action> = (0..15).map(|_| actor.act(&env, &mut rng)).collect();
        for block in actions.chunks(5) {
            assert!(block.iter().all(|a| *a == block[0]), "{block:?}");
        }
        assert_ne!(actions[0], actions[5]);
        assert_ne!(actions[5], actions[10]);
    }
}
