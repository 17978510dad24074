import logging

from celery import shared_task
from django.db import IntegrityError, OperationalError

from accounts.rls import acting_as
from core.embeddings import EmbeddingError

from . import dreams, stuck_turns
from .llm import LLMError
from .models import Turn

logger = logging.getLogger("luna.turns")


@shared_task(acks_late=True, autoretry_for=(LLMError, EmbeddingError, OperationalError), retry_backoff=True, max_retries=5)
def dream_turn(user_id: str, turn_id: str) -> None:
    """The Dreamer's work for one committed turn, queued by the user who acted (the owner or an editing
    co-author); done as the story's owner once that is checked (``dreams.turn_dream``)."""
    try:
        dreams.turn_dream(user_id=user_id, turn_id=turn_id)
    except IntegrityError:
        with acting_as(user_id):
            gone = not Turn.objects.filter(pk=turn_id).exists()
        if not gone:
            raise
        logger.info("turn %s was undone or deleted while the Dreamer worked on it", turn_id)


@shared_task(acks_late=True, autoretry_for=(LLMError, EmbeddingError, OperationalError), retry_backoff=True, max_retries=5)
def heal_chapter(user_id: str, chapter_id: str, turn_number: int, tier: str) -> None:
    """A chapter the story moved away from is relaxed, adapted or replaced, off the player's turn."""
    dreams.chapter_heal(user_id=user_id, chapter_id=chapter_id, turn_number=turn_number, tier=tier)


@shared_task(ignore_result=True)
def turns_stuck_sweep() -> int:
    """Celery beat: turns left pending by a process that died are failed, their actions kept for Retry."""
    return stuck_turns.turns_stuck_fail()
