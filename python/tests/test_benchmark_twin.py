"""export -> score through the PyTorch twin equals `somnium eval` (issue 22).

On a tiny somnium model trained here (bounce-v0 at 32x32, the `tiny` preset, 1,200
steps: about half a minute on 2 cores), this runs `somnium benchmark export`, the
twin's predictions (`python/peers/predict_tasks.py`, a predictor somnium does not
run), `somnium benchmark score`, and `somnium eval` of the same model on the same
scenario, seeds, episode count and horizon, then compares the two reports.

Tolerance. The twin draws its sampling noise from torch, somnium from ChaCha8, so the
two are different samples of the same model and cannot agree bit for bit. What must
hold: the mean centroid error over h1-32 (the first method's ``summary``) of the twin
and of somnium differ by at most the sum of their two 95% half-widths (``ci95``), the
same bound for the PSNR; and the baselines, which both reports compute from the same
physics truth, agree to 1e-6, since export/score must rebuild exactly the episodes
eval scores.

Skipped, with the reason, where torch does not import (CI has no torch) or
``SOMNIUM_BIN`` is unset (the somnium binary to run).
"""

import os
import pathlib
import subprocess
import sys

import pytest

try:
    import somnium_bench as sb
except ImportError:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    import somnium_bench as sb

torch = pytest.importorskip("torch", reason="the twin needs torch (not installed; CI has none)")
BIN = os.environ.get("SOMNIUM_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="SOMNIUM_BIN is unset: the somnium binary to run")

PEERS = pathlib.Path(__file__).resolve().parents[1] / "peers"
SCENARIO, EPISODES, HORIZON, SEED, SIZE = "bounce-v0", 24, 32, 10000, 32


def somnium(*args, cwd=None):
    """Run the somnium binary; fail the test with its stderr when it fails."""
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    proc = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)
    if proc.returncode != 0:
        pytest.fail(f"somnium {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny bounce-v0 model at 32x32 frames (pixel codec, 16x16 model, W = 2)."""
    root = tmp_path_factory.mktemp("twin")
    somnium("record", "--scenario", SCENARIO, "--episodes", 60, "--max-steps", 40, "--size", SIZE,
            "--seed", 0, "--out", root / "data")
    somnium("train", "--data", root / "data", "--preset", "tiny", "--batch", 16, "--steps", 1200,
            "--val-episodes", 4, "--rollout-episodes", 2, "--val-every", 100000, "--save-every", 100000,
            "--out", root / "run")
    return root


def summary(report):
    """(centroid error mean, ci95, psnr mean, ci95) of the report's scored source (h1-32)."""
    s = sb.method_summary(report)
    return s["centroid_error_px"]["mean"], s["centroid_error_px"]["ci95"], s["psnr_db"]["mean"], s["psnr_db"]["ci95"]


def test_twin_score_equals_somnium_eval(tiny_model):
    root = tiny_model
    model = root / "run"
    somnium("benchmark", "export", "--scenario", SCENARIO, "--variant", "id", "--episodes", EPISODES,
            "--horizon", HORIZON, "--seed", SEED, "--size", SIZE, "--context", 2, "--out", root / "tasks")
    tasks = sb.read_tasks(root / "tasks")
    assert (tasks.episodes, tasks.horizon, tasks.frame_height) == (EPISODES, HORIZON, SIZE)

    sys.path.insert(0, str(PEERS))
    import predict_tasks as pt

    torch.set_num_threads(2)
    net, mc = pt.load_model(str(model))
    frames = pt.predict(net, mc, tasks, seed=0, batch=EPISODES, log=False)
    sb.write_predictions(str(root / "preds.safetensors"), frames, tasks=tasks)

    somnium("benchmark", "score", "--tasks", root / "tasks", "--predictions", root / "preds.safetensors",
            "--name", "twin", "--out", root / "twin-report")
    somnium("eval", "--model", model, "--scenario", SCENARIO, "--variant", "id", "--episodes", EPISODES,
            "--horizon", HORIZON, "--seed", SEED, "--follow-steps", 0, "--out", root / "eval-report")
    twin, ours = sb.load_report(root / "twin-report"), sb.load_report(root / "eval-report")
    assert (twin["predictor"], ours["predictor"]) == ("twin", "model")
    for key in ("episodes", "max_horizon", "seed", "context_frames"):
        assert twin[key] == ours[key], key

    e_t, ci_t, p_t, pci_t = summary(twin)
    e_s, ci_s, p_s, pci_s = summary(ours)
    assert sorted(sb.episode_scores(twin)) == sorted(sb.episode_scores(ours)) == list(range(SEED, SEED + EPISODES))
    print(f"\nh1-32 centroid error: twin {e_t:.3f} ± {ci_t:.3f}, somnium eval {e_s:.3f} ± {ci_s:.3f} px; "
          f"PSNR twin {p_t:.2f} ± {pci_t:.2f}, somnium {p_s:.2f} ± {pci_s:.2f} dB")
    assert abs(e_t - e_s) <= ci_t + ci_s, "the twin's error differs from somnium eval's beyond the intervals"
    assert abs(p_t - p_s) <= pci_t + pci_s, "the twin's PSNR differs from somnium eval's beyond the intervals"

    base_t = {m["name"]: m["summary"] for m in sb.evaluation(twin)["methods"][1:]}
    base_s = {m["name"]: m["summary"] for m in sb.evaluation(ours)["methods"][1:]}
    assert set(base_t) == set(base_s), (sorted(base_t), sorted(base_s))
    for name in base_t:
        a, b = base_t[name]["centroid_error_px"], base_s[name]["centroid_error_px"]
        assert (a is None) == (b is None), name
        if a is not None:
            assert abs(a["mean"] - b["mean"]) <= 1e-6, f"{name}: {a['mean']} vs {b['mean']} (not the same truth)"
