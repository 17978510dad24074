"""A secret a chapter beat reveals (``reveal: chapter_beat: …``) is revealed on the turn whose passage carries the
beat, once that turn's Dreamer work confirms it: with that turn as evidence, and in "What you know" then, not a
turn later."""

import pytest

from accounts.rls import acting_as
from chapters import chapter_markup, services
from chapters.models import ChapterProgress, Knowledge
from narrative_pipeline import dreams, orchestrator

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db
CHAPTER = ("‹chapter-1› The Bell\nbeats:\n- [high] The bell rings over the square\n"
           "- [high] Orla climbs the tower stair\n"
           "secret: Hale rang the bell at midnight | known by: Orla\n"
           "reveal: chapter_beat: The bell rings over the square\n"
           "secret: The tower stair is rotten | known by: nobody\n"
           "reveal: chapter_completed: 1\n\nA mystery in the square.\n")


@pytest.fixture
def story(alice):
    story = StoryFactory(user=alice, title="The Bell", state={"location": "the square", "present_characters": ["Orla"]},
                         characters=[{"name": "Wren", "is_player": True}, {"name": "Orla"}])
    with acting_as(alice):
        services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=chapter_markup.parse(CHAPTER))
    return story


def play(alice, story, number: int):
    turn, _ = orchestrator.turn_submit(user=alice, story_id=story.pk, action="I look around.",
                                       idempotency_key=f"turn-{number}")
    return orchestrator.turn_generate(user=alice, turn=turn)


def reveals(alice, story) -> dict[str, tuple]:
    with acting_as(alice):
        return {row.fact: (row.revealed_at_turn, row.evidence_turn, row.revealed_by)
                for row in Knowledge.objects.filter(story=story)}


def test_a_beat_reveals_its_secret_on_the_turn_whose_passage_carries_it(alice, as_alice, story):
    first = play(alice, story, 1)
    assert "The bell rings over the square" in first.prose  # the offline narrator tells one beat a turn
    assert reveals(alice, story)["Hale rang the bell at midnight"] == (None, None, "")
    assert "Hale rang the bell at midnight" not in as_alice.get(f"/stories/{story.pk}/").content.decode()
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(first.pk))
    assert reveals(alice, story)["Hale rang the bell at midnight"] == (1, 1, "passage")
    assert "Hale rang the bell at midnight" in as_alice.get(f"/stories/{story.pk}/").content.decode()
    assert reveals(alice, story)["The tower stair is rotten"] == (None, None, "")
    second = play(alice, story, 2)
    assert "Orla climbs the tower stair" in second.prose
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(second.pk))
    with acting_as(alice):
        assert ChapterProgress.objects.get(story=story).completed_turn == 2
    assert reveals(alice, story)["The tower stair is rotten"] == (2, 2, "passage")
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(second.pk))  # redelivered: nothing moves
    third = play(alice, story, 3)
    assert third.status == "completed"
    assert reveals(alice, story) == {"Hale rang the bell at midnight": (1, 1, "passage"),
                                     "The tower stair is rotten": (2, 2, "passage")}


def test_the_writers_room_shows_on_its_turn_what_the_dreamer_revealed_and_taught(alice, as_alice, api_as, story):
    from narrative_pipeline.models import Turn

    first = play(alice, story, 1)
    assert first.briefing["knowledge"]["revealed"] == []  # fixed before the Dreamer read the passage
    with acting_as(alice):
        Turn.objects.filter(pk=first.pk).update(
            prose="The bell rings over the square. Orla learns that the tide turns at dawn.")
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(first.pk))
    page = as_alice.get(f"/stories/{story.pk}/turns/1/").content.decode()
    revealed = page.split('<ul class="knowledge-revealed">')[1].split("</ul>")[0]
    assert "Hale rang the bell at midnight" in revealed
    learned = page.split('<ul class="knowledge-learned">')[1].split("</ul>")[0]
    assert "<strong>Orla</strong> learned: the tide turns at dawn" in learned
    assert "Secrets withheld this turn" in page  # what was kept from whom stays as the briefing recorded it
    told = api_as(alice).get(f"/api/stories/{story.pk}/turns/1/").json()["told"]  # the API says the same
    assert "Hale rang the bell at midnight" in told["revealed"]
    assert ["Orla", "the tide turns at dawn"] in told["learned"]
    second = play(alice, story, 2)
    assert 'class="knowledge-revealed"' not in as_alice.get(f"/stories/{story.pk}/turns/{second.number}/").content.decode()
