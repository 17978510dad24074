"""The player's chapter panel beside the story (issue 6, item 6)."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from accounts.rls import acting_as
from chapters import chapter_markup, healing, services
from chapters.models import ChapterProgress, StoryChapter
from core.contracts import StoryState

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db

TEXT = """‹chapter-1› The Summons
location: harbour
description: A seal from the king.
beats:
- [high] A messenger brings the king's seal

‹chapter-2› The Bridge
requires: 1
visibility: title
description: Secret until reached.
start_early: yes

‹chapter-3› The Hidden Vault
requires: 2
visibility: hidden
"""


@pytest.fixture
def story(alice):
    story = StoryFactory(user=alice, state={"location": "the harbour"})
    with acting_as(alice):
        services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=chapter_markup.parse(TEXT))
    return story


def page(client, story):
    return client.get(reverse("story-detail", args=[story.pk])).content.decode()


def test_upcoming_chapters_by_title_unless_hidden(client, alice, story):
    client.force_login(alice)
    html = page(client, story)
    assert "The Summons" in html and "A seal from the king." in html
    assert "The Bridge" in html and "Secret until reached." not in html
    assert "The Hidden Vault" not in html


def test_active_chapter_with_its_beats_then_completed(client, alice, story, django_capture_on_commit_callbacks):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("story-play", args=[story.pk]), {"action": "I wait on the harbour wall.",
                                                              "idempotency_key": "k1"})
    html = page(client, story)
    assert "Now: 1. The Summons" in html or "Done" in html
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("story-play", args=[story.pk]), {"action": "I greet the messenger.",
                                                              "idempotency_key": "k2"})
    html = page(client, story)
    assert "Done" in html and "1. The Summons <span class=\"muted\">— completed</span>" in html
    assert "natural" not in html  # the method's word, not its enum value
    assert "<em>The Summons</em> was completed." in html and "<em>The Summons</em> began at turn" in html


def test_an_adapted_chapter_says_so(client, alice, story):
    client.force_login(alice)
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=1)
        healing.adapt(chapter, state=StoryState(location="the mill"), turn_number=3,
                      instructions="The seal arrives at the mill.", beats=[{"description": "A miller brings it"}])
        ChapterProgress.objects.create(user_id=alice.pk, chapter=chapter, story=story, status="active",
                                       upcoming_turn=1, activated_turn=1)
    assert "The story took another road" in page(client, story)


def test_the_chapter_under_way_is_a_checklist_with_its_changes_noted(client, alice, story):
    client.force_login(alice)
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=1)
        ChapterProgress.objects.create(user_id=alice.pk, chapter=chapter, story=story, status="active",
                                       upcoming_turn=1, activated_turn=4)
        services.chapter_update(chapter=chapter, suggested_beats=[
            {"beat": "A messenger brings the king's seal", "priority": "high"},
            {"beat": "The seal is broken", "priority": "low"}])
        ChapterProgress.objects.filter(chapter=chapter).update(beats_addressed=["A messenger brings the king's seal"])
    html = page(client, story)
    assert "Now: 1. The Summons" in html
    assert '<li class="done"><span aria-hidden="true">✓</span> <span class="visually-hidden">done:</span> ' \
           "A messenger brings the king&#x27;s seal" in html
    assert '<span aria-hidden="true">○</span> <span class="visually-hidden">open:</span> The seal is broken ' \
           '<span class="priority priority-low">low</span>' in html
    assert "What changed" in html and "Turn 4" in html and "<em>The Summons</em> began at turn 4." in html


def test_the_chapter_ahead_says_where_it_waits(client, alice, story):
    client.force_login(alice)
    html = page(client, story)
    assert "Ahead: 1. The Summons" in html and "Begins with your next turn." in html  # the story is at the harbour
    with acting_as(alice):
        services.chapter_update(chapter=StoryChapter.objects.get(story=story, number=1),
                                trigger_conditions={"location": "lighthouse"})
    assert "Waits for you at the lighthouse." in page(client, story)


def test_start_a_chapter_early_where_allowed(client, alice, story):
    client.force_login(alice)
    refused = client.post(reverse("chapter-start", args=[story.pk, 1]), follow=True).content.decode()
    assert "does not allow starting it early" in refused
    client.post(reverse("chapter-start", args=[story.pk, 2]))
    assert "Now: 2. The Bridge" in page(client, story)


def test_the_dreamer_suggests_a_next_chapter_and_one_click_accepts_it(client, alice, settings,
                                                                      django_capture_on_commit_callbacks):
    from chapters.models import ChapterSuggestion

    settings.CHAPTER_SUGGESTION_TURNS = 2
    story = StoryFactory(user=alice, state={"location": "the harbour"},
                         characters=[{"name": "Wren", "is_player": True}, {"name": "Orla"}])
    client.force_login(alice)
    for number in (1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("story-play", args=[story.pk]), {"action": "I talk to Orla.",
                                                                  "idempotency_key": f"k{number}"})
    with acting_as(alice):
        suggestion = ChapterSuggestion.objects.get(story=story)
    html = page(client, story)
    # escaped as the page escapes it: the offline Dreamer's titles may hold an apostrophe ("Orla's Bargain")
    assert f"Suggested next: {escape(suggestion.title)}" in html and "The story seems ready for a chapter about" in html
    client.post(reverse("suggestion-decide", args=[story.pk, suggestion.pk, "accept"]))
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story)
        suggestion.refresh_from_db()
    assert chapter.number == 1 and chapter.title == suggestion.title and suggestion.status == "accepted"
    assert "Suggested next" not in page(client, story)
    again = client.post(reverse("suggestion-decide", args=[story.pk, suggestion.pk, "accept"]), follow=True)
    assert "accepted already" in again.content.decode()
    assert client.post(reverse("suggestion-decide", args=[story.pk, suggestion.pk, "explode"])).status_code == 404


def test_no_suggestion_while_a_chapter_is_ahead(client, alice, story, settings, django_capture_on_commit_callbacks):
    from chapters.models import ChapterSuggestion

    settings.CHAPTER_SUGGESTION_TURNS = 1
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("story-play", args=[story.pk]), {"action": "I wait.", "idempotency_key": "k"})
    with acting_as(alice):
        assert not ChapterSuggestion.objects.filter(story=story).exists()


def test_a_hidden_chapter_healing_before_it_begins_leaves_no_trace_on_the_page(client, alice, story):
    client.force_login(alice)
    with acting_as(alice):
        vault = StoryChapter.objects.get(story=story, number=3)
        healing.relax(vault, state=StoryState(location="the mill"), turn_number=2)
    html = page(client, story)
    assert "The Hidden Vault" not in html and "What changed" not in html
