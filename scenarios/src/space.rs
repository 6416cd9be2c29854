//! Observation and action spaces (Gymnasium's `Box` and `Discrete`) and actions.

use serde::{Deserialize, Serialize};

use crate::ScenarioError;

/// A space of values, with Gymnasium's meaning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Space {
    /// A box of f32 values with per-element bounds; `low.len() == high.len() == shape.iter().product()`.
    Box {
        low: Vec<f32>,
        high: Vec<f32>,
        shape: Vec<usize>,
    },
    /// The integers `0..n`.
    Discrete(usize),
}

/// An action given to a scenario or env.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// For a `Box` action space.
    Continuous(Vec<f32>),
    /// For a `Discrete` action space.
    Discrete(usize),
}

impl Action {
    /// The action as f32 values: the vector itself, or `[index]` for a discrete action.
    /// This is how datasets store actions.
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Action::Continuous(v) => v.clone(),
            Action::Discrete(i) => vec![*i as f32],
        }
    }
}

impl Space {
    /// Number of f32 values an element of this space stores (1 for `Discrete`).
    pub fn flat_dim(&self) -> usize {
        match self {
            Space::Box { shape, .. } => shape.iter().product(),
            Space::Discrete(_) => 1,
        }
    }

    /// Check an action against this space. Continuous actions must have the right
    /// length and be finite (values outside the bounds are allowed: scenarios clip);
    /// discrete actions must be in `0..n`.
    pub fn validate(&self, action: &Action) -> Result<(), ScenarioError> {
        match (self, action) {
            (Space::Box { shape, .. }, Action::Continuous(v)) => {
                let n: usize = shape.iter().product();
                if v.len() != n {
                    return Err(ScenarioError::BadAction(format!(
                        "expected {n} values for a Box{shape:?} action, got {}",
                        v.len()
                    )));
                }
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(ScenarioError::BadAction(format!(
                        "action element {i} is {} (not finite)",
                        v[i]
                    )));
                }
                Ok(())
            }
            (Space::Discrete(n), Action::Discrete(i)) => {
                if i >= n {
                    Err(ScenarioError::BadAction(format!(
                        "discrete action {i} is outside 0..{n}"
                    )))
                } else {
                    Ok(())
                }
            }
            (Space::Box { .. }, Action::Discrete(i)) => Err(ScenarioError::BadAction(format!(
                "got discrete action {i} for a continuous (Box) action space"
            ))),
            (Space::Discrete(n), Action::Continuous(v)) => Err(ScenarioError::BadAction(format!(
                "got continuous action {v:?} for a Discrete({n}) action space"
            ))),
        }
    }

    /// Whether `action` lies inside the space (bounds included).
    pub fn contains(&self, action: &Action) -> bool {
        if self.validate(action).is_err() {
            return false;
        }
        match (self, action) {
            (Space::Box { low, high, .. }, Action::Continuous(v)) => v
                .iter()
                .zip(low.iter().zip(high))
                .all(|(x, (l, h))| x >= l && x <= h),
            _ => true,
        }
    }

    /// Whether a flat f32 vector (e.g. a state) lies inside a `Box` space.
    pub fn contains_values(&self, values: &[f32]) -> bool {
        match self {
            Space::Box { low, high, .. } => {
                values.len() == low.len()
                    && values
                        .iter()
                        .zip(low.iter().zip(high))
                        .all(|(x, (l, h))| *x >= *l && *x <= *h)
            }
            Space::Discrete(n) => {
                values.len() == 1 && values[0] >= 0.0 && (values[0] as usize) < *n
            }
        }
    }

    /// Clip a continuous action into the box (a no-op for discrete actions).
    pub fn clip(&self, action: &Action) -> Action {
        match (self, action) {
            (Space::Box { low, high, .. }, Action::Continuous(v)) => Action::Continuous(
                v.iter()
                    .zip(low.iter().zip(high))
                    .map(|(x, (l, h))| x.clamp(*l, *h))
                    .collect(),
            ),
            _ => action.clone(),
        }
    }

    /// A uniformly random element (bounds must be finite for `Box`).
    pub fn sample(&self, rng: &mut dyn rand::RngCore) -> Action {
        use rand::Rng;
        match self {
            Space::Box { low, high, .. } => Action::Continuous(
                low.iter()
                    .zip(high)
                    .map(|(l, h)| rng.random_range(*l..=*h))
                    .collect(),
            ),
            Space::Discrete(n) => Action::Discrete(rng.random_range(0..*n)),
        }
    }

    /// Parse a flat f32 vector (as stored in datasets) into an action of this space.
    pub fn action_from_f32(&self, values: &[f32]) -> Result<Action, ScenarioError> {
        let a = match self {
            Space::Box { .. } => Action::Continuous(values.to_vec()),
            Space::Discrete(_) => {
                if values.len() != 1
                    || !values[0].is_finite()
                    || values[0] < 0.0
                    || values[0].fract() != 0.0
                {
                    return Err(ScenarioError::BadAction(format!(
                        "a discrete action is one non-negative integer, got {values:?}"
                    )));
                }
                Action::Discrete(values[0] as usize)
            }
        };
        self.validate(&a)?;
        Ok(a)
    }
}
