"""The task outbox: Celery tasks are written to ``OutboxTask`` in the transaction whose rows they read,
sent once it commits, and deleted only when the broker has taken them. With Redis down the turn still
commits and answers at once; ``outbox_drain`` (Celery beat, ``OUTBOX_DRAIN_SECONDS``) sends what is left
when Redis is back. A crash between the broker taking a task and its row's delete sends it twice: every
queued task is idempotent (the Dreamer's guards, a sync run's status), so at-least-once is enough.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from core import task_queue

from .models import OutboxTask

logger = logging.getLogger("luna.outbox")


def queue_after_commit(task, user_id: str, *args) -> None:
    """Queue ``task(user_id, *args)`` with the current transaction: sent once it commits, kept in the
    outbox until the broker takes it; or held for ``core.task_queue.run_held``."""
    held = task_queue.held_tasks()
    if held is not None:
        held.append((task, (user_id, *args)))
        return
    row = OutboxTask.objects.create(user_id=user_id, task_name=task.name, args=[user_id, *args])
    transaction.on_commit(lambda: _send_committed(row.pk))


def _send_committed(pk: int) -> None:
    row = OutboxTask.objects.filter(pk=pk).first()  # as the owner: RLS is enabled, not forced
    if row is not None:
        outbox_send(row)


def outbox_send(row: OutboxTask) -> bool:
    """Hand the row's task to the broker and delete the row; False (the row kept) if the broker is away."""
    task = current_app.tasks.get(row.task_name)
    if task is None:
        logger.error("outbox task %s names no registered task; dropped", row.pk)
        OutboxTask.objects.filter(pk=row.pk).delete()
        return False
    try:
        # No publish retries: a request must not wait for Redis; the drain retries later. No result either
        # (nobody holds the outbox's AsyncResult): subscribing for one would retry a Redis that is down ~20 s.
        task.apply_async(args=row.args, retry=False, ignore_result=True)
    except (BrokerUnavailable, OSError) as error:
        logger.warning("broker unavailable, task %s %s stays in the outbox: %s", row.pk, row.task_name, error)
        OutboxTask.objects.filter(pk=row.pk).update(attempts=row.attempts + 1)
        return False
    OutboxTask.objects.filter(pk=row.pk).delete()
    return True


def outbox_drain(*, older_than: timedelta | None = None) -> int:
    """Send the outbox's tasks older than ``older_than`` (newer ones are still being sent after their
    commit), oldest first, stopping at the first the broker refuses; how many were sent."""
    if older_than is None:
        older_than = timedelta(seconds=settings.OUTBOX_GRACE_SECONDS)
    sent = 0
    for row in OutboxTask.objects.filter(created_at__lte=timezone.now() - older_than).order_by("pk").iterator():
        if not outbox_send(row):
            break
        sent += 1
    if sent:
        logger.info("outbox drained %s tasks", sent)
    return sent
