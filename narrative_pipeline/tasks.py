import logging
from contextlib import contextmanager
from contextvars import ContextVar

from celery import shared_task
from django.db import IntegrityError, OperationalError

from accounts.rls import acting_as

from . import dreams
from .llm import LLMError
from .models import Turn

logger = logging.getLogger("luna.turns")
# Where the Dreamer's work goes: None sends it to the worker; a list collects it for the caller.
_held: ContextVar[list | None] = ContextVar("held_dreams", default=None)


def queue_after_commit(task, *args) -> None:
    """Send the task to the worker once the transaction commits, or hold it for ``run_held``
    (which runs on the same connection, so it sees the rows even before they commit)."""
    from django.db import transaction

    held = _held.get()
    if held is not None:
        held.append((task, args))
    else:
        transaction.on_commit(lambda: task.delay(*args))


@contextmanager
def held():
    """Hold the Dreamer's tasks instead of sending them, to run them here with ``run_held``
    (an admin test-play and the benchmarks, which need the results at once)."""
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


@shared_task(acks_late=True, autoretry_for=(LLMError, OperationalError), retry_backoff=True, max_retries=5)
def dream_turn(user_id: str, turn_id: str) -> None:
    """The Dreamer's work for one committed turn, as the story's owner (RLS: the id comes with the task)."""
    try:
        dreams.turn_dream(user_id=user_id, turn_id=turn_id)
    except IntegrityError:
        with acting_as(user_id):
            gone = not Turn.objects.filter(pk=turn_id).exists()
        if not gone:
            raise
        logger.info("turn %s was undone or deleted while the Dreamer worked on it", turn_id)


@shared_task(acks_late=True, autoretry_for=(LLMError, OperationalError), retry_backoff=True, max_retries=5)
def heal_chapter(user_id: str, chapter_id: str, turn_number: int, tier: str) -> None:
    """A chapter the story moved away from is relaxed, adapted or replaced, off the player's turn."""
    dreams.chapter_heal(user_id=user_id, chapter_id=chapter_id, turn_number=turn_number, tier=tier)
