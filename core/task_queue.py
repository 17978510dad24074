"""Celery work held to run here rather than sent (an admin test-play, the demo data and the benchmarks
need the results at once). Sending is ``accounts.task_outbox.queue_after_commit``, which asks ``held_tasks``
first."""

from contextlib import contextmanager
from contextvars import ContextVar

# Where queued work goes: None sends it to the worker; a list collects it for the caller.
_held: ContextVar[list | None] = ContextVar("held_tasks", default=None)


def held_tasks() -> list | None:
    """The list queued tasks are held in, or None when they are sent."""
    return _held.get()


@contextmanager
def held():
    """Hold queued tasks instead of sending them, to run them here with ``run_held``."""
    token = _held.set([])
    try:
        yield
    finally:
        _held.reset(token)


def run_held() -> int:
    """Run the held tasks here, in order, including those they queue (on the same connection, so they
    see the rows even before they commit); how many ran."""
    queue, ran = _held.get(), 0
    while queue:
        task, args = queue.pop(0)
        task.run(*args)
        ran += 1
    return ran
