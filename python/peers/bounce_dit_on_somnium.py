"""Train the outside reference recipe `bounce_dit` on a somnium dataset, and answer
somnium benchmark tasks with it: a model somnium did not build, scored by
`somnium benchmark score` as an outside entry.

The recipe (``../shared/peers/bounce_dit``: ``data.py``, ``model.py``, ``train.py``) is
imported from its own directory (``--recipe PATH``); none of its code is copied here.
What this script adds is only the adaptation between the two worlds:

* **Frames, 64 -> 32.** The recipe's model sees 32x32 frames. Somnium's 64x64 frames
  are reduced by 2x2 mean pooling (the recipe's own ``data.to_model``), scaled to
  [-1, 1]. Predictions go back 32 -> 64 by nearest-neighbour upsampling (each
  predicted pixel becomes a 2x2 block), so a scorer at 64x64 sees the model's
  32x32 output as it is, with no smoothing added.
* **Actions.** bounce-v0's action is a 2-vector in [-1, 1]^2, which is what the recipe's
  action MLP takes; somnium's ``actions[t]`` acts between frame t and t+1, the recipe's
  convention too. A zero row is appended so frames and actions have equal length
  (the recipe never reads the last action of an episode).
* **Background for the foreground weight.** The recipe weights pixels that differ from
  its flat background colour (30, 30, 30) by more than 0.1. Somnium's arena has a floor
  and walls, so the recipe's ``train.BG`` is replaced by the per-pixel median of the
  training frames at 32x32 (the static scene without balls); the threshold, weight
  and everything else are the recipe's.
* **Training** is the recipe's ``train.main`` (rectified flow, x0 prediction, AdamW,
  cosine schedule over the wall-clock budget, EMA), with its data source replaced by
  the somnium dataset. Checkpoints are the recipe's ``.pt`` files.
* **Prediction** is the recipe's ``model.rollout`` with the EMA weights: the last 4
  context frames, K Euler steps per frame, context noise 0, seeded.

    python bounce_dit_on_somnium.py train --recipe ../shared/peers/bounce_dit \\
        --data DIR --minutes 40 --out /work/outside_model/ckpt.pt
    python bounce_dit_on_somnium.py predict --recipe ../shared/peers/bounce_dit \\
        --ckpt /work/outside_model/ckpt.pt --tasks TASKS --out preds.safetensors
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # python/
from somnium_bench import dataset as sds  # noqa: E402
from somnium_bench import read_tasks, write_predictions  # noqa: E402


def import_recipe(path):
    """Import the recipe's ``data``, ``model`` and ``train`` modules from ``path``."""
    path = os.path.abspath(path)
    for f in ("data.py", "model.py", "train.py"):
        if not os.path.isfile(os.path.join(path, f)):
            raise SystemExit(f"--recipe {path}: no {f}; point it at the bounce_dit directory")
    sys.path.insert(0, path)
    return tuple(importlib.import_module(m) for m in ("data", "model", "train"))


def load_somnium(root, data, limit=None):
    """A somnium dataset -> frames [N,T,3,32,32] in [-1,1] (torch), actions [N,T,2] (torch).

    Episodes are cut to the shortest episode's length T frames."""
    import torch
    eps = sds.read_episodes(root, limit)
    if not eps:
        raise SystemExit(f"{root}: no episodes")
    if eps[0].frames.shape[1:] != (64, 64, 3) or eps[0].actions.shape[1] != 2:
        raise SystemExit(f"{root}: frames {eps[0].frames.shape[1:]} / actions {eps[0].actions.shape[1:]}; "
                         "the recipe needs 64x64 frames and 2-value actions (bounce-v0)")
    t = min(len(e.frames) for e in eps)
    frames = np.stack([e.frames[:t] for e in eps])
    actions = np.zeros((len(eps), t, 2), np.float32)
    for i, e in enumerate(eps):
        actions[i, : t - 1] = e.actions[: t - 1]
    x = torch.cat([data.to_model(frames[i : i + 100]) for i in range(0, len(frames), 100)])
    return x, torch.from_numpy(actions)


def median_background(x, episodes=400, stride=4):
    """Per-pixel median over a sample of frames [N,T,3,32,32] -> [1,3,32,32]: the static scene."""
    sample = x[:episodes, ::stride].reshape(-1, *x.shape[2:])
    return sample.median(0).values[None]


