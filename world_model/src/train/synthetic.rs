//! A synthetic dataset for tests and smoke runs: one coloured square moving at a
//! constant velocity on a dark background, bouncing off the walls. Needs no
//! physics engine, so the model's crate tests stand alone.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::Episode;

/// Background colour of the synthetic frames.
pub const SQUARE_BACKGROUND: [u8; 3] = [30, 30, 40];
/// Colour of the square.
pub const SQUARE_COLOR: [u8; 3] = [230, 60, 40];

/// `episodes` episodes of `steps` steps of `size x size` frames with a square of
/// side `side` pixels moving 1 to 2 pixels per step. Actions are 2-D uniform
/// noise (the square ignores them); the reward is the square's x position in [0, 1].
pub fn moving_square_episodes(
    episodes: usize,
    steps: usize,
    size: usize,
    side: usize,
    seed: u64,
) -> Vec<Episode> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let room = (size - side) as i64;
    (0..episodes)
        .map(|i| {
            let mut pos = [rng.random_range(0..=room), rng.random_range(0..=room)];
            let mut vel = [0i64; 2];
            for v in &mut vel {
                *v = rng.random_range(1..=2) * if rng.random::<bool>() { 1 } else { -1 };
            }
            let mut frames = Vec::with_capacity((steps + 1) * size * size * 3);
            let mut states = Vec::with_capacity((steps + 1) * 2);
            let (mut actions, mut rewards) = (Vec::new(), Vec::new());
            for t in 0..=steps {
                draw(&mut frames, size, side, pos);
                states.extend([pos[0] as f32, pos[1] as f32]);
                if t == steps {
                    break;
                }
                actions.extend([
                    rng.random_range(-1.0f32..1.0),
                    rng.random_range(-1.0f32..1.0),
                ]);
                for k in 0..2 {
                    pos[k] += vel[k];
                    if pos[k] < 0 {
                        pos[k] = -pos[k];
                        vel[k] = -vel[k];
                    } else if pos[k] > room {
                        pos[k] = 2 * room - pos[k];
                        vel[k] = -vel[k];
                    }
                }
                rewards.push(pos[0] as f32 / room.max(1) as f32);
            }
            Episode {
                seed: seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
                frames,
                actions,
                rewards,
                terminated: vec![false; steps],
                truncated: vec![false; steps],
                states,
            }
        })
        .collect()
}

fn draw(frames: &mut Vec<u8>, size: usize, side: usize, pos: [i64; 2]) {
    for y in 0..size as i64 {
        for x in 0..size as i64 {
            let inside =
                x >= pos[0] && x < pos[0] + side as i64 && y >= pos[1] && y < pos[1] + side as i64;
            frames.extend(if inside {
                SQUARE_COLOR
            } else {
                SQUARE_BACKGROUND
            });
        }
    }
}

/// Centroid `(x, y)` in pixels of the pixels closer to the square's colour than
/// to the background, in one frame `[size, size, 3]`; `None` when there are none.
pub fn square_centroid(frame: &[u8], size: usize) -> Option<[f32; 2]> {
    let (mut sx, mut sy, mut n) = (0f32, 0f32, 0f32);
    for (i, p) in frame.chunks_exact(3).enumerate() {
        let dist = |c: [u8; 3]| {
            (0..3)
                .map(|k| (p[k] as f32 - c[k] as f32).powi(2))
                .sum::<f32>()
        };
        if dist(SQUARE_COLOR) < dist(SQUARE_BACKGROUND) {
            sx += (i % size) as f32;
            sy += (i / size) as f32;
            n += 1.0;
        }
    }
    (n > 0.0).then(|| [sx / n, sy / n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squares_move_and_stay_inside() {
        let eps = moving_square_episodes(3, 20, 16, 4, 0);
        for ep in &eps {
            assert_eq!(ep.frames.len(), 21 * 16 * 16 * 3);
            let mut last = None;
            for t in 0..=20 {
                let frame = &ep.frames[t * 768..(t + 1) * 768];
                let c = square_centroid(frame, 16).unwrap();
                assert!((1.5..=14.5).contains(&c[0]) && (1.5..=14.5).contains(&c[1]));
                assert_ne!(Some(c), last);
                last = Some(c);
            }
        }
        assert_eq!(moving_square_episodes(3, 20, 16, 4, 0), eps);
    }
}
