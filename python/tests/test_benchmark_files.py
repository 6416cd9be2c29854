"""Benchmark files in Python (numpy only, no server): the safetensors reader/writer,
task directories, prediction files and report headlines, with the errors a user sees
for a missing file, a wrong format field or a wrong shape."""

import json
import pathlib
import struct
import sys

import numpy as np
import pytest

try:
    import somnium_bench as sb
except ImportError:  # running from a checkout without `pip install ./python`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    import somnium_bench as sb
from somnium_bench import safetensors as st

N, W, H, HZ = 3, 4, 8, 5  # tasks, context frames, frame size, horizon


def make_tasks(root, kind="box", **override):
    """Write a small, valid tasks directory under ``root`` and return its meta dict."""
    rng = np.random.default_rng(0)
    steps = W - 1 + HZ
    space = {"kind": "box", "low": [-1.0, -1.0], "high": [1.0, 1.0]} if kind == "box" else {"kind": "discrete", "n": 2}
    meta = {"format": "somnium-benchmark-tasks", "version": 1, "scenario": "bounce-v0", "variant": "id",
            "seed": 100, "episodes": N, "seeds": [100, 101, 102], "policy": "random", "context_frames": W,
            "horizon": HZ, "frame_height": H, "frame_width": H, "action_space": space, "control_hz": 15.0,
            "perturbation": None, "command": ["somnium", "benchmark", "export"]}
    meta.update(override)
    actions = (rng.uniform(-1, 1, (N, steps, 2)).astype(np.float32) if kind == "box"
               else rng.integers(0, 2, (N, steps)).astype(np.int64))
    tensors = {"context": rng.integers(0, 256, (N, W, H, H, 3), dtype=np.uint8), "actions": actions,
               "seeds": np.array([100, 101, 102], np.int64)}
    root.mkdir(exist_ok=True)
    (root / "tasks.json").write_text(json.dumps(meta))
    st.save(root / "tasks.safetensors", tensors)
    return meta, tensors


def test_safetensors_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {"u8": rng.integers(0, 256, (2, 3, 4), dtype=np.uint8), "i64": np.array([-5, 2**40], np.int64),
               "f32": rng.standard_normal((5, 1)).astype(np.float32), "empty": np.zeros((0, 3), np.float32),
               "scalar": np.array(3.5, np.float32)}
    st.save(tmp_path / "a.safetensors", tensors, {"format": "test"})
    back, meta = st.load(tmp_path / "a.safetensors")
    assert meta == {"format": "test"}
    assert sorted(back) == sorted(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v)
    header, start = st.read_header(tmp_path / "a.safetensors")
    assert start % 8 == 0 and header["i64"]["dtype"] == "I64"


