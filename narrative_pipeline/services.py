"""Writes to stories. Each runs as the acting user under RLS and keeps the quota usage true."""

from accounts.quotas import quota_consume
from accounts.rls import acting_as

from .models import Story


def story_create(*, user, title: str, premise: str = "", genre: str = "") -> Story:
    story = Story(user_id=user.pk, title=title, premise=premise, genre=genre)
    with acting_as(user):
        quota_consume(user, stories=1, storage_bytes=story.text_bytes())
        story.save()
    return story


def story_delete(*, user, story: Story) -> None:
    with acting_as(user):
        quota_consume(user, stories=-1, storage_bytes=-story.text_bytes())
        story.delete()