def cmd_train(args):
    """Train the recipe on the somnium dataset with the recipe's own loop (``train.main``)."""
    import torch
    data, _, train = import_recipe(args.recipe)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    x, a = load_somnium(args.data, data, args.episodes)
    bg = median_background(x)
    print(f"somnium data {args.data}: frames {tuple(x.shape)} actions {tuple(a.shape)} "
          f"in {time.time() - t0:.0f}s; background median range [{bg.min():.3f}, {bg.max():.3f}]", flush=True)
    train.BG = bg  # fg_mask reads this module global
    train.load_windows_source = lambda cfg: (x, a)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    sys.argv = ["train.py", "--minutes", str(args.minutes), "--seed", str(args.seed), "--out", args.out,
                "--batch", str(args.batch)]
    train.main()
    ck = torch.load(args.out, map_location="cpu")
    ck["somnium"] = dict(data=os.path.abspath(args.data), episodes=int(x.shape[0]), frames=int(x.shape[1]),
                         background=bg, threads=args.threads)
    torch.save(ck, args.out)


def cmd_predict(args):
    """Roll the recipe's model out on every task and write predictions.safetensors."""
    import torch
    data, model_mod, _ = import_recipe(args.recipe)
    torch.set_num_threads(args.threads)
    tasks = read_tasks(args.tasks)
    ctx_n = 4
    if tasks.context_frames < ctx_n:
        raise SystemExit(f"{args.tasks}: {tasks.context_frames} context frames; the recipe needs {ctx_n}")
    if tasks.action_space.get("kind") != "box" or tasks.actions.shape[-1] != 2:
        raise SystemExit(f"{args.tasks}: action space {tasks.action_space}; the recipe takes 2-value box actions")
    if (tasks.frame_height, tasks.frame_width) != (64, 64):
        raise SystemExit(f"{args.tasks}: frames {tasks.frame_height}x{tasks.frame_width}; the recipe needs 64x64")
    ck = torch.load(args.ckpt, map_location="cpu")
    model = model_mod.DiT().eval()
    model.load_state_dict(ck["ema"])
    horizon = min(tasks.horizon, args.horizon or tasks.horizon)
    skip = tasks.context_frames - ctx_n  # use the last 4 context frames
    gen = torch.Generator().manual_seed(args.seed)
    out = np.empty((tasks.episodes, horizon, 64, 64, 3), np.uint8)
    t0 = time.time()
    for b in range(0, tasks.episodes, args.batch):
        ctx = data.to_model(tasks.context[b : b + args.batch, skip:])
        acts = torch.from_numpy(tasks.actions[b : b + args.batch, skip : skip + ctx_n - 1 + horizon].astype(np.float32))
        dream = model_mod.rollout(model, ctx, acts, K=args.K, gen=gen)  # [B,H,3,32,32]
        small = data.to_uint8(dream)  # [B,H,32,32,3]
        out[b : b + len(small)] = small.repeat(2, axis=2).repeat(2, axis=3)
        print(f"  tasks {b + len(small)}/{tasks.episodes}, {time.time() - t0:.0f}s", flush=True)
    write_predictions(args.out, out, tasks.seeds)
    print(f"predictions {out.shape} -> {args.out}")


def main():
    """Command line: ``train`` or ``predict``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train the recipe on a somnium dataset")
    tr.add_argument("--data", required=True, help="somnium dataset directory (somnium record --out)")
    tr.add_argument("--episodes", type=int, default=None, help="use only the first N episodes")
    tr.add_argument("--minutes", type=float, default=40)
    tr.add_argument("--batch", type=int, default=32)
    tr.add_argument("--seed", type=int, default=0)
    pr = sub.add_parser("predict", help="answer a tasks directory with a trained checkpoint")
    pr.add_argument("--ckpt", required=True)
    pr.add_argument("--tasks", required=True, help="directory written by `somnium benchmark export`")
    pr.add_argument("--K", type=int, default=4, help="Euler steps per frame (the recipe's default)")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--batch", type=int, default=25)
    pr.add_argument("--horizon", type=int, default=None, help="predict fewer steps than the tasks' horizon")
    for p in (tr, pr):
        p.add_argument("--recipe", required=True, help="the bounce_dit directory (data.py, model.py, train.py)")
        p.add_argument("--out", required=True)
        p.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    (cmd_train if args.cmd == "train" else cmd_predict)(args)


if __name__ == "__main__":
    main()
