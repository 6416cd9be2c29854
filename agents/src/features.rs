//! [`ObsEncoder`]: observations to the network's input features: the state vector,
//! or the last `stack` frames as `[3 * stack, size, size]` channels in `[0, 1]`,
//! with one frame history per env (cleared when its episode starts). Frames of
//! another size (a dream's 64x64) are downsampled by area averaging.

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
            "frames" | "pixels" => Ok(ObsKind::Frames),
            other => Err(AgentError::BadConfig(format!(
                "observation kind '{other}' is neither 'state' nor 'frames' (or 'pixels')"
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
    /// `[height, width]` of the frames the env rendered in training, before
    /// downsampling to `size` (`None`: `size x size`). Physics envs evaluating
    /// the agent render at this size so its inputs look as in training.
    #[serde(default)]
    pub render: Option<[usize; 2]>,
}

impl ObsSpec {
    /// Features per observation.
    pub fn feature_len(&self) -> usize {
        match self.kind {
            ObsKind::State => self.size,
            ObsKind::Frames => 3 * self.stack * self.size * self.size,
        }
    }

    /// A spec for `stack` frames downsampled to `size x size`.
    pub fn frames(size: usize, stack: usize, render: Option<[usize; 2]>) -> Self {
        ObsSpec {
            kind: ObsKind::Frames,
            size,
            stack,
            render,
        }
    }

    /// A spec for state vectors of `dim` values.
    pub fn state(dim: usize) -> Self {
        ObsSpec {
            kind: ObsKind::State,
            size: dim,
            stack: 1,
            render: None,
        }
    }

    /// `(height, width)` physics envs should render for this spec (1x1 for states).
    pub fn render_size(&self) -> (usize, usize) {
        match (self.kind, self.render) {
            (ObsKind::State, _) => (1, 1),
            (ObsKind::Frames, Some([h, w])) => (h, w),
            (ObsKind::Frames, None) => (self.size, self.size),
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

    /// `[3, size, size]` values in `[0, 1]` from an RGB `[height, width, 3]` frame.
    fn frame_channels(&self, frame: &Frame) -> Result<Vec<f32>, AgentError> {
        frame_channels(frame, self.spec.size)
    }
}

/// `[3, size, size]` values in `[0, 1]` from an RGB `[height, width, 3]` frame,
/// each output pixel the mean of the source pixels it covers (area averaging).
pub fn frame_channels(frame: &Frame, size: usize) -> Result<Vec<f32>, AgentError> {
    let (w, h) = (frame.width, frame.height);
    if w == 0 || h == 0 || size == 0 || frame.data.len() != w * h * 3 {
        return Err(AgentError::BadConfig(format!(
            "a {w}x{h} frame with {} bytes cannot become {size}x{size} features",
            frame.data.len()
        )));
    }
    let s = size;
    let mut out = vec![0.0; 3 * s * s];
    if (w, h) == (s, s) {
        for (p, rgb) in frame.data.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * s * s + p] = rgb[c] as f32 / 255.0;
            }
        }
        return Ok(out);
    }
    // Source span `[lo, hi)` of output cell `i` of `n` over `len` source pixels.
    let span = |i: usize, len: usize| {
        let lo = i * len / s;
        let hi = ((i + 1) * len).div_ceil(s).max(lo + 1).min(len);
        (lo, hi)
    };
    for oy in 0..s {
        let (y0, y1) = span(oy, h);
        for ox in 0..s {
            let (x0, x1) = span(ox, w);
            let mut sum = [0u32; 3];
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = (y * w + x) * 3;
                    for c in 0..3 {
                        sum[c] += frame.data[p + c] as u32;
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as f32 * 255.0;
            for c in 0..3 {
                out[c * s * s + oy * s + ox] = sum[c] as f32 / n;
            }
        }
    }
    Ok(out)
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
        let spec = ObsSpec::frames(2, 2, None);
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
        let err = ObsEncoder::new(ObsSpec::state(4), 1)
            .push(0, &obs(0), true, &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("state vector"), "{err}");
    }

    #[test]
    fn larger_frames_are_area_averaged_down() {
        // 4x4: left half black, right half white; top-left quadrant red.
        let mut data = vec![0u8; 4 * 4 * 3];
        for y in 0..4 {
            for x in 2..4 {
                data[(y * 4 + x) * 3..(y * 4 + x) * 3 + 3].copy_from_slice(&[255; 3]);
            }
        }
        data[0] = 255;
        let frame = Frame {
            width: 4,
            height: 4,
            data,
        };
        let out = frame_channels(&frame, 2).unwrap();
        // red channel, top-left cell: one red pixel of four
        assert!((out[0] - 0.25).abs() < 1e-6, "{out:?}");
        // green channel: left column black, right column white
        assert_eq!(&out[4..8], &[0.0, 1.0, 0.0, 1.0]);
        let odd = frame_channels(&frame, 3).unwrap();
        assert_eq!(odd.len(), 27);
        assert!(odd.iter().all(|v| (0.0..=1.0).contains(v)));
        let bad = Frame {
            width: 4,
            height: 4,
            data: vec![0; 5],
        };
        assert!(frame_channels(&bad, 2).is_err());
        assert_eq!("pixels".parse::<ObsKind>().unwrap(), ObsKind::Frames);
    }
}
