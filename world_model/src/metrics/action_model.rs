//! The action-aware baseline's dynamics: the cheapest predictor that uses the
//! action. The controlled object's centroid velocity (pixels per step) follows a
//! linear model fitted by least squares on calibration episodes:
//!
//! `v[t] = A v[t-1] + B u[t] + c`, where `v[t] = c[t+1] - c[t]` is the step the
//! action `u[t]` (encoded: a box action's values, a discrete action one-hot)
//! produced. Rolled out from the last context velocity with the episode's
//! actions, reflected at the arena's walls like constant velocity. Every other
//! object moves at constant velocity. A model that has learned the interaction
//! must beat this before anyone says so.

use serde::{Deserialize, Serialize};

use super::baselines::reflect;
use super::FrameSpec;
use crate::eval_error::EvalError;
use crate::objects::{ClassifyParams, Extractor};

/// Ridge added to the normal equations' diagonal, relative to their trace.
const RIDGE: f64 = 1e-6;

/// Fewest calibration transitions per fitted coefficient.
const MIN_SAMPLES_PER_COEFFICIENT: usize = 3;

/// The fitted linear velocity model of one object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionModel {
    /// Encoded action width.
    pub action_dim: usize,
    /// Per output axis (x, y): coefficients of `[vx, vy, u_1 .. u_d, 1]`.
    pub coefficients: [Vec<f64>; 2],
    /// Transitions it was fitted on.
    pub samples: usize,
}

impl ActionModel {
    /// Fits the model of table object `object` on `episodes` (frames `[T, H, W, 3]`,
    /// encoded actions `[T - 1]`, `actions[t]` between frames `t` and `t + 1`).
    /// `None` when too few transitions show the object.
    pub fn fit(
        spec: &FrameSpec,
        object: usize,
        episodes: &[(&[u8], &[Vec<f32>])],
    ) -> Result<Option<ActionModel>, EvalError> {
        if object >= spec.colors.len() {
            return Err(EvalError::Invalid(format!(
                "controlled object {object} is not in the colour table ({} colours)",
                spec.colors.len()
            )));
        }
        let extractor = Extractor::new(
            spec.height,
            spec.width,
            &spec.colors,
            spec.background,
            ClassifyParams::default(),
        );
        let fb = spec.height * spec.width * 3;
        let mut rows: Vec<(Vec<f64>, [f64; 2])> = Vec::new();
        let mut dim = None;
        for (frames, actions) in episodes {
            let centroids = frames
                .chunks_exact(fb)
                .map(|f| Ok(extractor.extract(f)?[object].centroid_xy))
                .collect::<Result<Vec<_>, EvalError>>()?;
            let v = |t: usize| -> Option<[f64; 2]> {
                let (a, b) = (centroids.get(t)?.as_ref()?, centroids.get(t + 1)?.as_ref()?);
                Some([f64::from(b[0] - a[0]), f64::from(b[1] - a[1])])
            };
            for t in 1..actions.len() {
                let (Some(prev), Some(next)) = (v(t - 1), v(t)) else {
                    continue;
                };
                let u = &actions[t];
                if *dim.get_or_insert(u.len()) != u.len() {
                    return Err(EvalError::Invalid(format!(
                        "calibration actions have widths {} and {}",
                        dim.unwrap_or(0),
                        u.len()
                    )));
                }
                rows.push((features(prev, u), next));
            }
        }
        let Some(d) = dim else { return Ok(None) };
        let p = d + 3;
        if rows.len() < MIN_SAMPLES_PER_COEFFICIENT * p {
            return Ok(None);
        }
        let coefficients =
            [0, 1].map(|axis| least_squares(rows.iter().map(|(x, y)| (x.as_slice(), y[axis])), p));
        Ok(Some(ActionModel {
            action_dim: d,
            coefficients,
            samples: rows.len(),
        }))
    }

    /// The velocity after action `u` from velocity `v`.
    pub fn step(&self, v: [f64; 2], u: &[f32]) -> [f64; 2] {
        let x = features(v, u);
        self.coefficients
            .clone()
            .map(|c| c.iter().zip(&x).map(|(a, b)| a * b).sum())
    }

