"""Synthetic data at scale (`manage.py seed_scale`): users, each with stories of played turns,
chapters and one fork of a published story, for measuring lists, pages, browse and RLS at size.

Each user's rows are written in one transaction as that user (``acting_as``), so RLS checks every
row as it would a real write; rows go in with bulk inserts, not through the turn pipeline. Users
are named ``scale-00001`` …: a user already there is skipped, so a second run adds only what is
missing and a run cut off half way is finished by running it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.rls import acting_as
from chapters.models import StoryChapter
from marketplace import forks, services
from marketplace.models import Listing
from narrative_pipeline.models import Story, Turn
from narrative_pipeline.services import story_create

USERNAME_PREFIX = "scale-"
AUTHOR_NAME = "scale-author"
CHAPTERS_PER_STORY = 2
PASSWORD = "scale-password-1234"  # every seeded user's, for driving them in a load test
PROSE = "The tide comes in over the old stones, grey and patient, and the bells answer it from below. " * 4


@dataclass(frozen=True)
class SeedResult:
    created: int
    existing: int
    listing_id: str


def username(number: int) -> str:
    return f"{USERNAME_PREFIX}{number:05d}"


def _turns(user: User, story: Story, count: int) -> list[Turn]:
    now = timezone.now()
    rows = []
    for number in range(1, count + 1):
        action, prose = f"I walk on, step {number}.", f"Passage {number}. {PROSE}"
        rows.append(Turn(user_id=user.pk, story=story, number=number, action=action, prose=prose,
                         idempotency_key=f"seed-{number}", status=Turn.Status.COMPLETED, completed_at=now,
                         storage_bytes=len(action.encode()) + len(prose.encode())))
    return rows


def _chapters(user: User, story: Story) -> list[StoryChapter]:
    return [StoryChapter(user_id=user.pk, story=story, number=number, title=f"Chapter {number}",
                         summary=f"The harbour's secret, part {number}.",
                         required_previous_chapters=[number - 1] if number > 1 else [])
            for number in range(1, CHAPTERS_PER_STORY + 1)]


def _published_listing(*, turns: int) -> Listing:
    """The story every seeded user forks: the author's, published once."""
    author = User.objects.filter(username=AUTHOR_NAME).first()
    if author is None:
        author = User.objects.create_user(AUTHOR_NAME, f"{AUTHOR_NAME}@example.com", PASSWORD)
    with acting_as(author):
        listing = Listing.objects.filter(author_id=author.pk).first()
        if listing is not None:
            return listing
    story = story_create(user=author, title="The Drowned Bells", premise="A harbour town and its drowned bells.")
    with acting_as(author):
        Turn.objects.bulk_create(_turns(author, story, turns))
        StoryChapter.objects.bulk_create(_chapters(author, story))
    return services.listing_publish(user=author, story=story, title="The Drowned Bells", tags=["harbour", "bells"],
                                    description="Seeded for scale measurements.")


def _user_fill(user: User, *, stories: int, turns: int, listing: Listing) -> None:
    """The user's own stories (all but one), their turns and chapters, then a fork as the last."""
    now = timezone.now()
    own = [Story(user_id=user.pk, title=f"Story {index} of {user.username}", premise="A harbour at dusk.",
                 genre="fantasy", updated_at=now - timedelta(minutes=index)) for index in range(1, stories)]
    turn_rows = [turn for story in own for turn in _turns(user, story, turns)]
    for story in own:
        # The story's bytes with its turns', as quota accounting adds them turn by turn (the usage
        # row follows the stories by trigger).
        story.storage_bytes = story.text_bytes() + sum(turn.storage_bytes for turn in turn_rows if turn.story is story)
    with acting_as(user):
        Story.objects.bulk_create(own)
        Turn.objects.bulk_create(turn_rows, batch_size=2_000)
        StoryChapter.objects.bulk_create([chapter for story in own for chapter in _chapters(user, story)])
        if stories:
            forks.fork_create(user=user, listing_id=listing.pk)


def scale_data_seed(*, users: int, stories: int = 10, turns: int = 50,
                    progress: Callable[[int], None] = lambda done: None) -> SeedResult:
    """Users 1 to ``users`` with ``stories`` stories each (one of them a fork) of ``turns`` turns."""
    listing = _published_listing(turns=turns)
    wanted = [username(number) for number in range(1, users + 1)]
    existing = set(User.objects.filter(username__in=wanted).values_list("username", flat=True))
    password = make_password(PASSWORD)  # hashed once: hashing per user would take most of the run
    created = 0
    for name in wanted:
        if name in existing:
            continue
        with transaction.atomic():
            user = User.objects.create(username=name, email=f"{name}@example.com", password=password,
                                       max_stories=stories + 10, storage_limit_mb=1_000)
            _user_fill(user, stories=stories, turns=turns, listing=listing)
        created += 1
        progress(created)
    return SeedResult(created=created, existing=len(existing), listing_id=str(listing.pk))
