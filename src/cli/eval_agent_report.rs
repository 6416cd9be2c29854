//! The files of `somnium eval-agent`: the Markdown report (summaries per env,
//! every episode side by side, the largest disagreements) and the side-by-side
//! GIFs (first env | second env) of the episodes where the envs disagree most.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use somnium_agents::{EpisodeResult, EvalSummary};
use somnium_env::gif_out::write_gif;
use somnium_env::{DoneReason, Frame};

/// Rows of the disagreement table in report.md.
const TOP_ROWS: usize = 10;

/// One seed run in both envs, ranked by how much their returns differ.
#[derive(Clone, Debug, Serialize)]
pub struct Disagreement {
    pub seed: u64,
    pub return_a: f32,
    pub return_b: f32,
    pub difference: f32,
    pub end_a: Option<DoneReason>,
    pub end_b: Option<DoneReason>,
    pub length_a: u32,
    pub length_b: u32,
    /// The side-by-side GIF, for the top few.
    pub gif: Option<String>,
}

impl Disagreement {
    /// Every seed of `a` and `b` (same seeds, same order), largest difference first.
    pub fn rank(a: &EvalSummary, b: &EvalSummary, gifs: &[(u64, String)]) -> Vec<Self> {
        let mut d: Vec<Disagreement> = a
            .episodes
            .iter()
            .zip(&b.episodes)
            .map(|(x, y)| Disagreement {
                seed: x.seed,
                return_a: x.episode_return,
                return_b: y.episode_return,
                difference: (x.episode_return - y.episode_return).abs(),
                end_a: x.done_reason,
                end_b: y.done_reason,
                length_a: x.length,
                length_b: y.length,
                gif: gifs.iter().find(|g| g.0 == x.seed).map(|g| g.1.clone()),
            })
            .collect();
        d.sort_by(|x, y| {
            y.difference
                .total_cmp(&x.difference)
                .then(x.seed.cmp(&y.seed))
        });
        d
    }
}

/// A fraction as a percentage, `n/a` when undefined.
pub fn fmt_opt(v: Option<f32>) -> String {
    v.map_or("n/a".into(), |v| format!("{:.0}%", 100.0 * v))
}

fn end(reason: Option<DoneReason>) -> &'static str {
    match reason {
        Some(DoneReason::Terminated) => "terminated",
        Some(DoneReason::TimeLimit) => "truncated",
        None => "-",
    }
}

fn success(e: &EpisodeResult) -> &'static str {
    match e.success {
        Some(true) => "yes",
        Some(false) => "no",
        None => "n/a",
    }
}

/// The Markdown report of one or two summaries (same seeds).
pub fn markdown(policy: &str, summaries: &[EvalSummary], worst: &[Disagreement]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# eval-agent: `{policy}`\n");
    let _ = writeln!(
        md,
        "| env | episodes | mean return | std | success | terminated | truncated (time limit) | mean length |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for s in summaries {
        let _ = writeln!(
            md,
            "| `{}` | {} | {:.2} | {:.2} | {} | {} | {} | {:.1} |",
            s.env,
            s.episodes.len(),
            s.mean_return,
            s.std_return,
            fmt_opt(s.success_rate),
            s.terminated,
            s.time_limit,
            s.mean_length
        );
    }
    let [a, b] = summaries else {
        return md;
    };
    let _ = writeln!(md, "\nA = `{}`, B = `{}`, on the same seeds.", a.env, b.env);
    let _ = writeln!(md, "\n## Episodes where the envs disagree most\n");
    let _ = writeln!(
        md,
        "| seed | return A | return B | difference | end A | end B | length A | length B | GIF (A \\| B) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for d in worst.iter().take(TOP_ROWS) {
        let gif = d
            .gif
            .as_ref()
            .map_or(String::new(), |g| format!("![seed {}]({g})", d.seed));
        let _ = writeln!(
            md,
            "| {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {gif} |",
            d.seed,
            d.return_a,
            d.return_b,
            d.difference,
            end(d.end_a),
            end(d.end_b),
            d.length_a,
            d.length_b
        );
    }
    let _ = writeln!(md, "\n## Every episode\n");
    let _ = writeln!(
        md,
        "| seed | return A | return B | success A | success B | end A | end B |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for (x, y) in a.episodes.iter().zip(&b.episodes) {
        let _ = writeln!(
            md,
            "| {} | {:.2} | {:.2} | {} | {} | {} | {} |",
            x.seed,
            x.episode_return,
            y.episode_return,
            success(x),
            success(y),
            end(x.done_reason),
            end(y.done_reason)
        );
    }
    md
}

/// `a` and `b` side by side with a 2-pixel grey bar between, the shorter episode
/// holding its last frame; `[max height, wa + 2 + wb, 3]`.
fn join(a: &Frame, b: &Frame) -> Frame {
    let gap = 2;
    let width = a.width + gap + b.width;
    let height = a.height.max(b.height);
    let mut data = vec![128u8; width * height * 3];
    for (frame, x0) in [(a, 0), (b, a.width + gap)] {
        for y in 0..frame.height {
            let src = &frame.data[y * frame.width * 3..(y + 1) * frame.width * 3];
            let dst = (y * width + x0) * 3;
            data[dst..dst + src.len()].copy_from_slice(src);
        }
    }
    Frame {
        width,
        height,
        data,
    }
}

/// Writes the GIF of `a | b` (frame by frame) to `path`, playing at `fps`.
pub fn side_by_side_gif(path: &Path, a: &[Frame], b: &[Frame], fps: f32) -> anyhow::Result<()> {
    let (Some(last_a), Some(last_b)) = (a.last(), b.last()) else {
        anyhow::bail!("no frames recorded for {}", path.display());
    };
    let frames: Vec<Frame> = (0..a.len().max(b.len()))
        .map(|t| join(a.get(t).unwrap_or(last_a), b.get(t).unwrap_or(last_b)))
        .collect();
    let scale = if last_a.height <= 32 { 4 } else { 2 };
    write_gif(path, &frames, scale, fps)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_join_with_a_bar_and_the_shorter_side_padded() {
        let f = |w, h, v| Frame {
            width: w,
            height: h,
            data: vec![v; w * h * 3],
        };
        let j = join(&f(2, 2, 10), &f(3, 1, 200));
        assert_eq!((j.width, j.height), (7, 2));
        assert_eq!(&j.data[..3], &[10, 10, 10]);
        assert_eq!(&j.data[2 * 3..2 * 3 + 3], &[128, 128, 128]);
        assert_eq!(&j.data[4 * 3..4 * 3 + 3], &[200, 200, 200]);
        // row 1 of the one-row frame is the grey background
        assert_eq!(&j.data[(7 + 4) * 3..(7 + 4) * 3 + 3], &[128, 128, 128]);
    }
}
