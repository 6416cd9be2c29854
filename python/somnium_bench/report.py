"""Headline numbers from a somnium benchmark ``report.json`` (``somnium eval`` or
``somnium benchmark score``).

The report (``env::consistency``) holds, among others, ``predictor`` (the scored
source's name: ``model`` for somnium eval, ``--name`` for benchmark score),
``episodes``, ``max_horizon``, ``seed``; ``summary``: one entry per method (the scored
source first, then physics, the ceiling and the baselines), means over every step
1..=``steps`` (steps = min(32, longest horizon)) per episode then over episodes, as
``Stat`` objects ``{"mean", "ci95", "n"}`` (ci95: the 95% half-width); ``verdicts``:
the first source against every other method, with the paired bootstrap 95% interval of
the h1-32 error difference and ``beats``; ``episode_scores``: per seed, the mean error
over h1-32; and ``horizons``: the evaluator's full report (``methods`` with per-horizon
statistics, ``comparisons``). A bare evaluator report (``methods`` at the top) is
accepted too.
"""

from __future__ import annotations

import json
import os
from typing import Dict, Optional


class ReportError(ValueError):
    """A report.json is missing or lacks a field this reader needs."""


def load_report(path: str) -> dict:
    """Load a report.json (or the report.json inside a directory) -> dict."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "report.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no report.json")
    with open(path) as f:
        report = json.load(f)
    if not isinstance(report, dict):
        raise ReportError(f"{path}: not a JSON object")
    if not isinstance(evaluation(report, path).get("methods"), list):
        raise ReportError(f"{path}: no 'methods' list; is this a somnium benchmark report?")
    return report


def evaluation(report: dict, where: str = "the report") -> dict:
    """The evaluator's report: ``report["horizons"]`` when it is an object, else the report itself."""
    inner = report.get("horizons")
    if isinstance(inner, dict):
        return inner
    if isinstance(report.get("methods"), list):
        return report
    raise ReportError(f"{where}: neither 'horizons' (an object) nor 'methods'")


def method_summary(report: dict, name: Optional[str] = None) -> dict:
    """The h1-32 ``summary`` of method ``name`` (default: the first, the scored source)."""
    methods = evaluation(report)["methods"]
    if not methods:
        raise ReportError("the report has no methods")
    if name is None:
        return methods[0]["summary"]
    for m in methods:
        if m.get("name") == name:
            return m["summary"]
    raise ReportError(f"no method {name!r} in the report (it has {[m.get('name') for m in methods]})")


def episode_scores(report: dict) -> Dict[int, float]:
    """Per episode seed, the scored source's mean centroid error over h1-32 (px)."""
    return {int(e["seed"]): e["mean_error_px_h1_32"] for e in report.get("episode_scores", [])
            if e.get("mean_error_px_h1_32") is not None}


def _mean_ci(stat) -> Optional[tuple]:
    return None if stat is None else (stat["mean"], stat["ci95"])


def headline(path_or_report, name: Optional[str] = None) -> dict:
    """Headline numbers of one method: ``{"method", "steps", "episodes", "centroid_error_px":
    (mean, ci95), "kept_share", "miss_rate", "psnr_db": (mean, ci95), "verdicts": {other:
    (beats, why)}}``; verdicts only for the first method, the one the report compares."""
    report = path_or_report if isinstance(path_or_report, dict) else load_report(path_or_report)
    methods = evaluation(report)["methods"]
    first = methods[0]["name"] if methods else None
    name = name or first
    s = method_summary(report, name)
    out = {
        "method": name,
        "steps": s.get("steps"),
        "episodes": s.get("episodes"),
        "centroid_error_px": _mean_ci(s.get("centroid_error_px")),
        "kept_share": s.get("kept_share"),
        "miss_rate": s.get("miss_rate"),
        "psnr_db": _mean_ci(s.get("psnr_db")),
        "verdicts": {},
    }
    if name == first:
        if isinstance(report.get("verdicts"), list):
            for v in report["verdicts"]:
                out["verdicts"][v.get("baseline")] = (v.get("beats"), v.get("why"))
        else:
            for c in evaluation(report).get("comparisons", []):
                v = c.get("verdict") or {}
                out["verdicts"][c.get("baseline")] = (v.get("beats"), v.get("why"))
    return out
