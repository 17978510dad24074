"""Celery task metrics from Celery's signals: runs by task and outcome, and how long each run took.

Labelled by the task's name only (a fixed set), never its arguments. In the worker's processes the samples go
to PROMETHEUS_MULTIPROC_DIR like the web processes' (docs/operations.md, "Metrics").
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

TASK_RUNS = Counter("luna_celery_task_runs_total", "Celery task runs, by task and outcome "
                    "(success, failure, retry).", ["task", "outcome"])
TASK_SECONDS = Histogram("luna_celery_task_seconds", "How long a Celery task run took, by task.", ["task"],
                         buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))

_started: dict[str, float] = {}


def task_started(task_id: str = "", **_) -> None:
    _started[task_id] = time.monotonic()


def task_finished(task_id: str = "", task=None, state: str | None = None, **_) -> None:
    started = _started.pop(task_id, None)
    name = getattr(task, "name", "unknown")
    if started is not None:
        TASK_SECONDS.labels(task=name).observe(time.monotonic() - started)
    outcome = {"SUCCESS": "success", "RETRY": "retry"}.get(state or "", "failure")
    TASK_RUNS.labels(task=name, outcome=outcome).inc()
