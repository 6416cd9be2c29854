"""Read a somnium dataset directory (`somnium record --out DIR`) into numpy, for
training a model outside somnium.

A dataset is ``manifest.json`` (the recording spec and the shard list) plus
safetensors shards. Shard tensors (see ``world_model/src/data/shard.rs``):
``seeds`` U64 [E]; per episode i of the shard ``ep{i}.frames`` U8 [n+1, H, W, 3],
``ep{i}.actions`` F32 [n, A] (``actions[t]`` acts between frame t and t+1; a
discrete action is stored as its index), ``ep{i}.rewards`` F32 [n],
``ep{i}.terminated`` / ``ep{i}.truncated`` U8 [n], ``ep{i}.states`` F32 [n+1, S].
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Iterator, List, Optional

import numpy as np

from . import safetensors as st

MANIFEST = "manifest.json"


class DatasetError(ValueError):
    """A dataset directory is missing, or its manifest or shards are not what somnium writes."""


@dataclass
class Episode:
    """One recorded episode: frames [n+1, H, W, 3] u8, actions [n, A] f32, rewards [n] f32, seed."""

    seed: int
    frames: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)


def read_manifest(root: str) -> dict:
    """Load and check ``root/manifest.json`` -> the manifest dict."""
    path = os.path.join(root, MANIFEST)
    if not os.path.isfile(path):
        raise DatasetError(f"{root}: no {MANIFEST}; is this a directory written by `somnium record`?")
    with open(path) as f:
        try:
            manifest = json.load(f)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{path}: not JSON ({e})") from None
    for key in ("spec", "shards"):
        if key not in manifest:
            raise DatasetError(f"{path}: missing field {key!r}")
    if manifest.get("format_version") != 1:
        raise DatasetError(f"{path}: format_version {manifest.get('format_version')!r}, this reader knows 1")
    return manifest


def iter_episodes(root: str, limit: Optional[int] = None) -> Iterator[Episode]:
    """Yield the dataset's episodes in order (at most ``limit``), one shard in memory at a time."""
    manifest = read_manifest(root)
    spec = manifest["spec"]
    h, w, a = spec["height"], spec["width"], spec["action_dim"]
    count = 0
    for entry in manifest["shards"]:
        path = os.path.join(root, entry["file"])
        tensors, meta = st.load(path)
        if meta.get("format") != "somnium-episodes-v1":
            raise DatasetError(f"{path}: metadata format {meta.get('format')!r}, expected 'somnium-episodes-v1'")
        seeds = tensors["seeds"]
        for i in range(entry["episodes"]):
            if limit is not None and count >= limit:
                return
            try:
                frames, actions = tensors[f"ep{i}.frames"], tensors[f"ep{i}.actions"]
                rewards = tensors[f"ep{i}.rewards"]
            except KeyError as e:
                raise DatasetError(f"{path}: episode {i} lacks tensor {e}") from None
            n = len(actions)
            if frames.shape != (n + 1, h, w, 3) or actions.shape != (n, a):
                raise DatasetError(f"{path}: episode {i} frames {frames.shape} / actions {actions.shape} "
                                   f"do not fit {n} steps of {h}x{w} frames and {a}-value actions")
            yield Episode(int(seeds[i]), frames, actions, rewards)
            count += 1


def read_episodes(root: str, limit: Optional[int] = None) -> List[Episode]:
    """All episodes (or the first ``limit``) as a list."""
    return list(iter_episodes(root, limit))
