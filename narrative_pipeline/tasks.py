from celery import shared_task
from django.db import OperationalError

from .llm import LLMError


@shared_task(acks_late=True, autoretry_for=(LLMError, OperationalError), retry_backoff=True, max_retries=5)
def dream_turn(user_id: str, turn_id: str) -> None:
    """The Dreamer's work for one committed turn, as the story's owner (RLS: the id comes with the task)."""
    from .agents.dreamer import dream

    dream(user_id=user_id, turn_id=turn_id)
