"""Turns left pending by a process that died mid-turn (a model server that hangs or errs fails the turn
itself, within its timeout): failed by Celery beat, the action kept, so the player gets Retry."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.rls import acting_for_upkeep

from .models import Turn

logger = logging.getLogger("luna.turns")

STUCK_TURN_ERROR = "This turn was never finished (the server stopped while writing it); your action is kept. Try again."


def turns_stuck_fail() -> int:
    """Fail every turn still pending ``TURN_PENDING_TIMEOUT_SECONDS`` after it was submitted, over every
    user's turns; how many. One that completes after all is shown completed (the writer's commit wins)."""
    cutoff = timezone.now() - timedelta(seconds=settings.TURN_PENDING_TIMEOUT_SECONDS)
    with acting_for_upkeep("stuck turns"):
        stuck = list(Turn.objects.select_for_update(skip_locked=True)
                     .filter(status=Turn.Status.PENDING, created_at__lt=cutoff).only("pk", "story_id", "number"))
        Turn.objects.filter(pk__in=[turn.pk for turn in stuck]).update(status=Turn.Status.FAILED,
                                                                       error=STUCK_TURN_ERROR)
    for turn in stuck:
        logger.warning("turn %s of story %s was stuck pending; failed", turn.number, turn.story_id)
    return len(stuck)
