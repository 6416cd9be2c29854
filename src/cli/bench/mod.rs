//! `somnium bench`: the speed figures of the world model in one process, and
//! beside them a PyTorch peer of the same architecture on the same machine.
//!
//! What it measures (milliseconds, medians of `--repeats` runs after a warm-up):
//! - `matmul_gflops`: candle's f32 `[1024, 1024] x [1024, 1024]` matmul on the CPU;
//! - `forward_b1_ms`, `forward_b32_ms`: `DiT::forward` over a whole `W + 1`
//!   training window at batch 1 and 32;
//! - `dream_step_b1_ms`, `dream_step_b32_ms`: one `sampler::dream_step` with the
//!   default options (context pass + K cached denoising passes);
//! - `train_step_ms` at `train_batch` windows: `Trainer::train_step` (batch,
//!   noise, loss, backward, clipping, AdamW, EMA);
//! - `rolling_step_b1_ms` and `imagine_{window,rolling}_b{32,256}_steps_per_s`:
//!   a `sampler::Dreamer` step (frames decoded) with the window context or the
//!   rolling key/value cache, as one step's time at batch 1 and as imagined
//!   env steps per second (batch / step time) at batch 32 and 256.
//!
//! GFLOP/s divide analytic matmul FLOP counts (see [`flops`]: `2 M N K` per
//! product, attention over the pairs the block-causal mask lets through) by
//! those times. `--peer PYTHON` runs `python/peers/bench_peer.py` afterwards
//! and adds `peer` and `ratio` (see [`peer`]); `--peer-compile` runs it a second
//! time through `torch.compile` and adds `peer_compiled` and `ratio_compiled`.

mod flops;
mod measure;
#[cfg(test)]
mod parity;
mod peer;

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{json, Map, Value};
use somnium_world_model::config::{ContextCache, ModelConfig};
use somnium_world_model::train::TrainConfig;

/// Arguments of `somnium bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Model preset: tiny, small, base, or dit256 (d 256, 6 layers, 4 heads of
    /// 64, 8 context frames + 1 of 64 tokens: the speed issue's plain stack shape).
    #[arg(long, default_value = "small")]
    pub preset: String,
    /// JSON file with model config fields that override the preset.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Python interpreter with torch: also run the PyTorch peer, after somnium's runs.
    #[arg(long)]
    pub peer: Option<String>,
    /// Also time the peer through torch.compile (inductor), in the same run as
    /// eager (needs --peer).
    #[arg(long, requires = "peer")]
    pub peer_compile: bool,
    /// The peer script (default: python/peers/bench_peer.py of this source tree).
    #[arg(long)]
    pub peer_script: Option<PathBuf>,
    /// Timed runs per figure (each after one warm-up run).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Worker threads for candle and the peer (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Euler steps of a dream step (the preset's K, 4, when absent).
    #[arg(long)]
    pub sampling_steps: Option<usize>,
    /// Windows per training step (the training default).
    #[arg(long, default_value_t = TrainConfig::default().batch)]
    pub train_batch: usize,
    /// Only these figure groups of somnium's own (comma-separated: matmul,
    /// forward, dream, train, imagine); every group when absent.
    #[arg(long, value_delimiter = ',', value_parser = GROUPS)]
    pub only: Vec<String>,
}

/// The speed issue's plain-stack shape as a somnium config: width 256, 6
/// blocks, 4 heads of 64, a 9-frame window (8 context + 1), 64 tokens per frame.
pub fn dit256() -> ModelConfig {
    ModelConfig {
        width: 256,
        depth: 6,
        heads: 4,
        mlp_ratio: 4,
        context_frames: 8,
        ..ModelConfig::small()
    }
}

/// The preset called `name`, including the bench-only `dit256`.
fn preset(name: &str) -> anyhow::Result<ModelConfig> {
    if name == "dit256" {
        return Ok(dit256());
    }
    ModelConfig::preset(name)
        .map_err(|e| anyhow::anyhow!("{e} (the bench also knows dit256)"))
        .with_context(|| format!("--preset {name}"))
}

/// The preset with the fields of `--config` laid over it, validated.
fn model_config(args: &Args) -> anyhow::Result<ModelConfig> {
    let mut cfg = preset(&args.preset)?;
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let over: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let mut base = serde_json::to_value(&cfg)?;
        if let (Some(b), Some(o)) = (base.as_object_mut(), over.as_object()) {
            for (k, v) in o {
                b.insert(k.clone(), v.clone());
            }
        }
        cfg = serde_json::from_value(base)
            .with_context(|| format!("model config in {}", path.display()))?;
    }
    if let Some(k) = args.sampling_steps {
        anyhow::ensure!(k > 0, "--sampling-steps must be at least 1");
        cfg.sampling_steps = k;
    }
    cfg.validate().context("bench model config")?;
    Ok(cfg)
}

