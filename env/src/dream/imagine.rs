//! [`Imagine`] for [`DreamEnv`]: every action sequence dreamed from the env's
//! current state in one batched forward pass per step, the env left unchanged.
//!
//! Each imagined sequence uses the noise stepping would use (the episode's noise
//! seed, stream = step index), so imagining a sequence and then stepping it give
//! the same frames, rewards and terminations.

use crate::{EnvError, Imagine, ImaginedRollout};
use somnium_scenarios::Action;

use super::DreamEnv;

impl Imagine for DreamEnv {
    fn imagine(&self, action_sequences: &[Vec<Action>]) -> Result<Vec<ImaginedRollout>, EnvError> {
        let start = self.state().ok_or(EnvError::NeedsReset(
            "imagine needs a running episode: call reset first",
        ))?;
        let values: Vec<Vec<Vec<f32>>> = action_sequences
            .iter()
            .map(|seq| seq.iter().map(|a| self.model_action(a)).collect())
            .collect::<Result<_, _>>()?;
        let mut rollouts: Vec<ImaginedRollout> = action_sequences
            .iter()
            .map(|seq| ImaginedRollout {
                rewards: Vec::with_capacity(seq.len()),
                terminated: Vec::with_capacity(seq.len()),
                frames: Some(Vec::with_capacity(seq.len())),
            })
            .collect();
        let mut states = vec![start.clone(); action_sequences.len()];
        let mut done = vec![false; action_sequences.len()];
        let longest = values.iter().map(Vec::len).max().unwrap_or(0);
        for k in 0..longest {
            let active: Vec<usize> = (0..values.len()).filter(|&i| values[i].len() > k).collect();
            let batch_states: Vec<_> = active.iter().map(|&i| &states[i]).collect();
            let batch_actions: Vec<Vec<f32>> =
                active.iter().map(|&i| values[i][k].clone()).collect();
            let (next, out) = self.model().step_batch(&batch_states, &batch_actions)?;
            for (j, (&i, state)) in active.iter().zip(next).enumerate() {
                let r = &mut rollouts[i];
                r.rewards.push(if done[i] { 0.0 } else { out.rewards[j] });
                done[i] |= out.terminated_prob[j] > 0.5 && !self.ignore_termination;
                r.terminated.push(done[i]);
                if let Some(frames) = r.frames.as_mut() {
                    frames.push(out.frames[j].clone());
                }
                states[i] = state;
            }
        }
        Ok(rollouts)
    }
}
