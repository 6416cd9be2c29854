//! [`ObsEncoder`]: observations to the network's input features: the state vector,
//! or the last `stack` frames as `[3 * stack, size, size]` channels in `[0, 1]`,
//! with one frame history per env (cleared when its episode starts).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use somnium_env::{Frame, Observation};

use crate::AgentError;

/// Which part of an observation a network reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObsKind {
    /// The true state vector.
    State,
    /// The rendered frames.
    Frames,
}

impl std::str::FromStr for ObsKind {
    type Err = AgentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "state" => Ok(ObsKind::State),
            "frames" => Ok(ObsKind::Frames),
            other => Err(AgentError::BadConfig(format!(
                "observation kind '{other}' is neither 'state' nor 'frames'"
            ))),
        }
    }
}

/// How observations become features (saved with a checkpoint).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObsSpec {
    pub kind: ObsKind,
    /// State length (state) or frame side in pixels (frames).
    pub size: usize,
    /// Frames stacked along channels (1 for states).
    pub stack: usize,
}

impl ObsSpec {
    /// Features per observation.
    pub fn feature_len(&self) -> usize {
        match self.kind {
            ObsKind::State => self.size,
            ObsKind::Frames => 3 * self.stack * self.size * self.size,
        }
    }

    /// Shape of one observation's features, as the network takes it.
    pub fn feature_shape(&self) -> Vec<usize> {
        match self.kind {
            ObsKind::State => vec![self.size],
            ObsKind::Frames => vec![3 * self.stack, self.size, self.size],
        }
    }
}

/// Encodes observations of `num_envs` parallel streams.
pub struct ObsEncoder {
    spec: ObsSpec,
    history: Vec<VecDeque<Vec<f32>>>,
}

impl ObsEncoder {
    pub fn new(spec: ObsSpec, num_envs: usize) -> Self {
        ObsEncoder {
            history: vec![VecDeque::new(); num_envs],
            spec,
        }
    }

    pub fn spec(&self) -> &ObsSpec {
        &self.spec
    }

    /// Record `obs` of stream `env` (`first`: it starts an episode) and append its
    /// features to `out`.
    pub fn push(
        &mut self,
        env: usize,
        obs: &Observation,
        first: bool,
        out: &mut Vec<f32>,
    ) -> Result<(), AgentError> {
        match self.spec.kind {
            ObsKind::State => self.state_features(obs, out),
            ObsKind::Frames => {
                if env >= self.history.len() {
                    self.history.resize(env + 1, VecDeque::new());
                }
                let frame = self.frame_channels(&obs.frame)?;
                let h = &mut self.history[env];
                if first || h.is_empty() {
                    h.clear();
                    h.extend(std::iter::repeat_n(frame, self.spec.stack));
                } else {
                    h.pop_front();
                    h.push_back(frame);
                }
                h.iter().for_each(|f| out.extend_from_slice(f));
                Ok(())
            }
        }
    }

    /// Features of `obs` as if it followed stream `env`'s history, without recording it
    /// (for the last observation of a truncated episode).
    pub fn peek(
        &self,
        env: usize,
        obs: &Observation,
        out: &mut Vec<f32>,
    ) -> Result<(), AgentError> {
        match self.spec.kind {
            ObsKind::State => self.state_features(obs, out),
            ObsKind::Frames => {
                let frame = self.frame_channels(&obs.frame)?;
                let h = self.history.get(env).filter(|h| !h.is_empty());
                match h {
                    Some(h) => h.iter().skip(1).for_each(|f| out.extend_from_slice(f)),
                    None => (1..self.spec.stack).for_each(|_| out.extend_from_slice(&frame)),
                }
                out.extend_from_slice(&frame);
                Ok(())
            }
        }
    }

    fn state_features(&self, obs: &Observation, out: &mut Vec<f32>) -> Result<(), AgentError> {
        let state = obs
            .state
            .as_ref()
            .ok_or(AgentError::MissingObservation("state vector"))?;
        if state.len() != self.spec.size {
            return Err(AgentError::BadConfig(format!(
                "state has {} values, the network reads {}",
                state.len(),
                self.spec.size
            )));
        }
        out.extend_from_slice(state);
        Ok(())
    }

    /// `[3, size, size]` values in `[0, 1]` from an RGB `[size, size, 3]` frame.
    fn frame_channels(&self, frame: &Frame) -> Result<Vec<f32>, AgentError> {
        let s = self.spec.size;
        if frame.width != s || frame.height != s || frame.data.len() != s * s * 3 {
            return Err(AgentError::BadConfig(format!(
                "frame is {}x{}, the network reads {s}x{s}",
                frame.width, frame.height
            )));
        }
        let mut out = vec![0.0; 3 * s * s];
        for (p, rgb) in frame.data.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * s * s + p] = rgb[c] as f32 / 255.0;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(v: u8) -> Observation {
        Observation {
            frame: Frame {
                width: 2,
                height: 2,
                data: vec![v; 12],
            },
            state: None,
        }
    }

    #[test]
    fn frames_stack_oldest_first_and_restart_with_episodes() {
        let spec = ObsSpec {
            kind: ObsKind::Frames,
            size: 2,
            stack: 2,
        };
        let mut enc = ObsEncoder::new(spec, 1);
        let mut out = Vec::new();
        enc.push(0, &obs(0), true, &mut out).unwrap();
        assert_eq!(out, vec![0.0; 24]);
        out.clear();
        enc.push(0, &obs(255), false, &mut out).unwrap();
        assert_eq!((out[0], out[23]), (0.0, 1.0));
        out.clear();
        enc.peek(0, &obs(51), &mut out).unwrap();
        assert_eq!((out[0], out[23]), (1.0, 0.2));
        out.clear();
        enc.push(0, &obs(51), true, &mut out).unwrap();
        assert_eq!((out[0], out[23]), (0.2, 0.2));
        assert!(enc.push(0, &obs(1), false, &mut out).is_ok());
        let err = ObsEncoder::new(
            ObsSpec {
                kind: ObsKind::State,
                size: 4,
                stack: 1,
            },
            1,
        )
        .push(0, &obs(0), true, &mut out)
        .unwrap_err();
        assert!(err.to_string().contains("state vector"), "{err}");
    }
}