    /// Centroids after each of `actions` from `last` (the last context centroid)
    /// moving at `v0`, folded into `arena` like constant velocity.
    pub fn track(
        &self,
        last: [f32; 2],
        v0: [f32; 2],
        actions: &[Vec<f32>],
        arena: [f32; 4],
    ) -> Vec<[f32; 2]> {
        let mut v = [f64::from(v0[0]), f64::from(v0[1])];
        let mut p = [f64::from(last[0]), f64::from(last[1])];
        actions
            .iter()
            .map(|u| {
                v = self.step(v, u);
                p = [p[0] + v[0], p[1] + v[1]];
                [
                    reflect(p[0] as f32, arena[0], arena[2]),
                    reflect(p[1] as f32, arena[1], arena[3]),
                ]
            })
            .collect()
    }
}

/// `[vx, vy, u_1 .. u_d, 1]`.
fn features(v: [f64; 2], u: &[f32]) -> Vec<f64> {
    let mut x = vec![v[0], v[1]];
    x.extend(u.iter().map(|&a| f64::from(a)));
    x.push(1.0);
    x
}

/// Ridge least squares of `y` on `x` (`p` columns) by the normal equations and
/// Gaussian elimination with partial pivoting.
fn least_squares<'a>(rows: impl Iterator<Item = (&'a [f64], f64)>, p: usize) -> Vec<f64> {
    let mut a = vec![vec![0.0; p + 1]; p];
    for (x, y) in rows {
        for i in 0..p {
            for j in 0..p {
                a[i][j] += x[i] * x[j];
            }
            a[i][p] += x[i] * y;
        }
    }
    let trace: f64 = (0..p).map(|i| a[i][i]).sum();
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += RIDGE * trace.max(1e-12);
    }
    for col in 0..p {
        let pivot = (col..p)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        let d = a[col][col];
        if d.abs() < 1e-300 {
            continue;
        }
        for row in 0..p {
            if row != col {
                let f = a[row][col] / d;
                for k in col..=p {
                    a[row][k] -= f * a[col][k];
                }
            }
        }
    }
    (0..p)
        .map(|i| {
            if a[i][i].abs() < 1e-300 {
                0.0
            } else {
                a[i][p] / a[i][i]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_a_linear_law() {
        // y = 0.9 x0 - 0.2 x1 + 3 u + 0.5
        let data: Vec<(Vec<f64>, f64)> = (0..50)
            .map(|i| {
                let (x0, x1, u) = (
                    (i as f64).sin(),
                    (i as f64 * 0.7).cos(),
                    (i % 5) as f64 - 2.0,
                );
                (vec![x0, x1, u, 1.0], 0.9 * x0 - 0.2 * x1 + 3.0 * u + 0.5)
            })
            .collect();
        let c = least_squares(data.iter().map(|(x, y)| (x.as_slice(), *y)), 4);
        for (got, want) in c.iter().zip([0.9, -0.2, 3.0, 0.5]) {
            assert!((got - want).abs() < 1e-4, "{c:?}");
        }
    }

    #[test]
    fn track_follows_the_actions_and_folds_at_walls() {
        // v' = u (no memory): the object moves by its action each step.
        let m = ActionModel {
            action_dim: 2,
            coefficients: [vec![0.0, 0.0, 1.0, 0.0, 0.0], vec![0.0, 0.0, 0.0, 1.0, 0.0]],
            samples: 10,
        };
        let t = m.track(
            [5.0, 5.0],
            [0.0, 0.0],
            &[vec![2.0, 0.0], vec![-1.0, 3.0], vec![0.0, 4.0]],
            [0.0, 0.0, 10.0, 10.0],
        );
        assert_eq!(t[0], [7.0, 5.0]);
        assert_eq!(t[1], [6.0, 8.0]);
        assert_eq!(t[2], [6.0, 8.0]); // 12 folds back to 8
    }
}
