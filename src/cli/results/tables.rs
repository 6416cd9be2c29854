//! The Markdown tables of `somnium results`, one renderer per kind of report.
//!
//! Every number is formatted with a fixed precision (errors and times to two
//! decimals or one, shares as percentages to one decimal), so the same JSON
//! always renders to the same text. A field a table needs and the report lacks
//! is an error naming the field; optional parts (episode ends, the PyTorch peer,
//! a recorded command) are left out when absent.

use std::path::Path;

use anyhow::{anyhow, Context};
use serde_json::Value;

type R<T> = anyhow::Result<T>;

fn field<'a>(v: &'a Value, key: &str) -> R<&'a Value> {
    v.get(key).ok_or_else(|| anyhow!("missing field `{key}`"))
}

fn num(v: &Value, key: &str) -> R<f64> {
    field(v, key)?
        .as_f64()
        .ok_or_else(|| anyhow!("field `{key}` is not a number"))
}

pub(super) fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "–".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn arr<'a>(v: &'a Value, key: &str) -> R<&'a Vec<Value>> {
    field(v, key)?
        .as_array()
        .ok_or_else(|| anyhow!("field `{key}` is not a list"))
}

pub(super) fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// `mean ± ci95` of a `{mean, ci95, n}` statistic, `–` when absent or null.
pub(super) fn stat(v: &Value, key: &str, decimals: usize) -> String {
    match v.get(key) {
        Some(s) if s.is_object() => match (
            s.get("mean").and_then(Value::as_f64),
            s.get("ci95").and_then(Value::as_f64),
        ) {
            (Some(m), Some(c)) => format!("{m:.decimals$} ± {c:.decimals$}"),
            (Some(m), None) => format!("{m:.decimals$}"),
            _ => "–".to_owned(),
        },
        _ => "–".to_owned(),
    }
}

pub(super) fn opt(v: &Value, key: &str, f: impl Fn(f64) -> String) -> String {
    v.get(key)
        .and_then(Value::as_f64)
        .map(f)
        .unwrap_or_else(|| "–".to_owned())
}

fn row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

fn header(cells: &[&str], left: usize) -> String {
    let rule: Vec<&str> = (0..cells.len())
        .map(|i| if i < left { "---" } else { "---:" })
        .collect();
    format!("| {} |\n|{}|\n", cells.join(" | "), rule.join("|"))
}

