"""Benchmark task and prediction files (issue 22, "a benchmark any world model can take").

``somnium benchmark export --out tasks/`` writes

* ``tasks/tasks.json``: ``{"format": "somnium-benchmark-tasks", "version": 1, "scenario",
  "variant", "seed", "episodes", "seeds", "policy", "context_frames", "horizon",
  "frame_height", "frame_width", "action_space", "control_hz", "perturbation", "command"}``
  where ``action_space`` is ``{"kind": "box", "low": [...], "high": [...]}`` or
  ``{"kind": "discrete", "n": N}``;
* ``tasks/tasks.safetensors``: ``context`` U8 [N, W, H, Wd, 3] (W = context_frames),
  ``actions`` F32 [N, W-1+horizon, D] for a box space or I64 [N, W-1+horizon] for a
  discrete one, and ``seeds`` I64 [N]. ``actions[:, t]`` acts between frame t and t+1
  counted from the first context frame, so ``actions[:, W-1+k]`` produces predicted
  frame k (k = 0 is the first frame after the context).

A predictor answers with ``predictions.safetensors``: ``frames`` U8 [N, P, H, Wd, 3]
(P <= horizon; frame k is the k-th frame after the context) and optionally ``seeds``
I64 [N], which the scorer checks against the tasks'. The future frames are not in the
task files: ``somnium benchmark score`` rebuilds them from physics.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import safetensors as st

TASKS_JSON = "tasks.json"
TASKS_TENSORS = "tasks.safetensors"
FORMAT = "somnium-benchmark-tasks"
VERSION = 1


class TaskFileError(ValueError):
    """A task or prediction file is missing, malformed or inconsistent; the message names what."""


@dataclass
class Tasks:
    """A tasks directory in memory.

    ``context`` U8 [N, W, H, Wd, 3]; ``actions`` F32 [N, W-1+horizon, D] (box) or
    I64 [N, W-1+horizon] (discrete); ``seeds`` I64 [N]; ``meta`` is tasks.json as read."""

    context: np.ndarray
    actions: np.ndarray
    seeds: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def episodes(self) -> int:
        """Number of tasks N."""
        return int(self.context.shape[0])

    @property
    def context_frames(self) -> int:
        """Context frames W per task."""
        return int(self.meta["context_frames"])

    @property
    def horizon(self) -> int:
        """Frames to predict after the context."""
        return int(self.meta["horizon"])

    @property
    def frame_height(self) -> int:
        """Frame height H in pixels."""
        return int(self.meta["frame_height"])

    @property
    def frame_width(self) -> int:
        """Frame width Wd in pixels."""
        return int(self.meta["frame_width"])

    @property
    def action_space(self) -> dict:
        """``{"kind": "box", "low", "high"}`` or ``{"kind": "discrete", "n"}``."""
        return self.meta["action_space"]

    @property
    def scenario(self) -> str:
        """Scenario id, e.g. ``bounce-v0``."""
        return self.meta["scenario"]

    def encoded_actions(self) -> np.ndarray:
        """Actions as float vectors [N, W-1+horizon, D]: a box action as is, a discrete
        action i of n as a one-hot of length n (somnium's action encoding)."""
        if self.action_space["kind"] == "discrete":
            n = int(self.action_space["n"])
            return np.eye(n, dtype=np.float32)[self.actions]
        return self.actions.astype(np.float32, copy=False)


def _need(meta: dict, key: str, path: str, kind):
    if key not in meta:
        raise TaskFileError(f"{path}: missing field {key!r}")
    if not isinstance(meta[key], kind) or isinstance(meta[key], bool) and kind is not bool:
        raise TaskFileError(f"{path}: field {key!r} is {meta[key]!r}, expected {getattr(kind, '__name__', kind)}")
    return meta[key]


def _check_shape(path: str, name: str, arr: np.ndarray, dtype: str, shape: tuple) -> None:
    """Raise unless ``arr`` has safetensors dtype ``dtype`` and ``shape`` (None = any)."""
    got = st.dtype_name(arr)
    ok = got == dtype and arr.ndim == len(shape) and all(w is None or w == g for w, g in zip(shape, arr.shape))
    if not ok:
        want = "[" + ", ".join("?" if w is None else str(w) for w in shape) + "]"
        raise TaskFileError(f"{path}: '{name}' is {got} {list(arr.shape)}, expected {dtype} {want}")


def read_tasks_meta(root: str) -> dict:
    """Read and check ``root/tasks.json`` -> dict."""
    path = os.path.join(os.fspath(root), TASKS_JSON)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no tasks.json; write a tasks directory with `somnium benchmark export`")
    with open(path) as f:
        try:
            meta = json.load(f)
        except json.JSONDecodeError as e:
            raise TaskFileError(f"{path}: not JSON ({e})") from None
    if not isinstance(meta, dict):
        raise TaskFileError(f"{path}: a JSON {type(meta).__name__}, expected an object")
    if meta.get("format") != FORMAT:
        raise TaskFileError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise TaskFileError(f"{path}: version {meta.get('version')!r}, this reader knows {VERSION}")
    for key in ("episodes", "context_frames", "horizon", "frame_height", "frame_width"):
        if _need(meta, key, path, int) < 1:
            raise TaskFileError(f"{path}: field {key!r} is {meta[key]}, expected at least 1")
    _need(meta, "scenario", path, str)
    space = _need(meta, "action_space", path, dict)
    if space.get("kind") == "box":
        if not isinstance(space.get("low"), list) or len(space.get("low")) != len(space.get("high") or []):
            raise TaskFileError(f"{path}: box action_space needs 'low' and 'high' lists of equal length: {space}")
    elif space.get("kind") == "discrete":
        if not isinstance(space.get("n"), int) or space["n"] < 1:
            raise TaskFileError(f"{path}: discrete action_space needs a positive 'n': {space}")
    else:
        raise TaskFileError(f"{path}: action_space kind {space.get('kind')!r}, expected 'box' or 'discrete'")
    return meta


def read_tasks(root: str) -> Tasks:
    """Read a tasks directory (``tasks.json`` + ``tasks.safetensors``), checking every
    tensor's dtype and shape against the JSON. Raises FileNotFoundError or TaskFileError."""
    root = os.fspath(root)
    meta = read_tasks_meta(root)
    path = os.path.join(root, TASKS_TENSORS)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no tasks.safetensors next to tasks.json")
    try:
        tensors, _ = st.load(path, ["context", "actions", "seeds"])
    except st.SafetensorsError as e:
        raise TaskFileError(str(e)) from None
    n, w, steps = meta["episodes"], meta["context_frames"], meta["context_frames"] - 1 + meta["horizon"]
    _check_shape(path, "context", tensors["context"], "U8", (n, w, meta["frame_height"], meta["frame_width"], 3))
    space = meta["action_space"]
    if space["kind"] == "box":
        _check_shape(path, "actions", tensors["actions"], "F32", (n, steps, len(space["low"])))
    else:
        _check_shape(path, "actions", tensors["actions"], "I64", (n, steps))
        bad = (tensors["actions"] < 0) | (tensors["actions"] >= space["n"])
        if bad.any():
            raise TaskFileError(f"{path}: 'actions' holds indices outside 0..{space['n'] - 1}")
    _check_shape(path, "seeds", tensors["seeds"], "I64", (n,))
    if "seeds" in meta and list(meta["seeds"]) != tensors["seeds"].tolist():
        raise TaskFileError(f"{path}: 'seeds' differ from tasks.json's seeds")
    return Tasks(tensors["context"], tensors["actions"], tensors["seeds"], meta)


def write_predictions(path: str, frames: np.ndarray, seeds: Optional[np.ndarray] = None,
                      tasks: Optional[Tasks] = None) -> None:
    """Write ``predictions.safetensors``: ``frames`` U8 [N, P, H, Wd, 3] and, when given,
    ``seeds`` I64 [N]. With ``tasks``, the shape is checked against them first (N,
    1 <= P <= horizon, frame size) and the seeds default to the tasks' seeds."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise TaskFileError(f"predictions: frames are {frames.dtype}, expected uint8 (0..255 RGB)")
    if frames.ndim != 5 or frames.shape[-1] != 3:
        raise TaskFileError(f"predictions: frames have shape {list(frames.shape)}, expected [N, P, H, W, 3]")
    if tasks is not None:
        want = (tasks.episodes, tasks.frame_height, tasks.frame_width)
        got = (frames.shape[0], frames.shape[2], frames.shape[3])
        if got != want or not 1 <= frames.shape[1] <= tasks.horizon:
            raise TaskFileError(f"predictions: frames {list(frames.shape)} do not answer {tasks.episodes} tasks of "
                                f"{tasks.frame_height}x{tasks.frame_width} frames, 1 to {tasks.horizon} steps")
        if seeds is None:
            seeds = tasks.seeds
    tensors = {"frames": frames}
    if seeds is not None:
        seeds = np.asarray(seeds).astype(np.int64)
        if seeds.shape != (frames.shape[0],):
            raise TaskFileError(f"predictions: seeds have shape {list(seeds.shape)}, expected [{frames.shape[0]}]")
        tensors["seeds"] = seeds
    st.save(path, tensors, {"format": "somnium-benchmark-predictions"})


def read_predictions(path: str, tasks: Optional[Tasks] = None) -> dict:
    """Read ``predictions.safetensors`` -> {"frames": U8 [N,P,H,Wd,3], "seeds": I64 [N] or None},
    checked against ``tasks`` when given (count, frame size, horizon, seeds)."""
    path = os.fspath(path)
    tensors, _ = st.load(path)
    if "frames" not in tensors:
        raise TaskFileError(f"{path}: no tensor 'frames' (it holds {sorted(tensors)})")
    frames = tensors["frames"]
    _check_shape(path, "frames", frames, "U8", (None, None, None, None, 3))
    seeds = tensors.get("seeds")
    if seeds is not None:
        _check_shape(path, "seeds", seeds, "I64", (frames.shape[0],))
    if tasks is not None:
        if frames.shape[0] != tasks.episodes or frames.shape[2:4] != (tasks.frame_height, tasks.frame_width):
            raise TaskFileError(f"{path}: 'frames' {list(frames.shape)} do not answer {tasks.episodes} tasks "
                                f"of {tasks.frame_height}x{tasks.frame_width} frames")
        if not 1 <= frames.shape[1] <= tasks.horizon:
            raise TaskFileError(f"{path}: 'frames' hold {frames.shape[1]} steps, expected 1 to {tasks.horizon}")
        if seeds is not None and not np.array_equal(seeds, tasks.seeds):
            raise TaskFileError(f"{path}: 'seeds' differ from the tasks' seeds")
    return {"frames": frames, "seeds": seeds}
