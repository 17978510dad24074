"""The next turn's number is one rule (``selectors.turn_number_next``): on a fork it comes after the turns
the fork reads from its snapshot, for turns, for starting a chapter in the API and on the page, and for the
admin's preview (issue 16: it was counted in five places, two of them wrong on forks)."""

import uuid

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters.models import ChapterProgress, StoryChapter
from marketplace import forks, services
from narrative_pipeline.models import Story
from narrative_pipeline.selectors import turn_number_next

from ..factories import played_story

pytestmark = pytest.mark.django_db


@pytest.fixture
def fork(alice, bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        story = played_story(alice, turns=2)
    with acting_as(alice):
        StoryChapter.objects.filter(story_id=story.pk).update(start_early=True)
    listing = services.listing_publish(user=alice, story=story, licence="CC-BY", description="Two turns in.")
    record = forks.fork_create(user=bob, listing_id=listing.pk)
    with acting_as(bob):
        return Story.objects.get(pk=record.story_id)


def test_a_fork_goes_on_after_the_turns_it_reads(fork, bob):
    with acting_as(bob):
        assert fork.base_turn == 2 and turn_number_next(story=fork) == 3


def test_starting_a_chapter_on_a_fork_through_the_api_dates_it_after_the_inherited_turns(fork, bob, api_as):
    started = api_as(bob).post(f"/api/stories/{fork.pk}/chapters/1/start/")
    assert started.status_code == 200, started.content
    with acting_as(bob):
        assert ChapterProgress.objects.get(story_id=fork.pk, chapter__number=1).activated_turn == 3


def test_starting_a_chapter_on_the_page_dates_it_the_same(fork, bob, client):
    client.force_login(bob)
    client.post(reverse("chapter-start", args=[fork.pk, 1]))
    with acting_as(bob):
        assert ChapterProgress.objects.get(story_id=fork.pk, chapter__number=1).activated_turn == 3


def test_the_first_turn_played_on_a_fork_is_numbered_after_them(fork, bob, api_as):
    turn = api_as(bob).post(f"/api/stories/{fork.pk}/turns/", {"action": "I look around.",
                                                                "idempotency_key": uuid.uuid4().hex},
                            content_type="application/json")
    assert turn.json()["number"] == 3


def test_the_chapters_preview_of_the_api_reads_a_fork_at_its_next_turn(fork, bob, api_as):
    body = api_as(bob).post(f"/api/stories/{fork.pk}/chapters/preview/", {}, content_type="application/json").json()
    assert body["turn"] == 3


def test_the_admin_preview_of_a_fork_is_at_its_next_turn(fork, bob, client):
    user_become_author(user=bob)
    client.force_login(bob)
    page = client.get(reverse("admin:story-chapters-preview", args=[fork.pk]))
    assert page.status_code == 200 and page.context["turn"] == 3 and "<h2>Chapters at turn 3</h2>" in page.content.decode()
