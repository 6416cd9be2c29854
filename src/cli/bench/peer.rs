//! The PyTorch peer of `somnium bench`: `python/peers/bench_peer.py` run as a
//! subprocess on the same model config, after somnium's own measurements, and
//! the ratios of its figures to somnium's.
//!
//! A peer that cannot run (no interpreter, torch not importable, a crash, no
//! JSON on its last line) is not an error of the bench: the reason is reported
//! as `peer_error` and somnium's figures stand alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};
use somnium_world_model::config::ModelConfig;

/// Keys in milliseconds: the ratio is peer / somnium (above 1: somnium is faster).
pub const TIME_KEYS: [&str; 5] = [
    "forward_b1_ms",
    "forward_b32_ms",
    "dream_step_b1_ms",
    "dream_step_b32_ms",
    "train_step_ms",
];

/// Keys in GFLOP/s: the ratio is somnium / peer (above 1: somnium is faster).
pub const RATE_KEYS: [&str; 4] = [
    "matmul_gflops",
    "gflops_forward_b32",
    "gflops_dream_b32",
    "gflops_train",
];

/// How to run the peer.
pub struct PeerRun<'a> {
    /// The Python interpreter (a path or a name on `PATH`).
    pub python: &'a str,
    pub script: &'a Path,
    pub cfg: &'a ModelConfig,
    pub repeats: usize,
    pub threads: usize,
    pub train_batch: usize,
    /// Run the model through `torch.compile` (the script's `--compile`).
    pub compile: bool,
}

/// Writes the config where the peer can read it; removed when dropped.
struct TempConfig(PathBuf);

impl TempConfig {
    fn write(cfg: &ModelConfig) -> Result<Self, String> {
        let text = serde_json::to_string_pretty(cfg).map_err(|e| e.to_string())?;
        let path = std::env::temp_dir().join(format!(
            "somnium-bench-config-{}-{}.json",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::write(&path, text)
            .map_err(|e| format!("cannot write the peer's config {}: {e}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The last few lines of a process's output, for an error message.
fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

/// Runs the peer; its JSON object, or why there is none.
pub fn run_peer(run: &PeerRun) -> Result<Map<String, Value>, String> {
    if !run.script.is_file() {
        return Err(format!("peer script {} not found", run.script.display()));
    }
    let config = TempConfig::write(run.cfg)?;
    let output = Command::new(run.python)
        .arg(run.script)
        .arg("--config")
        .arg(&config.0)
        .args(["--repeats", &run.repeats.to_string()])
        .args(["--threads", &run.threads.to_string()])
        .args(["--train-batch", &run.train_batch.to_string()])
        .args(run.compile.then_some("--compile"))
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .env("OMP_NUM_THREADS", run.threads.to_string())
        .output()
        .map_err(|e| format!("cannot run the peer interpreter {:?}: {e}", run.python))?;
    if !output.status.success() {
        return Err(format!(
            "peer {:?} {} failed ({}): {}",
            run.python,
            run.script.display(),
            output.status,
            tail(&output.stderr, 3)
        ));
    }
    parse_peer_output(&String::from_utf8_lossy(&output.stdout))
}

/// The JSON object on the last line of the peer's stdout that holds one.
pub fn parse_peer_output(stdout: &str) -> Result<Map<String, Value>, String> {
    let line = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| {
            format!(
                "the peer printed no JSON line: {:?}",
                tail(stdout.as_bytes(), 2)
            )
        })?;
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("the peer printed {other}, not a JSON object")),
        Err(e) => Err(format!("the peer's JSON line does not parse: {e}")),
    }
}

/// A positive finite number under `key`, if there is one.
fn positive(map: &Map<String, Value>, key: &str) -> Option<f64> {
    map.get(key)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite() && *v > 0.0)
}

/// Peer / somnium for the time keys, somnium / peer for the rate keys; keys
/// missing or non-positive on either side are left out.
pub fn ratios(ours: &Map<String, Value>, peer: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for key in TIME_KEYS {
        if let (Some(a), Some(b)) = (positive(ours, key), positive(peer, key)) {
            out.insert(key.to_string(), Value::from(b / a));
        }
    }
    for key in RATE_KEYS {
        if let (Some(a), Some(b)) = (positive(ours, key), positive(peer, key)) {
            out.insert(key.to_string(), Value::from(a / b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn ratios_say_above_one_when_somnium_is_faster() {
        let ours =
            obj(json!({"forward_b1_ms": 10.0, "matmul_gflops": 300.0, "train_step_ms": 0.0}));
        let peer =
            obj(json!({"forward_b1_ms": 25.0, "matmul_gflops": 150.0, "train_step_ms": 5.0}));
        let r = ratios(&ours, &peer);
        assert_eq!(r["forward_b1_ms"], json!(2.5));
        assert_eq!(r["matmul_gflops"], json!(2.0));
        assert!(!r.contains_key("train_step_ms"), "a zero time has no ratio");
        assert!(!r.contains_key("dream_step_b1_ms"));
    }

    #[test]
    fn the_last_json_line_is_the_answer() {
        let out = "torch warming up\n{\"a\": 1}\nnoise\n{\"forward_b1_ms\": 3.5}\n\n";
        assert_eq!(parse_peer_output(out).unwrap()["forward_b1_ms"], json!(3.5));
        assert!(parse_peer_output("no json here").is_err());
        assert!(parse_peer_output("{not json").is_err());
    }

    #[test]
    fn a_missing_interpreter_is_a_reason_not_a_panic() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/peers/bench_peer.py");
        let cfg = ModelConfig::tiny();
        let run = PeerRun {
            python: "/nonexistent/python",
            script: &script,
            cfg: &cfg,
            repeats: 1,
            threads: 1,
            train_batch: 2,
            compile: false,
        };
        let e = run_peer(&run).unwrap_err();
        assert!(e.contains("/nonexistent/python"), "{e}");
    }
}
