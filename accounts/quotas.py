"""Quotas: limits per tier (overridable per user), checked after each write that uses them.

The usage counters are kept by the database itself (a trigger on stories, narrative_pipeline's
migrations): the app role only reads them, so no request, and no SQL run for a user, can reset
them (DESIGN §2, the threat model). A create writes first and then calls ``quota_check`` in the
same transaction; over the limit it raises and the write is rolled back. The trigger's update
locks the usage row until commit, so concurrent creates at the limit cannot both pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.utils import timezone

from core.errors import DomainError

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


class QuotaExceeded(DomainError):
    """Over a limit of the user's tier: the API answers 403 with the limit's name and value."""

    def __init__(self, limit_name: str, limit: int, message: str):
        super().__init__("quota_exceeded", message, details={"limit": limit_name, "limit_value": limit})
        self.limit_name = limit_name
        self.limit = limit


def tier_in_effect(tier: str, subscription_expires_at) -> str:
    """``tier``, or the free tier once its subscription has expired."""
    expired = subscription_expires_at is not None and subscription_expires_at <= timezone.now()
    return Tier.FREE if expired else tier


def effective_tier(user) -> str:
    return tier_in_effect(user.tier, user.subscription_expires_at)


def limits_for(user) -> Limits:
    tier_limits = TIER_LIMITS[effective_tier(user)]
    return Limits(
        **{
            name: override if (override := getattr(user, name)) is not None else default
            for name, default in tier_limits.as_dict().items()
        }
    )


def usage_get(user) -> Usage:
    """The user's usage (zeros for an account that has used nothing yet)."""
    return Usage.objects.filter(user_id=user.pk).first() or Usage(user_id=user.pk)


def quota_check(user, *, stories: int = 0, storage_bytes: int = 0, images: int = 0,
                images_in_story: int | None = None) -> Usage:
    """After a write that added ``stories`` and ``storage_bytes``: raise ``QuotaExceeded`` if it went
    over a limit (the caller's transaction then rolls the write back). Before adding ``images`` to
    one story: ``images_in_story`` is its current count. Releases (negative amounts) never raise.

    Runs as ``user`` (a User or its id) under RLS, inside ``acting_as``, in the write's transaction.
    """
    if not isinstance(user, User):  # a task knows its user by id
        user = User.objects.get(pk=user)
    limits = limits_for(user)
    usage = usage_get(user)
    if stories > 0 and usage.story_count > limits.max_stories:
        raise QuotaExceeded(
            "max_stories", limits.max_stories,
            f"You have reached your limit of {limits.max_stories} stories. "
            "Delete a story or upgrade your tier to create more.",
        )
    if storage_bytes > 0 and usage.storage_bytes > limits.storage_limit_mb * MB:
        raise QuotaExceeded(
            "storage_limit_mb", limits.storage_limit_mb,
            f"This would exceed your storage limit of {limits.storage_limit_mb} MB.",
        )
    if images > 0 and images_in_story is not None and images_in_story + images > limits.max_images_per_story:
        raise QuotaExceeded(
            "max_images_per_story", limits.max_images_per_story,
            f"A story can hold at most {limits.max_images_per_story} images.",
        )
    return usage
