"""Answer somnium benchmark tasks with the PyTorch twin of somnium's DiT (`somnium_dit.py`)
loading a somnium model directory: a predictor somnium did not run, whose score must
equal `somnium eval`'s within the intervals (issue 22).

What it mirrors, so that the twin dreams what `somnium eval` dreams:

* **Checkpoint** (``world_model/src/checkpoint``): ``DIR/config.json`` (``model_config``)
  and ``DIR/model.safetensors``; EMA weights under the ``ema.`` prefix are used when
  present (``load_model_and_meta(dir, use_ema = true)``), else the raw weights. ``DIR``
  or ``DIR/ckpt`` (``env::dream::checkpoint_dir``). Only the pixel codec is supported.
* **Pixel codec** (``world_model/src/codec``): u8 frames -> x / 127.5 - 1, average
  pooling from the frame size to ``model_size``; back: clamp to [-1, 1], nearest
  upsampling, x * 127.5 + 127.5 rounded half away from zero, u8.
* **Dream** (``env/src/dream/model.rs``, ``world_model/src/sampler.rs``): the context is
  the task's W context frames encoded; each step's window actions are zeros at window
  position 0, then the W actions before the window's later frames and the new one
  (``actions[:, j : j + W]`` for predicted frame j; a box action as is, a discrete one
  as its index, one float); ``sampling_steps`` Euler steps (at least 1) with the x0
  prediction and the KV cache of the context, context noise ``sampling_context_noise``;
  the dreamed latent (not its u8 rendering) joins the context.
* **Noise.** somnium draws each episode's step-k noise from ChaCha8 (seed ^ salt, stream
  k); this draws it from ``torch.Generator`` seeded with (``--seed``, task seed), in step
  order, shape [W+1, C, h, w] per step. Batch-invariant like somnium's, seeded and
  reproducible, but not the same numbers: the twin and somnium give different
  samples of the same model, so their scores agree statistically, not bit for bit.

    python predict_tasks.py --model models/bounce --tasks TASKS --out preds.safetensors
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # python/, for somnium_bench
from somnium_bench import read_tasks, write_predictions  # noqa: E402
from somnium_bench import safetensors as st  # noqa: E402
from somnium_dit import DiT, Config, clean_estimate  # noqa: E402


def torch_name(name):
    """somnium parameter name -> somnium_dit attribute path (as check_parity.py maps them)."""
    for a, b in (("noise.", "noise_"), ("action.", "action_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


def checkpoint_dir(path):
    """The directory holding config.json: ``path`` or ``path/ckpt``."""
    for d in (path, os.path.join(path, "ckpt")):
        if os.path.isfile(os.path.join(d, "config.json")):
            return d
    raise SystemExit(f"no model checkpoint at {path} (expected config.json there or in its ckpt/ folder)")


def load_model(path, use_ema=True):
    """A somnium model directory -> (somnium_dit.DiT in eval mode, model_config dict; the
    checkpoint's ``meta`` is under the key ``"_meta"``, for :func:`check_provenance`)."""
    d = checkpoint_dir(path)
    with open(os.path.join(d, "config.json")) as f:
        index = json.load(f)
    mc = index["model_config"]
    if mc["codec"]["kind"] != "pixel":
        raise SystemExit(f"{d}: codec {mc['codec']['kind']!r}; the twin supports the pixel codec only")
    tensors, _ = st.load(os.path.join(d, "model.safetensors"))
    ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
    raw = {k: v for k, v in tensors.items() if not k.startswith("ema.")}
    weights = ema if use_ema and ema else raw
    model = DiT(Config(mc)).eval()
    ours = dict(model.named_parameters())
    state = {torch_name(k): torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in weights.items()}
    if set(state) != set(ours):
        raise SystemExit(f"{d}: weight names differ from the twin's: {sorted(set(state) ^ set(ours))[:6]}")
    with torch.no_grad():
        for k, v in state.items():
            if ours[k].shape != v.shape:
                raise SystemExit(f"{d}: weight {k} is {list(v.shape)}, the twin's is {list(ours[k].shape)}")
            ours[k].copy_(v)
    return model, dict(mc, _meta=index.get("meta", {}))


def check_provenance(mc, tasks, allow=False):
    """Refuse tasks of another scenario, variant or control rate than the model was trained
    on (as somnium does without --allow-model-mismatch); models that record none pass."""
    prov = mc.get("_meta", {}).get("provenance") or {}
    wrong = [f"{k} {tasks.meta.get(k)!r} is not {prov[k]!r}" for k in ("scenario", "variant", "control_hz")
             if k in prov and k in tasks.meta and tasks.meta[k] != prov[k]]
    if wrong and not allow:
        raise SystemExit(f"the model was trained on {prov.get('scenario')}@{prov.get('variant')}: "
                         + "; ".join(wrong) + " (--allow-model-mismatch to use it anyway)")


def encode(frames, model_size):
    """u8 [B, T, H, W, 3] (numpy) -> float [B, T, 3, h, w] in [-1, 1] (the pixel codec)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().permute(0, 1, 4, 2, 3) / 127.5 - 1.0
    b, t, c, hh, ww = x.shape
    kh, kw = hh // model_size[0], ww // model_size[1]
    x = x.reshape(b * t, c, hh, ww)
    if (kh, kw) != (1, 1):
        x = F.avg_pool2d(x, (kh, kw))
    return x.reshape(b, t, c, model_size[0], model_size[1])


def decode(latents, frame_size):
    """float [B, C, h, w] -> u8 [B, H, W, 3] numpy (nearest upsampling, round half away from zero)."""
    x = latents.clamp(-1, 1)
    if tuple(x.shape[-2:]) != tuple(frame_size):
        x = F.interpolate(x, size=tuple(frame_size), mode="nearest")
    x = torch.floor(x * 127.5 + 127.5 + 0.5)
    return x.permute(0, 2, 3, 1).to(torch.uint8).numpy()


@torch.inference_mode()
def dream_step(model, context, actions, noise, steps, context_noise):
    """sampler::dream_step_with_noise: context [B, W, C, h, w], actions [B, W+1, A],
    noise [B, W+1, C, h, w] -> the next latent [B, C, h, w]."""
    cfg = model.cfg
    wn, b = cfg.context_frames, context.shape[0]
    cs = context_noise
    ctx = context * (1 - cs) + noise[:, :wn] * cs if cs > 0 else context
    s_ctx = torch.full((b, wn), float(cs))
    last_ctx = ctx[:, wn - 1]
    _, _, _, cache = model(ctx, s_ctx, actions[:, :wn], None, True)
    x = noise[:, wn]
    for i in range(steps):
        s, s_next = 1 - i / steps, 1 - (i + 1) / steps
        sv = torch.full((b, 1), float(s))
        pred, _, _, _ = model(x[:, None], sv, actions[:, wn:], cache, False)
        x0 = clean_estimate(cfg, pred[:, -1], x, sv[:, 0], last_ctx)
        x = x0 + (x - x0) * (s_next / s)
    return x


def model_actions(tasks, mc):
    """The tasks' actions as the model takes them: float [N, W-1+H, A] (discrete: the index)."""
    if tasks.action_space["kind"] == "discrete":
        if mc["action"]["kind"] != "discrete" or mc["action"]["n"] != tasks.action_space["n"]:
            raise SystemExit(f"tasks have {tasks.action_space}, the model takes {mc['action']}")
        return tasks.actions.astype(np.float32)[..., None]
    if mc["action"]["kind"] != "continuous" or mc["action"]["dim"] != tasks.actions.shape[-1]:
        raise SystemExit(f"tasks have {tasks.actions.shape[-1]}-value box actions, the model takes {mc['action']}")
    return tasks.actions.astype(np.float32)


def task_generator(seed, task_seed):
    """The noise stream of one task: torch.Generator seeded from (--seed, the task's seed)."""
    return torch.Generator().manual_seed((int(seed) * 0x9E3779B1 + int(task_seed) * 1000003) % (2**63))


def predict(model, mc, tasks, horizon=None, seed=0, batch=16, steps=None, context_noise=None, log=True):
    """Roll the twin out on every task -> u8 frames [N, P, H, W, 3] (P = horizon or the tasks')."""
    cfg = model.cfg
    wn = cfg.context_frames
    if tasks.context_frames < wn:
        raise SystemExit(f"tasks have {tasks.context_frames} context frames, the model takes {wn}")
    if (tasks.frame_height, tasks.frame_width) != tuple(cfg.frame_size):
        raise SystemExit(f"tasks have {tasks.frame_height}x{tasks.frame_width} frames, the model {cfg.frame_size}")
    steps = max(1, cfg.sampling_steps if steps is None else steps)
    cs = mc.get("sampling_context_noise", 0.0) if context_noise is None else context_noise
    horizon = tasks.horizon if horizon is None else min(horizon, tasks.horizon)
    skip = tasks.context_frames - wn  # a longer task context: the model sees its last W frames
    acts = torch.from_numpy(model_actions(tasks, mc)[:, skip:])
    lat = cfg.latent_shape()
    out = np.empty((tasks.episodes, horizon, tasks.frame_height, tasks.frame_width, 3), np.uint8)
    t0 = time.time()
    for b0 in range(0, tasks.episodes, batch):
        idx = range(b0, min(b0 + batch, tasks.episodes))
        gens = [task_generator(seed, tasks.seeds[i]) for i in idx]
        window = encode(tasks.context[b0 : idx.stop, skip:], cfg.model_size)
        for j in range(horizon):
            a = acts[b0 : idx.stop, j : j + wn]
            a = torch.cat([torch.zeros_like(a[:, :1]), a], 1)
            noise = torch.stack([torch.randn(wn + 1, *lat, generator=g) for g in gens])
            nxt = dream_step(model, window, a, noise, steps, cs)
            window = torch.cat([window[:, 1:], nxt[:, None]], 1)
            out[b0 : idx.stop, j] = decode(nxt, cfg.frame_size)
        if log:
            print(f"  tasks {idx.stop}/{tasks.episodes}: {time.time() - t0:.0f}s", flush=True)
    return out


def main():
    """Command line: --model DIR --tasks DIR --out predictions.safetensors."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="somnium model directory (config.json + model.safetensors)")
    ap.add_argument("--tasks", required=True, help="directory written by `somnium benchmark export`")
    ap.add_argument("--out", required=True, help="predictions.safetensors to write")
    ap.add_argument("--seed", type=int, default=0, help="noise seed (with each task's seed)")
    ap.add_argument("--horizon", type=int, default=None, help="predict fewer steps than the tasks' horizon")
    ap.add_argument("--batch", type=int, default=16, help="tasks dreamed together")
    ap.add_argument("--steps", type=int, default=None, help="Euler steps (default: the model's sampling_steps)")
    ap.add_argument("--raw", action="store_true", help="the raw weights instead of the EMA")
    ap.add_argument("--allow-model-mismatch", action="store_true",
                    help="predict tasks of another scenario, variant or control rate than the model's")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, mc = load_model(args.model, use_ema=not args.raw)
    tasks = read_tasks(args.tasks)
    check_provenance(mc, tasks, args.allow_model_mismatch)
    frames = predict(model, mc, tasks, args.horizon, args.seed, args.batch, args.steps)
    write_predictions(args.out, frames, tasks=tasks)
    print(f"predictions {list(frames.shape)} -> {args.out}")


if __name__ == "__main__":
    main()
