//! The sentences under a consistency report's tables in `somnium results`: the
//! long run, action following, counterfactual action fidelity and episode ends,
//! each left out when the report lacks it.

use serde_json::Value;

use super::tables::{opt, pct, stat, text};

/// The optional parts of a consistency report, as Markdown paragraphs.
pub fn extras(v: &Value) -> String {
    let mut out = String::new();
    if let Some(l) = v.get("long_run").filter(|l| l.is_object()) {
        out.push_str(&format!(
            "\nLong run ({} dreamed frames): kept {} to h32, {} of all frames, {} in the last 32; median area ratio {}; in the arena {}; background ratio {}.\n",
            text(l, "frames"),
            opt(l, "kept_share_h32", pct),
            opt(l, "kept_share_all", pct),
            opt(l, "kept_share_last32", pct),
            opt(l, "median_area_ratio", |x| format!("{x:.2}")),
            opt(l, "in_arena_share", pct),
            opt(l, "background_ratio", |x| format!("{x:.3}")),
        ));
    }
    if let Some(a) = v.get("action_following").filter(|a| a.is_object()) {
        out.push_str(&format!(
            "\nAction following (`{}`, two opposite constant actions for {} steps, distance between the outcomes): physics {} px, dream {} px, dream / physics {}, relative error {}.\n",
            text(a, "object"),
            text(a, "horizon"),
            stat(a, "physics_response_px", 2),
            stat(a, "dream_response_px", 2),
            opt(a, "ratio", |x| format!("{x:.2}")),
            opt(a, "relative_error", pct),
        ));
    }
    if let Some(c) = v.get("counterfactual").filter(|c| c.is_object()) {
        out.push_str(&format!(
            "\nCounterfactual action fidelity: {}\n",
            counterfactual_sentence(c)
        ));
    }
    if let Some(e) = v.get("episode_ends").filter(|e| e.is_object()) {
        out.push_str(&format!(
            "\nEpisode ends within {} steps: physics ended {} of {} (mean {} steps), the dream {} (mean {}); the dream ends within one step of physics in {}, earlier in {}, later in {}.\n",
            text(e, "horizon"),
            text(e, "physics_ended"),
            text(e, "episodes"),
            opt(e, "physics_mean_steps", |x| format!("{x:.1}")),
            text(e, "dream_ended"),
            opt(e, "dream_mean_steps", |x| format!("{x:.1}")),
            opt(e, "matched_share", pct),
            opt(e, "dream_early_share", pct),
            opt(e, "dream_late_share", pct),
        ));
    }
    out
}

/// The counterfactual fidelity result (`env::consistency::counterfactual`) in words.
fn counterfactual_sentence(c: &Value) -> String {
    let interval = match c.get("r_ci95").and_then(Value::as_array).map(Vec::as_slice) {
        Some([lo, hi]) => format!(
            " [{:.3}, {:.3}]",
            lo.as_f64().unwrap_or(f64::NAN),
            hi.as_f64().unwrap_or(f64::NAN)
        ),
        _ => String::new(),
    };
    format!(
        "`{}`, {} states x {} pairs of random action sequences of {} steps ({} pairs measured, the dream lost the object in {}): correlation of the dreamed with the physical difference of its final position r = {}{}, slope dream/physics {}, median relative error {}; physics difference {} px, dream {} px.",
        text(c, "object"),
        text(c, "states"),
        text(c, "pairs_per_state"),
        text(c, "horizon"),
        text(c, "pairs"),
        text(c, "dream_lost"),
        opt(c, "r", |x| format!("{x:.3}")),
        interval,
        opt(c, "slope", |x| format!("{x:.2}")),
        opt(c, "median_relative_error", pct),
        stat(c, "physics_difference_px", 2),
        stat(c, "dream_difference_px", 2),
    )
}