/// The command that produced a report, when the report records one
/// (`command`: a string, or a list of arguments).
pub fn command(v: &Value) -> Option<String> {
    match v.get("command")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// A `somnium eval` or `somnium benchmark score` report (benchmark v2): error per
/// horizon for every predictor, the means over every step 1-32, the verdicts with
/// their paired intervals, the model per horizon, then bounce timing, the long
/// run, action following, counterfactual action fidelity and episode ends.
pub fn consistency(v: &Value) -> R<String> {
    let mut out = format!(
        "`{}` on `{}` (`{}`): {} episodes from seed {}, {} context frames, horizons up to {}, actions `{}`.\n\n",
        text(v, "model"),
        text(v, "scenario"),
        text(v, "variant"),
        text(v, "episodes"),
        text(v, "seed"),
        text(v, "context_frames"),
        text(v, "max_horizon"),
        text(v, "actions"),
    );
    let hz = field(v, "horizons")?;
    let horizons: Vec<String> = arr(hz, "horizons")?
        .iter()
        .map(|h| format!("h{h}"))
        .collect();
    let methods = arr(hz, "methods")?;
    let model_name = methods.first().map(|m| text(m, "name"));
    out.push_str(&format!(
        "Centroid error in pixels over all true objects (mean ± 95% CI; a missed object counts {} px), then each predictor's means over every step 1-32: error, kept (mask IoU ≥ 0.5), missed, sharpness (gradient energy over the truth's):\n\n",
        opt(hz, "miss_penalty_px", |x| format!("{x:.1}"))
    ));
    let mut cols = vec!["method"];
    cols.extend(horizons.iter().map(String::as_str));
    cols.extend([
        "error h1-32",
        "kept h1-32",
        "missed h1-32",
        "sharpness h1-32",
    ]);
    out.push_str(&header(&cols, 1));
    for m in methods {
        let name = text(m, "name");
        let mut cells = vec![if Some(&name) == model_name.as_ref() {
            format!("**{name}**")
        } else {
            name.clone()
        }];
        for h in arr(m, "horizons")? {
            cells.push(stat(h, "centroid_error_px", 2));
        }
        let s = field(m, "summary")?;
        cells.push(stat(s, "centroid_error_px", 2));
        cells.push(opt(s, "kept_share", pct));
        cells.push(opt(s, "miss_rate", pct));
        cells.push(stat(s, "sharpness", 2));
        out.push_str(&row(&cells));
    }
    let comparisons = arr(hz, "comparisons")?;
    if let Some(first) = comparisons.first() {
        out.push_str(&format!(
            "\nVerdicts: `{}` against each predictor, paired by episode (bootstrap 95% intervals of the difference, per-episode means over every step 1-{}). It beats one only where the error interval excludes zero, the kept share is not worse, no horizon is worse and its frames are sharp:\n\n",
            text(first, "model"),
            text(field(first, "h1_32")?, "horizon"),
        ));
        out.push_str(&header(
            &[
                "against",
                "episodes",
                "error difference (px)",
                "kept difference",
                "beats",
                "why",
            ],
            1,
        ));
        for c in comparisons {
            let p = field(c, "h1_32")?;
            let verdict = field(c, "verdict")?;
            out.push_str(&row(&[
                text(c, "baseline"),
                text(p, "episodes"),
                interval(p, "error_diff_px", 2),
                interval(p, "kept_diff", 3),
                if field(verdict, "beats")?.as_bool() == Some(true) {
                    "**yes**".into()
                } else {
                    "no".into()
                },
                text(verdict, "why").replace('|', "/"),
            ]));
        }
    }
    if let Some(model) = methods.first() {
        out.push_str(&format!("\n`{}` per horizon:\n\n", text(model, "name")));
        let mut cols = vec!["measure"];
        cols.extend(horizons.iter().map(String::as_str));
        out.push_str(&header(&cols, 1));
        let hs = arr(model, "horizons")?;
        let line = |label: &str, f: &dyn Fn(&Value) -> String| {
            let mut cells = vec![label.to_owned()];
            cells.extend(hs.iter().map(f));
            row(&cells)
        };
        out.push_str(&line("kept (IoU ≥ 0.5)", &|h| opt(h, "kept_share", pct)));
        out.push_str(&line("mean IoU", &|h| {
            opt(h, "mean_iou", |x| format!("{x:.2}"))
        }));
        out.push_str(&line("missed", &|h| opt(h, "miss_rate", pct)));
        out.push_str(&line("median area ratio", &|h| {
            opt(h, "median_area_ratio", |x| format!("{x:.2}"))
        }));
        out.push_str(&line("PSNR (dB)", &|h| stat(h, "psnr_db", 1)));
        out.push_str(&line("SSIM", &|h| stat(h, "ssim", 3)));
        out.push_str(&line("sharpness", &|h| stat(h, "sharpness", 2)));
        out.push_str(&line("velocity error (px/step)", &|h| {
            stat(h, "velocity_error_px", 2)
        }));
        if let Some(c) = model.get("collision_timing").filter(|c| c.is_object()) {
            out.push_str(&format!(
                "\nBounces over the whole rollout: {} true, {} predicted, {} matched within ±{} steps, |timing error| {} steps.\n",
                text(c, "true_events"),
                text(c, "predicted_events"),
                opt(c, "matched_share", pct),
                text(c, "window_steps"),
                stat(c, "timing_error_steps", 2),
            ));
        }
    }
    out.push_str(&super::consistency_extras::extras(v));
    Ok(out)
}

/// `mean [lo, hi]` of a paired interval, `–` when absent.
fn interval(v: &Value, key: &str, decimals: usize) -> String {
    match v.get(key).filter(|i| i.is_object()) {
        Some(i) => match (num(i, "mean"), num(i, "lo"), num(i, "hi")) {
            (Ok(m), Ok(lo), Ok(hi)) => {
                format!("{m:+.decimals$} [{lo:+.decimals$}, {hi:+.decimals$}]")
            }
            _ => "–".to_owned(),
        },
        None => "–".to_owned(),
    }
}

/// A `somnium eval-agent` report: one row per env, then the episodes where two
/// envs disagree most, linking each GIF that `dir` (the report's directory)
/// still holds; `link` is that directory as seen from the generated page.
pub fn agent(v: &Value, link: &str, dir: &Path) -> R<String> {
    let mut out = format!(
        "Policy `{}`{}, {} seeded episodes from seed {}, {} s.\n\n",
        text(v, "policy"),
        match v.get("planner_model").and_then(Value::as_str) {
            Some(p) => format!(" planning with `{p}`"),
            None => String::new(),
        },
        arr(v, "envs")?
            .first()
            .and_then(|e| e.get("episodes"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        text(v, "seed"),
        opt(v, "wall_s", |x| format!("{x:.1}")),
    );
    out.push_str(&header(
        &[
            "env",
            "return (mean ± std)",
            "success",
            "mean length",
            "terminated",
            "time limit",
        ],
        1,
    ));
    for e in arr(v, "envs")? {
        out.push_str(&row(&[
            format!("`{}`", text(e, "env")),
            format!(
                "{:.2} ± {:.2}",
                num(e, "mean_return")?,
                num(e, "std_return")?
            ),
            opt(e, "success_rate", pct),
            opt(e, "mean_length", |x| format!("{x:.1}")),
            text(e, "terminated"),
            text(e, "time_limit"),
        ]));
    }
    if let Some(d) = v
        .get("disagreements")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
    {
        out.push_str("\nThe episodes where the two envs disagree most (each pair: the first env / the second):\n\n");
        out.push_str(&header(&["seed", "returns", "lengths", "ends", "GIF"], 5));
        for x in d.iter().take(3) {
            let gif = match x.get("gif").and_then(Value::as_str) {
                Some(g) if dir.join(g).is_file() => format!("[{g}]({link}/{g})"),
                Some(g) => format!("{g} (not committed)"),
                None => "–".to_owned(),
            };
            out.push_str(&row(&[
                text(x, "seed"),
                format!("{:.2} / {:.2}", num(x, "return_a")?, num(x, "return_b")?),
                format!("{} / {}", text(x, "length_a"), text(x, "length_b")),
                format!("{} / {}", text(x, "end_a"), text(x, "end_b")),
                gif,
            ]));
        }
    }
    Ok(out)
}

/// A `somnium bench --json` report: each timing beside the PyTorch peer's,
/// eager and (when measured) through `torch.compile`, with their ratios
/// (PyTorch time over somnium time; above 1, somnium is faster); then
/// somnium's imagination figures when the report has them.
pub fn bench(v: &Value) -> R<String> {
    let peer = v.get("peer").filter(|p| p.is_object());
    let compiled = v.get("peer_compiled").filter(|p| p.is_object());
    let cfg = v.get("config").cloned().unwrap_or(Value::Null);
    let mut out = format!(
        "Preset `{}` ({} parameters; width {}, depth {}, {} tokens a window, K = {}), {} on {} threads, medians of {} repeats, candle {}{}.\n\n",
        text(v, "preset"),
        text(v, "params"),
        text(&cfg, "width"),
        text(&cfg, "depth"),
        text(&cfg, "window_tokens"),
        text(&cfg, "sampling_steps"),
        text(v, "cpu"),
        text(v, "threads"),
        text(v, "repeats"),
        text(v, "candle_version"),
        peer.map(|p| format!(", PyTorch {}", text(p, "torch_version"))).unwrap_or_default(),
    );
    out.push_str(&header(
        &[
            "measure",
            "somnium",
            "PyTorch eager",
            "ratio",
            "torch.compile",
            "ratio",
        ],
        1,
    ));
    let batch = text(v, "train_batch");
    let rows: [(String, &str, usize); 10] = [
        ("forward, batch 1 (ms)".into(), "forward_b1_ms", 1),
        ("forward, batch 32 (ms)".into(), "forward_b32_ms", 1),
        ("dream step, batch 1 (ms)".into(), "dream_step_b1_ms", 1),
        ("dream step, batch 32 (ms)".into(), "dream_step_b32_ms", 1),
        (
            format!("training step, batch {batch} (ms)"),
            "train_step_ms",
            1,
        ),
        ("training windows/s".into(), "train_windows_per_s", 1),
        ("matmul 1024^3 (GFLOP/s)".into(), "matmul_gflops", 1),
        (
            "forward, batch 32 (GFLOP/s)".into(),
            "gflops_forward_b32",
            1,
        ),
        (
            "dream step, batch 32 (GFLOP/s)".into(),
            "gflops_dream_b32",
            1,
        ),
        ("training step (GFLOP/s)".into(), "gflops_train", 1),
    ];
    let dash = || "–".to_string();
    for (label, key, d) in rows {
        let ours = num(v, key).with_context(|| format!("bench report, row `{label}`"))?;
        let cell = |p: Option<&Value>| {
            p.map(|p| opt(p, key, |x| format!("{x:.d$}")))
                .unwrap_or_else(dash)
        };
        let ratio = |name: &str| {
            v.get(name)
                .filter(|r| r.is_object())
                .map(|r| opt(r, key, |x| format!("{x:.2}")))
                .unwrap_or_else(dash)
        };
        out.push_str(&row(&[
            label,
            format!("{ours:.d$}"),
            cell(peer),
            ratio("ratio"),
            cell(compiled),
            ratio("ratio_compiled"),
        ]));
    }
    out.push_str(&format!(
        "\nThe batch-32 dream step runs at {} of candle's matmul rate. Ratio: PyTorch time over somnium time (rates: somnium over PyTorch); above 1, somnium is faster.\n",
        opt(v, "dream_b32_share_of_matmul", pct),
    ));
    let imagine: [(&str, &str); 5] = [
        ("rolling-cache step, batch 1 (ms)", "rolling_step_b1_ms"),
        (
            "imagined steps/s, window, batch 32",
            "imagine_window_b32_steps_per_s",
        ),
        (
            "imagined steps/s, rolling cache, batch 32",
            "imagine_rolling_b32_steps_per_s",
        ),
        (
            "imagined steps/s, window, batch 256",
            "imagine_window_b256_steps_per_s",
        ),
        (
            "imagined steps/s, rolling cache, batch 256",
            "imagine_rolling_b256_steps_per_s",
        ),
    ];
    if v.get(imagine[0].1).is_some() {
        out.push_str("\nImagination (somnium only: a `Dreamer` step with frames decoded):\n\n");
        out.push_str(&header(&["measure", "somnium"], 1));
        for (label, key) in imagine {
            out.push_str(&row(&[
                label.to_string(),
                opt(v, key, |x| format!("{x:.1}")),
            ]));
        }
    }
    Ok(out)
}