/// The CPU's model name from /proc/cpuinfo ("unknown" elsewhere).
fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The candle-core version this binary was built with (from Cargo.lock).
fn candle_version() -> String {
    let lock = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"));
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"candle-core\"" {
            if let Some(v) = lines.next().and_then(|l| l.split('"').nth(1)) {
                return v.to_string();
            }
        }
    }
    "unknown".into()
}

/// The config fields that fix the cost, for the report.
fn config_summary(cfg: &ModelConfig) -> Value {
    json!({
        "width": cfg.width,
        "depth": cfg.depth,
        "heads": cfg.heads,
        "head_dim": cfg.head_dim(),
        "mlp_ratio": cfg.mlp_ratio,
        "tokens_per_frame": cfg.tokens_per_frame(),
        "context_frames": cfg.context_frames,
        "window": cfg.window(),
        "window_tokens": cfg.window() * cfg.tokens_per_frame(),
        "patch_dim": cfg.patch_dim(),
        "sampling_steps": cfg.sampling_steps,
    })
}

/// The figure groups `--only` may name.
pub const GROUPS: [&str; 5] = ["matmul", "forward", "dream", "train", "imagine"];

/// The measurements of somnium's own model in `groups`, as the report's keys.
fn measure_somnium(
    cfg: &ModelConfig,
    repeats: usize,
    train_batch: usize,
    groups: &[String],
) -> anyhow::Result<Map<String, Value>> {
    let wants = |g: &str| groups.iter().any(|x| x == g);
    let steps = cfg.sampling_steps;
    let mut out = Map::new();
    let mut put = |k: &str, v: f64| {
        out.insert(k.to_string(), json!(v));
    };
    let mut trainer = measure::synthetic_trainer(cfg, train_batch)?;
    let mut matmul_gflops = None;
    if wants("matmul") {
        let n = measure::MATMUL_SIZE as f64;
        let rate = flops::gflops(2.0 * n * n * n, measure::matmul_ms(repeats)?);
        matmul_gflops = Some(rate);
        put("matmul_gflops", rate);
    }
    if wants("forward") {
        for batch in [1, 32] {
            let ms = measure::forward_ms(&trainer, batch, repeats)?;
            put(&format!("forward_b{batch}_ms"), ms);
            let work = flops::window_forward_flops(cfg, batch);
            put(&format!("gflops_forward_b{batch}"), flops::gflops(work, ms));
        }
        put(
            "gflop_forward_b1",
            flops::window_forward_flops(cfg, 1) / 1e9,
        );
    }
    if wants("dream") {
        for batch in [1, 32] {
            let ms = measure::dream_step_ms(&trainer, batch, repeats)?;
            put(&format!("dream_step_b{batch}_ms"), ms);
            let rate = flops::gflops(flops::dream_step_flops(cfg, batch, steps), ms);
            put(&format!("gflops_dream_b{batch}"), rate);
            if let (32, Some(m)) = (batch, matmul_gflops) {
                put("dream_b32_share_of_matmul", rate / m);
            }
        }
        put(
            "gflop_dream_step_b1",
            flops::dream_step_flops(cfg, 1, steps) / 1e9,
        );
    }
    if wants("train") {
        let ms = measure::train_step_ms(&mut trainer, repeats)?;
        put("train_step_ms", ms);
        put("train_windows_per_s", train_batch as f64 / (ms * 1e-3));
        let work = flops::train_step_flops(cfg, train_batch);
        put("gflops_train", flops::gflops(work, ms));
    }
    if wants("imagine") {
        let ms = measure::imagine_step_ms(&trainer, 1, ContextCache::Rolling, repeats)?;
        put("rolling_step_b1_ms", ms);
        for batch in [32, 256] {
            for (name, cache) in [
                ("window", ContextCache::Window),
                ("rolling", ContextCache::Rolling),
            ] {
                let ms = measure::imagine_step_ms(&trainer, batch, cache, repeats)?;
                put(
                    &format!("imagine_{name}_b{batch}_steps_per_s"),
                    batch as f64 / (ms * 1e-3),
                );
            }
        }
    }
    out.insert("params".into(), json!(trainer.model().params().count()));
    out.insert("train_batch".into(), json!(train_batch));
    Ok(out)
}

/// somnium-only figures: a rolling step's time and imagined steps per second.
const IMAGINE_KEYS: [&str; 5] = [
    "rolling_step_b1_ms",
    "imagine_window_b32_steps_per_s",
    "imagine_rolling_b32_steps_per_s",
    "imagine_window_b256_steps_per_s",
    "imagine_rolling_b256_steps_per_s",
];