def test_safetensors_layout_is_the_reference_layout(tmp_path):
    """The exact bytes: u64 LE header length, JSON header, raw LE data (what the Rust crate reads)."""
    st.save(tmp_path / "b.safetensors", {"x": np.array([1, 2], np.int64)})
    raw = (tmp_path / "b.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert header == {"x": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}}
    assert raw[8 + n :] == (1).to_bytes(8, "little") + (2).to_bytes(8, "little")


@pytest.mark.parametrize("payload, match", [
    (b"\x01\x02", "too short"),
    (struct.pack("<Q", 10**6) + b"{}", "does not fit"),
    (struct.pack("<Q", 4) + b"nope", "not JSON"),
    (struct.pack("<Q", 2) + b"[]", "expected an object"),
])
def test_safetensors_bad_header(tmp_path, payload, match):
    (tmp_path / "bad.safetensors").write_bytes(payload)
    with pytest.raises(sb.SafetensorsError, match=match):
        st.load(tmp_path / "bad.safetensors")


def test_safetensors_bad_entries(tmp_path):
    def write(header, data=b""):
        raw = json.dumps(header).encode()
        (tmp_path / "e.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + data)

    write({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, b"\0" * 8)
    with pytest.raises(sb.SafetensorsError, match="'x' F32 \\[4\\] needs 16 bytes"):
        st.load(tmp_path / "e.safetensors")
    write({"x": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8)
    with pytest.raises(sb.SafetensorsError, match="unsupported dtype 'C64'"):
        st.load(tmp_path / "e.safetensors")
    write({"x": {"dtype": "U8", "shape": [1]}}, b"\0")
    with pytest.raises(sb.SafetensorsError, match="lacks dtype, shape or data_offsets"):
        st.load(tmp_path / "e.safetensors")
    with pytest.raises(FileNotFoundError, match="no such safetensors file"):
        st.load(tmp_path / "missing.safetensors")
    with pytest.raises(sb.SafetensorsError, match="unsupported|no safetensors equivalent"):
        st.save(tmp_path / "c.safetensors", {"c": np.zeros(2, np.complex64)})


@pytest.mark.parametrize("kind", ["box", "discrete"])
def test_read_tasks(tmp_path, kind):
    meta, tensors = make_tasks(tmp_path / "tasks", kind)
    tasks = sb.read_tasks(tmp_path / "tasks")
    assert (tasks.episodes, tasks.context_frames, tasks.horizon) == (N, W, HZ)
    assert np.array_equal(tasks.context, tensors["context"]) and np.array_equal(tasks.actions, tensors["actions"])
    assert tasks.seeds.tolist() == [100, 101, 102]
    enc = tasks.encoded_actions()
    assert enc.dtype == np.float32 and enc.shape[:2] == (N, W - 1 + HZ)
    if kind == "discrete":
        assert enc.shape[2] == 2 and np.array_equal(enc.argmax(-1), tensors["actions"])


def test_read_tasks_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no tasks.json"):
        sb.read_tasks(tmp_path / "nothing")
    make_tasks(tmp_path / "t1", format="somnium-something-else")
    with pytest.raises(sb.TaskFileError, match="format 'somnium-something-else'"):
        sb.read_tasks(tmp_path / "t1")
    make_tasks(tmp_path / "t2", version=2)
    with pytest.raises(sb.TaskFileError, match="version 2"):
        sb.read_tasks(tmp_path / "t2")
    make_tasks(tmp_path / "t3", horizon=HZ + 1)  # JSON says one more step than the actions hold
    with pytest.raises(sb.TaskFileError, match="'actions' is F32 \\[3, 8, 2\\], expected F32 \\[3, 9, 2\\]"):
        sb.read_tasks(tmp_path / "t3")
    make_tasks(tmp_path / "t4", frame_height=16)
    with pytest.raises(sb.TaskFileError, match="'context' is U8"):
        sb.read_tasks(tmp_path / "t4")
    make_tasks(tmp_path / "t5", action_space={"kind": "multi"})
    with pytest.raises(sb.TaskFileError, match="action_space kind 'multi'"):
        sb.read_tasks(tmp_path / "t5")
    meta, _ = make_tasks(tmp_path / "t6")
    del meta["horizon"]
    (tmp_path / "t6" / "tasks.json").write_text(json.dumps(meta))
    with pytest.raises(sb.TaskFileError, match="missing field 'horizon'"):
        sb.read_tasks(tmp_path / "t6")
    make_tasks(tmp_path / "t7", seeds=[1, 2, 3])
    with pytest.raises(sb.TaskFileError, match="differ from tasks.json"):
        sb.read_tasks(tmp_path / "t7")
    make_tasks(tmp_path / "t8")
    (tmp_path / "t8" / "tasks.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no tasks.safetensors"):
        sb.read_tasks(tmp_path / "t8")


def test_predictions_round_trip_and_checks(tmp_path):
    make_tasks(tmp_path / "tasks")
    tasks = sb.read_tasks(tmp_path / "tasks")
    frames = np.random.default_rng(2).integers(0, 256, (N, HZ - 1, H, H, 3), dtype=np.uint8)
    path = tmp_path / "preds.safetensors"
    sb.write_predictions(path, frames, tasks=tasks)
    back = sb.read_predictions(path, tasks)
    assert np.array_equal(back["frames"], frames) and back["seeds"].tolist() == [100, 101, 102]
    raw, _ = st.load(path)
    assert raw["frames"].dtype == np.uint8 and raw["seeds"].dtype == np.int64

    with pytest.raises(sb.TaskFileError, match="expected uint8"):
        sb.write_predictions(path, frames.astype(np.float32), tasks=tasks)
    with pytest.raises(sb.TaskFileError, match="expected \\[N, P, H, W, 3\\]"):
        sb.write_predictions(path, frames[..., 0], tasks=tasks)
    with pytest.raises(sb.TaskFileError, match="do not answer 3 tasks"):
        sb.write_predictions(path, frames[:2], tasks=tasks)
    with pytest.raises(sb.TaskFileError, match="1 to 5 steps"):
        sb.write_predictions(path, np.zeros((N, HZ + 1, H, H, 3), np.uint8), tasks=tasks)
    with pytest.raises(sb.TaskFileError, match="seeds have shape"):
        sb.write_predictions(path, frames, seeds=[1, 2])
    sb.write_predictions(path, frames, seeds=[7, 8, 9])
    with pytest.raises(sb.TaskFileError, match="differ from the tasks' seeds"):
        sb.read_predictions(path, tasks)
    st.save(path, {"pixels": frames})
    with pytest.raises(sb.TaskFileError, match="no tensor 'frames'"):
        sb.read_predictions(path)


def test_report_headline(tmp_path):
    stat = lambda m: {"mean": m, "ci95": 0.5, "n": 10}  # noqa: E731
    summary = lambda m: {"steps": 32, "episodes": 10, "centroid_error_px": stat(m), "kept_share": 0.9,  # noqa: E731
                         "miss_rate": 0.01, "psnr_db": stat(30.0)}
    evaluation = {"horizons": [1, 2], "methods": [{"name": "twin", "summary": summary(4.0)},
                                                  {"name": "copy_last", "summary": summary(9.0)}],
                  "comparisons": [{"model": "twin", "baseline": "copy_last",
                                   "verdict": {"beats": True, "why": "interval excludes zero"}}]}
    # the evaluator's report alone, and wrapped as somnium eval / benchmark score write it
    (tmp_path / "report.json").write_text(json.dumps(evaluation))
    full = {"predictor": "twin", "horizons": evaluation, "episode_scores": [
        {"seed": 5, "mean_error_px_h1_32": 3.5, "dreamed_steps": 32}, {"seed": 6, "mean_error_px_h1_32": None}],
        "verdicts": [{"baseline": "copy_last", "beats": False, "why": "paired interval includes 0"}]}
    (tmp_path / "full.json").write_text(json.dumps(full))
    h = sb.headline(tmp_path)
    assert h["method"] == "twin" and h["centroid_error_px"] == (4.0, 0.5) and h["steps"] == 32
    assert h["verdicts"] == {"copy_last": (True, "interval excludes zero")}
    assert sb.headline(tmp_path / "report.json", "copy_last")["centroid_error_px"] == (9.0, 0.5)
    assert sb.headline(tmp_path / "full.json")["verdicts"] == {"copy_last": (False, "paired interval includes 0")}
    assert sb.episode_scores(sb.load_report(tmp_path / "full.json")) == {5: 3.5}
    with pytest.raises(sb.ReportError, match="no method 'physics'"):
        sb.method_summary(evaluation, "physics")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(sb.ReportError, match="neither 'horizons'"):
        sb.load_report(tmp_path / "x.json")
