"""Checks that the twin (`predict_tasks.py`) dreams what somnium dreams, from a
`somnium dream` rollout: the same true context frames and actions, the twin's samples
against somnium's dreamed frames.

Sampling noise comes from different generators (ChaCha8 in somnium, torch here), so
frames cannot match bit for bit. The check is statistical: somnium's dreamed frame
must look like one more sample of the twin. For every dreamed step k, the mean
squared difference (in u8 units squared) between the twin's samples and somnium's
frame must be within ``--tol`` times the spread between two twin samples (plus 1,
for rounding), and both must be far closer to each other than to physics.

    somnium dream --env dream:bounce-v0@models/bounce --seed 3 --steps 12 --out /tmp/d3
    python check_twin_dream.py --model models/bounce /tmp/d3 [/tmp/d4 ...]
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import predict_tasks as pt  # noqa: E402
from somnium_bench import safetensors as st  # noqa: E402


def twin_rollout(model, mc, frames, actions, samples, seed):
    """`samples` twin rollouts from frames[:W] with the rollout's actions -> u8 [S, T-W, H, W, 3]."""
    cfg = model.cfg
    wn = cfg.context_frames
    window = pt.encode(frames[None, :wn], cfg.model_size).repeat(samples, 1, 1, 1, 1)
    acts = torch.from_numpy(actions.astype(np.float32))[None].repeat(samples, 1, 1)
    gen = torch.Generator().manual_seed(seed)
    steps = max(1, cfg.sampling_steps)
    cs = mc.get("sampling_context_noise", 0.0)
    out = []
    for j in range(len(frames) - wn):
        a = torch.cat([torch.zeros_like(acts[:, :1]), acts[:, j : j + wn]], 1)
        noise = torch.randn(samples, wn + 1, *cfg.latent_shape(), generator=gen)
        nxt = pt.dream_step(model, window, a, noise, steps, cs)
        window = torch.cat([window[:, 1:], nxt[:, None]], 1)
        out.append(pt.decode(nxt, cfg.frame_size))
    return np.stack(out, 1)


def main():
    """Compare the twin with each rollout directory given; exit 1 on a mismatch."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--tol", type=float, default=1.5)
    ap.add_argument("rollouts", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, mc = pt.load_model(args.model)
    wn = model.cfg.context_frames
    bad = 0
    for i, d in enumerate(args.rollouts):
        t, _ = st.load(os.path.join(d, "rollout.safetensors"))
        phys, dream, acts = t["physics_frames"], t["dream_frames"], t["actions"]
        if not np.array_equal(phys[:wn], dream[:wn]):
            raise SystemExit(f"{d}: the dream's context differs from physics'")
        tw = twin_rollout(model, mc, phys, acts, args.samples, seed=i).astype(np.float32)
        half = args.samples // 2
        for k in range(tw.shape[1]):
            so = dream[wn + k].astype(np.float32)
            ph = phys[wn + k].astype(np.float32)
            to_so = ((tw[:, k] - so) ** 2).mean()
            spread = ((tw[:half, k] - tw[half : 2 * half, k]) ** 2).mean()
            to_ph = ((tw[:, k] - ph) ** 2).mean()
            ok = to_so <= args.tol * spread + 1.0
            bad += not ok
            so_ph = ((so - ph) ** 2).mean()
            print(f"{d} step {k + 1}: MSE twin-somnium {to_so:7.2f}  twin-twin {spread:7.2f}  "
                  f"twin-physics {to_ph:7.2f}  somnium-physics {so_ph:7.2f}  {'ok' if ok else 'MISMATCH'}")
    if bad:
        raise SystemExit(f"{bad} steps where somnium's dream is not a twin-like sample")
    print("twin dreams like somnium: ok")


if __name__ == "__main__":
    main()
