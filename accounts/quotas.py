"""Quotas: limits per tier (overridable per user) and atomic consumption of them.

Every create calls ``quota_consume`` inside the acting user's transaction. It locks the
user's usage row (``SELECT … FOR UPDATE``) while it checks and counts, so concurrent
creates at the limit cannot both pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.db import transaction
from django.utils import timezone

from .models import Tier, Usage, User

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_stories: int
    max_images_per_story: int
    storage_limit_mb: int

    def as_dict(self) -> dict:
        return asdict(self)


TIER_LIMITS = {
    Tier.FREE: Limits(max_stories=10, max_images_per_story=100, storage_limit_mb=100),
    Tier.PRO: Limits(max_stories=100, max_images_per_story=500, storage_limit_mb=1_000),
    Tier.PREMIUM: Limits(max_stories=1_000, max_images_per_story=2_000, storage_limit_mb=10_000),
}


class QuotaExceeded(Exception):
    code = "quota_exceeded"

    def __init__(self, limit_name: str, limit: int, message: str):
        super().__init__(message)
        self.limit_name = limit_name
        self.limit = limit
        self.message = message


def effective_tier(user) -> str:
    expired = user.subscription_expires_at is not None and user.subscription_expires_at <= timezone.now()
    return Tier.FREE if expired else user.tier


def limits_for(user) -> Limits:
    tier_limits = TIER_LIMITS[effective_tier(user)]
    return Limits(
        **{
            name: override if (override := getattr(user, name)) is not None else default
            for name, default in tier_limits.as_dict().items()
        }
    )


def _usage(user, *, for_update: bool = False) -> Usage:
    """The user's usage row, created when missing (e.g. for accounts made by createsuperuser)."""
    rows = Usage.objects.filter(user_id=user.pk)
    if for_update:
        rows = rows.select_for_update()
    usage = rows.first()
    if usage is None:
        Usage.objects.bulk_create([Usage(user_id=user.pk)], ignore_conflicts=True)
        usage = rows.get()
    return usage


def usage_get(user) -> Usage:
    return _usage(user)


@transaction.atomic
def quota_consume(user, *, stories: int = 0, storage_bytes: int = 0, images: int = 0,
                  images_in_story: int | None = None) -> Usage:
    """Check and count a create (negative amounts release). Raises ``QuotaExceeded``.

    Must run as ``user`` (a User or its id) under RLS, inside ``acting_as``; ``images_in_story`` is the
    story's current image count when ``images`` are added to one story. Lock order: a caller that
    also locks a story locks it first, then this locks the usage row (no deadlock between them).
    """
    if not isinstance(user, User):  # a task knows its user by id
        user = User.objects.get(pk=user)
    limits = limits_for(user)
    usage = _usage(user, for_update=True)
    if stories > 0 and usage.story_count + stories > limits.max_stories:
        raise QuotaExceeded(
            "max_stories", limits.max_stories,
            f"You have reached your limit of {limits.max_stories} stories. "
            "Delete a story or upgrade your tier to create more.",
        )
    if storage_bytes > 0 and usage.storage_bytes + storage_bytes > limits.storage_limit_mb * MB:
        raise QuotaExceeded(
            "storage_limit_mb", limits.storage_limit_mb,
            f"This would exceed your storage limit of {limits.storage_limit_mb} MB.",
        )
    if images > 0 and images_in_story is not None and images_in_story + images > limits.max_images_per_story:
        raise QuotaExceeded(
            "max_images_per_story", limits.max_images_per_story,
            f"A story can hold at most {limits.max_images_per_story} images.",
        )
    usage.story_count = max(0, usage.story_count + stories)
    usage.storage_bytes = max(0, usage.storage_bytes + storage_bytes)
    usage.image_count = max(0, usage.image_count + images)
    usage.save()
    return usage
