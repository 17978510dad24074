"""The writers' room shows, per turn, the chapter brief the Strategist got, the divergence with its parts
and the healing the turn triggered (issue 17, item 4)."""

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from chapters import chapter_markup, services
from chapters.models import ChapterDivergenceLog
from narrative_pipeline.models import Turn

from ..factories import story_with_turns

pytestmark = pytest.mark.django_db

BRIEF = {
    "number": 1, "title": "The Lamp", "version": 2, "status": "upcoming",
    "narrative_instructions": "Bring the keeper's lamp into the story.",
    "beats": [{"beat": "The lamp is lit", "priority": "high"}, {"beat": "A gull cries", "priority": "low"}],
    "beats_addressed": ["The lamp is lit"], "nudge": "A fisherman mentions the dark lighthouse.",
    "divergence": 0.76, "tier": "nudge", "healing": "nudge",
    "divergence_parts": {"score": 0.76, "hard": 0.7, "soft": 0.06, "unmet": ["location", "character_present"],
                         "similarity": 0.8, "impossible": ["character_present: aldric is dead"]},
}


@pytest.fixture
def story(alice):
    story = story_with_turns(alice, 2)
    with acting_as(alice):
        (chapter,) = services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=chapter_markup.parse(
            "‹chapter-1› The Lamp\nlocation: lighthouse\n"))
        ChapterDivergenceLog.objects.create(user_id=alice.pk, chapter=chapter, story=story, turn_number=2,
                                            score=0.76, breakdown=BRIEF["divergence_parts"], strategy="nudge",
                                            reason="Nudged toward the lighthouse.", changes={"hook": BRIEF["nudge"]})
    return story


def room(client, story, number):
    response = client.get(reverse("turn-detail", args=[story.pk, number]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_turn_shows_the_chapter_brief_its_divergence_parts_and_its_healing(client, alice, story):
    with acting_as(alice):
        Turn.objects.filter(story=story, number=2).update(briefing={"chapter": BRIEF})
    client.force_login(alice)
    html = room(client, story, 2)
    assert "1. The Lamp" in html and "version 2; ahead, not begun yet" in html
    assert "Bring the keeper&#x27;s lamp into the story." in html
    assert '<li class="done"><span aria-hidden="true">✓</span> <span class="visually-hidden">done:</span> ' \
           "The lamp is lit" in html
    assert '○</span> <span class="visually-hidden">open:</span> A gull cries' in html
    assert "<strong>Nudge:</strong> A fisherman mentions the dark lighthouse." in html
    assert "Divergence 0.76" in html
    assert "0.70 · not met: the place, who is present" in html and "0.06 · similarity 0.80" in html
    assert "aldric is dead" in html
    assert "this turn triggered <strong>nudge: a hook brings the chapter toward the player</strong>" in html
    assert "Healing after this turn" in html and "Nudged toward the lighthouse." in html
    assert "character_present" not in html  # condition keys are told in words


def test_a_turn_stored_before_these_fields_still_renders(client, alice, story):
    old = {"number": 1, "title": "The Lamp", "version": 0, "narrative_instructions": "Old text.",
           "beats": [{"description": "The lamp is lit", "priority": "high"}], "beats_addressed": [],
           "divergence": 0.3, "tier": "none"}
    with acting_as(alice):
        Turn.objects.filter(story=story, number=1).update(briefing={"chapter": old})
    client.force_login(alice)
    html = room(client, story, 1)
    assert "version 0; under way" in html and "The lamp is lit" in html
    assert "Divergence 0.30" in html and "This turn kept only the score, not its parts." in html
    assert "Ladder: on track, no healing" in html and "Healing after this turn" not in html


def test_a_turn_without_a_chapter_says_so(client, alice, story):
    client.force_login(alice)
    assert "No chapter was given to the Strategist on this turn." in room(client, story, 1)


def test_the_turn_shows_the_story_so_far_the_agents_got_the_arc_and_each_turn_after_it(client, alice, story):
    with acting_as(alice):
        Turn.objects.filter(story=story, number=2).update(briefing={
            "arc_summaries": ["Wren came to the lighthouse."],
            "turn_summaries": [{"number": 1, "summary": "Wren lit the lamp."}]})
    client.force_login(alice)
    html = room(client, story, 2)
    assert "The story so far" in html and "Wren came to the lighthouse." in html
    assert f'<a href="/stories/{story.pk}/turns/1/">Turn 1</a>: Wren lit the lamp.' in html
