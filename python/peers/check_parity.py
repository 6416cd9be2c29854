"""Checks that somnium_dit.DiT computes what somnium's DiT computes: loads the
weights, inputs and outputs somnium wrote (`src/cli/bench/parity.rs`, an
ignored test) and compares a window forward and a cached one-frame forward.

    SOMNIUM_PARITY_DIR=/tmp/parity cargo test --release -p somnium --bin somnium -- --ignored parity
    /work/venv-torch/bin/python python/peers/check_parity.py /tmp/parity
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from somnium_dit import DiT, Config  # noqa: E402


def torch_name(name):
    """somnium parameter name -> somnium_dit attribute path."""
    for a, b in (("noise.", "noise_"), ("action.", "action_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/somnium-parity"
    with open(os.path.join(d, "config.json")) as f:
        cfg = Config(json.load(f))
    data = np.load(os.path.join(d, "parity.npz"))
    model = DiT(cfg)
    state = {torch_name(k[2:]): torch.from_numpy(data[k]) for k in data.files if k.startswith("w.")}
    ours = dict(model.named_parameters())
    assert set(state) == set(ours), f"names differ: {set(state) ^ set(ours)}"
    with torch.no_grad():
        for k, v in state.items():
            assert ours[k].shape == v.shape, (k, ours[k].shape, v.shape)
            ours[k].copy_(v)
    x, s, a = (torch.from_numpy(data[k]) for k in ("x", "s", "a"))
    wn = cfg.context_frames
    with torch.no_grad():
        pred, reward, term, _ = model(x, s, a)
        _, _, _, cache = model(x[:, :wn], s[:, :wn], a[:, :wn], None, True)
        cached, _, _, _ = model(x[:, wn:], s[:, wn:], a[:, wn:], cache)
    worst = 0.0
    for name, got in (("prediction", pred), ("reward", reward), ("terminated_logit", term),
                      ("cached_prediction", cached)):
        want = torch.from_numpy(data[name])
        err = ((got - want).abs().max() / want.abs().max().clamp_min(1e-6)).item()
        worst = max(worst, err)
        print(f"{name:<18} shape {tuple(got.shape)}  max |diff| / max |value| = {err:.2e}")
    print(f"parameters: {sum(p.numel() for p in model.parameters())} (somnium {cfg.param_count()})")
    if worst > 1e-4:
        raise SystemExit(f"MISMATCH: worst relative difference {worst:.2e}")
    print("parity OK")


if __name__ == "__main__":
    main()
