"""Python helpers for somnium's benchmark (numpy only: no torch, no gRPC).

Score your own world model on somnium's physics-consistency benchmark::

    import somnium_bench as sb
    tasks = sb.read_tasks("tasks/")                 # from `somnium benchmark export`
    frames = my_model.predict(tasks.context, tasks.encoded_actions(), tasks.horizon)
    sb.write_predictions("preds.safetensors", frames, tasks=tasks)   # U8 [N, P, H, W, 3]
    # then: somnium benchmark score --tasks tasks/ --predictions preds.safetensors --out report/
    print(sb.headline("report/report.json"))

Modules: :mod:`.tasks` (task and prediction files), :mod:`.safetensors` (a minimal
reader/writer), :mod:`.dataset` (somnium dataset shards, for training outside
somnium), :mod:`.report` (headline numbers of a report.json).
"""

from .safetensors import SafetensorsError
from .tasks import Tasks, TaskFileError, read_predictions, read_tasks, read_tasks_meta, write_predictions
from .report import ReportError, episode_scores, evaluation, headline, load_report, method_summary

__all__ = [
    "SafetensorsError", "Tasks", "TaskFileError", "read_predictions", "read_tasks", "read_tasks_meta",
    "write_predictions", "ReportError", "episode_scores", "evaluation", "headline", "load_report",
    "method_summary",
]
