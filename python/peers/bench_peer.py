"""The PyTorch peer of `somnium bench`: times somnium's DiT architecture
(`somnium_dit.py`) on the config somnium wrote, the same figures the same way,
and prints them as one JSON line with somnium's keys.

Figures (milliseconds unless named otherwise; medians of --repeats runs after
one warm-up run; forward and dream under torch.inference_mode):
    matmul_gflops       torch f32 1024 x 1024 x 1024 matmul
    forward_b1_ms, forward_b32_ms
                        the whole W + 1 window through the model at batch 1 / 32
    dream_step_b1_ms, dream_step_b32_ms
                        one dream step: context pass + K cached Euler passes
    train_step_ms       batch, noise, loss, backward, clip, AdamW, EMA at --train-batch
GFLOP/s use the FLOP count of `src/cli/bench/flops.rs` (matmuls only,
2 M N K each, attention over the pairs the block-causal mask lets through).

With --compile every figure runs the model through torch.compile (inductor,
default mode); the warm-up run of each shape pays the compilation, the timed
runs do not. `compiled` in the output says which.

Run (somnium does this with `somnium bench --peer PYTHON [--peer-compile]`):
    OMP_WAIT_POLICY=PASSIVE python bench_peer.py --config cfg.json --repeats 5 --threads 2 [--compile]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from somnium_dit import DiT, Config, Trainer, dream_step  # noqa: E402


def median_ms(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def forward_flops(cfg, frames, t0):
    """flops::forward_flops, term by term."""
    d, n, f = cfg.width, cfg.tokens_per_frame(), frames
    l, r, q = f * n, cfg.mlp_ratio, cfg.patch_dim()
    visible = sum(n * n * (fr + 1) for fr in range(t0, t0 + frames))
    per_block = 2 * l * d * 3 * d + 2 * l * d * d + 4 * l * d * r * d + 2 * f * d * 6 * d + 4 * visible * d
    action = 2 * f * (cfg.action["dim"] * d + d * d) if cfg.action["kind"] == "continuous" else 0
    once = 4 * l * q * d + 2 * f * d * 2 * d + 4 * f * d + 2 * f * (cfg.noise_features * d + d * d) + action
    return cfg.depth * per_block + once


def gflops(flops, ms):
    return flops / (ms * 1e-3) / 1e9


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def random_actions(cfg, batch, frames):
    if cfg.action["kind"] == "continuous":
        return torch.rand(batch, frames, cfg.action["dim"]) * 2 - 1
    return torch.randint(0, cfg.action["n"], (batch, frames, 1)).float()


def synthetic_windows(cfg, count=64):
    """Windows of a square moving on a flat background (latents in [-1, 1]), like
    somnium's moving-square episodes: latents, actions, rewards, terminations, background."""
    c, h, w = cfg.latent_shape()
    wn = cfg.window()
    background = torch.tensor([30, 30, 40][:c] + [0] * max(0, c - 3)).float() / 127.5 - 1
    background = background[:, None, None].expand(c, h, w).contiguous()
    side = max(1, h // 8)
    lat = background.expand(count, wn, c, h, w).clone()
    pos = torch.randint(0, max(1, h - side - 2 * wn), (count, 2))
    for i in range(count):
        for t in range(wn):
            y, x = (pos[i] + t).tolist()
            lat[i, t, :, y:y + side, x:x + side] = 0.8
    return (lat, random_actions(cfg, count, wn), torch.rand(count), torch.zeros(count), background)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="ModelConfig JSON written by somnium")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--train-batch", type=int, default=32)
    ap.add_argument("--compile", action="store_true", help="run the model through torch.compile")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.config) as f:
        raw = json.load(f)
    cfg = Config(raw)
    model = DiT(cfg)
    params = sum(p.numel() for p in model.parameters())
    if params != cfg.param_count():
        raise SystemExit(f"peer has {params} parameters, somnium's formula says {cfg.param_count()}")
    c, h, w = cfg.latent_shape()
    wn, steps, reps = cfg.context_frames, int(raw.get("sampling_steps", 4)), args.repeats
    out = {"torch_version": torch.__version__, "threads": torch.get_num_threads(),
           "cpu": cpu_name(), "params": params, "train_batch": args.train_batch,
           "compiled": bool(args.compile)}
    # the compiled module shares the eager one's parameters; each new input
    # shape compiles once, in its warm-up run
    run = torch.compile(model) if args.compile else model
    if args.compile:
        torch._dynamo.config.cache_size_limit = 64

    a, b = torch.rand(1024, 1024) * 2 - 1, torch.rand(1024, 1024) * 2 - 1
    out["matmul_gflops"] = gflops(2 * 1024 ** 3, median_ms(lambda: a @ b, 3, max(reps, 5)))

    model.eval()
    for batch in (1, 32):
        x = torch.rand(batch, wn + 1, c, h, w) * 2 - 1
        s = torch.rand(batch, wn + 1)
        act = random_actions(cfg, batch, wn + 1)
        with torch.inference_mode():
            out[f"forward_b{batch}_ms"] = median_ms(lambda: run(x, s, act), 1, reps)
        ctx = torch.rand(batch, wn, c, h, w) * 2 - 1
        out[f"dream_step_b{batch}_ms"] = median_ms(lambda: dream_step(run, ctx, act, steps), 1, reps)
        out[f"gflops_forward_b{batch}"] = gflops(batch * forward_flops(cfg, wn + 1, 0), out[f"forward_b{batch}_ms"])
        dream = batch * (forward_flops(cfg, wn, 0) + steps * forward_flops(cfg, 1, wn))
        out[f"gflops_dream_b{batch}"] = gflops(dream, out[f"dream_step_b{batch}_ms"])

    model.train()
    trainer = Trainer(run, synthetic_windows(cfg), args.train_batch)
    out["train_step_ms"] = median_ms(trainer.train_step, 1, reps)
    out["train_windows_per_s"] = args.train_batch / (out["train_step_ms"] * 1e-3)
    out["gflops_train"] = gflops(3 * args.train_batch * forward_flops(cfg, wn + 1, 0), out["train_step_ms"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