/// Runs `somnium bench`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(t) = args.threads {
        anyhow::ensure!(t > 0, "--threads must be positive");
        // before any pool starts: rayon (gemm, fused kernels) and candle's own pool read these
        std::env::set_var("RAYON_NUM_THREADS", t.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", t.to_string());
    }
    anyhow::ensure!(args.repeats > 0, "--repeats must be positive");
    anyhow::ensure!(args.train_batch > 0, "--train-batch must be positive");
    let cfg = model_config(&args)?;
    let threads = candle_core::utils::get_num_threads();
    let preset_name = match &args.config {
        Some(path) => format!("{} + {}", args.preset, path.display()),
        None => args.preset.clone(),
    };
    let mut report = Map::new();
    report.insert("preset".into(), json!(preset_name));
    report.insert("config".into(), config_summary(&cfg));
    report.insert("threads".into(), json!(threads));
    report.insert("cpu".into(), json!(cpu_name()));
    report.insert("candle_version".into(), json!(candle_version()));
    report.insert("repeats".into(), json!(args.repeats));
    let groups: Vec<String> = if args.only.is_empty() {
        GROUPS.iter().map(|g| g.to_string()).collect()
    } else {
        args.only.clone()
    };
    report.extend(measure_somnium(
        &cfg,
        args.repeats,
        args.train_batch,
        &groups,
    )?);
    if let Some(python) = &args.peer {
        let script = args.peer_script.clone().unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/peers/bench_peer.py")
        });
        let modes: &[(bool, &str)] = if args.peer_compile {
            &[(false, ""), (true, "_compiled")]
        } else {
            &[(false, "")]
        };
        for &(compile, suffix) in modes {
            let run = peer::PeerRun {
                python,
                script: &script,
                cfg: &cfg,
                repeats: args.repeats,
                threads,
                train_batch: args.train_batch,
                compile,
            };
            match peer::run_peer(&run) {
                Ok(p) => {
                    let ratio = peer::ratios(&report, &p);
                    report.insert(format!("ratio{suffix}"), Value::Object(ratio));
                    let same = p.get("params").and_then(Value::as_u64) == report["params"].as_u64();
                    report.insert(format!("peer{suffix}_params_match"), json!(same));
                    report.insert(format!("peer{suffix}"), Value::Object(p));
                }
                Err(reason) => {
                    report.insert(format!("peer{suffix}"), Value::Null);
                    report.insert(format!("peer{suffix}_error"), json!(reason));
                }
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&Value::Object(report))?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// The report as a readable table: one row per figure, peer and ratio beside it.
fn print_table(report: &Map<String, Value>) {
    let text = |k: &str| report.get(k).map_or(String::new(), |v| v.to_string());
    println!(
        "somnium bench: preset {}, {} threads, {}, candle {}",
        text("preset"),
        text("threads"),
        text("cpu"),
        text("candle_version")
    );
    println!("config {}", text("config"));
    println!(
        "params {}, train batch {}",
        text("params"),
        text("train_batch")
    );
    let get = |k: &str| report.get(k).and_then(Value::as_object);
    let (peer, ratio) = (get("peer"), get("ratio"));
    let (compiled, ratio_compiled) = (get("peer_compiled"), get("ratio_compiled"));
    println!(
        "{:<22} {:>12} {:>12} {:>8} {:>12} {:>8}",
        "figure", "somnium", "pytorch", "ratio", "compiled", "ratio"
    );
    let num = |m: Option<&Map<String, Value>>, k: &str| {
        m.and_then(|m| m.get(k))
            .and_then(Value::as_f64)
            .map_or("-".to_string(), |v| format!("{v:.2}"))
    };
    for key in peer::TIME_KEYS.iter().chain(peer::RATE_KEYS.iter()) {
        println!(
            "{:<22} {:>12} {:>12} {:>8} {:>12} {:>8}",
            key,
            num(Some(report), key),
            num(peer, key),
            num(ratio, key),
            num(compiled, key),
            num(ratio_compiled, key)
        );
    }
    for key in IMAGINE_KEYS {
        println!("{:<32} {:>12}", key, num(Some(report), key));
    }
    for key in ["peer_error", "peer_compiled_error"] {
        if let Some(e) = report.get(key) {
            println!("{key}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dit256_is_the_issue_shape() {
        let c = preset("dit256").unwrap();
        c.validate().unwrap();
        assert_eq!((c.width, c.depth, c.heads, c.head_dim()), (256, 6, 4, 64));
        assert_eq!((c.window(), c.tokens_per_frame()), (9, 64));
        let e = format!("{:#}", preset("huge").unwrap_err());
        assert!(e.contains("huge") && e.contains("dit256"), "{e}");
    }

    #[test]
    fn candle_version_comes_from_the_lock_file() {
        assert!(candle_version().starts_with("0."), "{}", candle_version());
    }
}
