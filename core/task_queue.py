"""Celery work queued with the transaction that asks for it: sent once the rows it reads are committed, or
held to run here (an admin test-play, the demo data and the benchmarks need the results at once)."""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

# Where queued work goes: None sends it to the worker; a list collects it for the caller.
_held: ContextVar[list | None] = ContextVar("held_tasks", default=None)


def queue_after_commit(task, *args) -> None:
    """Send the task to the worker once the transaction commits, or hold it for ``run_held``
    (which runs on the same connection, so it sees the rows even before they commit)."""
    held = _held.get()
    if held is not None:
        held.append((task, args))
    else:
        transaction.on_commit(lambda: task.delay(*args))


@contextmanager
def held():
    """Hold queued tasks instead of sending them, to run them here with ``run_held``."""
    token = _held.set([])
    try:
        yield
    finally:
        _held.reset(token)


def run_held() -> int:
    """Run the held tasks here, in order, including those they queue; how many ran."""
    queue, ran = _held.get(), 0
    while queue:
        task, args = queue.pop(0)
        task.run(*args)
        ran += 1
    return ran
