"""What a passage told (the chapter beats it carried, the secrets they reveal, what its prose taught) goes with
it: undoing the turn unticks its beats and reopens the chapter they completed (a redo ticks them again), and a
reroll or "Use this one" on another version forgets what the replaced passage told, so only the passage the
story reads (once the Dreamer reads it) reveals and teaches (issue #20)."""

import pytest

from accounts.rls import acting_as
from chapters import chapter_markup, services
from chapters.models import ChapterProgress, Knowledge
from narrative_pipeline import dreams, orchestrator
from narrative_pipeline.llm import LLMError
from narrative_pipeline.models import Turn

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db
BELL, STAIR, TIDE = "Hale rang the bell at midnight", "The tower stair is rotten", "the tide turns at dawn"
CHAPTER = ("‹chapter-1› The Bell\nbeats:\n- [high] The bell rings over the square\n"
           "- [high] Orla climbs the tower stair\n"
           f"secret: {BELL} | known by: Orla\nreveal: chapter_beat: The bell rings over the square\n"
           f"secret: {STAIR} | known by: nobody\nreveal: chapter_completed: 1\n\nA mystery in the square.\n")


@pytest.fixture
def story(alice):
    story = StoryFactory(user=alice, title="The Bell", state={"location": "the square", "present_characters": ["Orla"]},
                         characters=[{"name": "Wren", "is_player": True}, {"name": "Orla"}])
    with acting_as(alice):
        services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=chapter_markup.parse(CHAPTER))
    return story


def play(alice, story, number: int) -> Turn:
    turn, _ = orchestrator.turn_submit(user=alice, story_id=story.pk, action="I look around.",
                                       idempotency_key=f"turn-{number}")
    return orchestrator.turn_generate(user=alice, turn=turn)


def dream(alice, turn: Turn, prose: str | None = None) -> None:
    """The Dreamer's work on the turn, its passage replaced by ``prose`` first when given."""
    if prose is not None:
        with acting_as(alice):
            Turn.objects.filter(pk=turn.pk).update(prose=prose)
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(turn.pk))


def told(alice, story) -> tuple[dict, list[str], str]:
    """The facts (revealed_at_turn, known_by), the chapter's ticked beats and its status."""
    with acting_as(alice):
        facts = {row.fact: (row.revealed_at_turn, row.known_by) for row in Knowledge.objects.filter(story=story)}
        progress = ChapterProgress.objects.get(story=story)
    return facts, progress.beats_addressed, progress.status


def test_undo_unticks_the_beats_its_passage_told_and_redo_ticks_them_again(alice, api_as, story):
    api = api_as(alice)
    dream(alice, play(alice, story, 1))
    dream(alice, play(alice, story, 2))
    done = told(alice, story)
    assert done[0][STAIR][0] == 2 and done[2] == "completed"
    with acting_as(alice):
        assert ChapterProgress.objects.get(story=story).beats_told_at == {"The bell rings over the square": 1,
                                                                          "Orla climbs the tower stair": 2}

    assert api.delete(f"/api/stories/{story.pk}/turns/last/").status_code == 200
    facts, beats, status = told(alice, story)
    assert (beats, status) == (["The bell rings over the square"], "active")
    assert facts[STAIR][0] is None and facts[BELL][0] == 1
    with acting_as(alice):
        assert ChapterProgress.objects.get(story=story).completed_turn is None
    assert api.post(f"/api/stories/{story.pk}/turns/redo/").status_code == 200
    assert told(alice, story) == done

    # Played again, turn 2 reveals nothing its new passage does not carry.
    assert api.delete(f"/api/stories/{story.pk}/turns/last/").status_code == 200
    again = play(alice, story, 22)
    assert again.number == 2 and again.briefing["knowledge"]["revealed"] == []
    dream(alice, again, prose="Orla waits at the foot of the tower.")
    facts, beats, status = told(alice, story)
    assert facts[STAIR][0] is None and (beats, status) == (["The bell rings over the square"], "active")


def test_a_reroll_forgets_what_the_replaced_passage_told_and_the_dreamer_reads_the_new_one(alice, api_as, story):
    first = play(alice, story, 1)
    dream(alice, first, prose=f"The bell rings over the square. Orla learns that {TIDE}.")
    facts, beats, _ = told(alice, story)
    assert facts[BELL][0] == 1 and facts[TIDE] == (None, ["Orla"]) and beats == ["The bell rings over the square"]

    rerolled = api_as(alice).post(f"/api/stories/{story.pk}/turns/1/reroll/")
    assert rerolled.status_code == 200, rerolled.content
    facts, beats, _ = told(alice, story)
    assert facts[BELL][0] is None and TIDE not in facts and beats == []
    with acting_as(alice):
        turn = Turn.objects.get(story=story, number=1)
    assert BELL not in turn.briefing["knowledge"]["common"]  # the new passage is planned with it a secret
    dream(alice, turn, prose="Orla waits in the square.")
    facts, beats, _ = told(alice, story)
    assert facts[BELL][0] is None and TIDE not in facts and beats == []
    dream(alice, turn, prose="The bell rings over the square.")  # a passage that carries the beat reveals it
    assert told(alice, story)[0][BELL][0] == 1


def test_a_failed_reroll_keeps_the_passage_and_what_it_told(alice, story, monkeypatch):
    first = play(alice, story, 1)
    dream(alice, first, prose=f"The bell rings over the square. Orla learns that {TIDE}.")
    before = told(alice, story)

    def writer_down(*args, **kwargs):
        raise LLMError("The model server is down.")
    monkeypatch.setattr(orchestrator.writer, "write", writer_down)
    assert orchestrator.turn_reroll(user=alice, story_id=story.pk, number=1).status == "completed"
    assert told(alice, story) == before


def test_using_another_version_forgets_what_the_replaced_passage_told(alice, api_as, story):
    api = api_as(alice)
    first = play(alice, story, 1)
    dream(alice, first, prose=f"Orla waits. Orla learns that {TIDE}.")
    api.post(f"/api/stories/{story.pk}/turns/1/reroll/")
    with acting_as(alice):
        turn = Turn.objects.get(pk=first.pk)
    dream(alice, turn, prose="The bell rings over the square.")
    facts, beats, _ = told(alice, story)
    assert facts[BELL][0] == 1 and TIDE not in facts and beats == ["The bell rings over the square"]

    response = api.post(f"/api/stories/{story.pk}/turns/1/choose/", {"version": 1}, content_type="application/json")
    assert response.status_code == 200, response.content
    facts, beats, _ = told(alice, story)
    assert facts[BELL][0] is None and beats == []
    with acting_as(alice):
        turn = Turn.objects.get(pk=first.pk)
    dream(alice, turn)  # the chosen passage, read anew
    facts, beats, _ = told(alice, story)
    assert facts[TIDE] == (None, ["Orla"]) and facts[BELL][0] is None and beats == []


def test_undoing_turns_across_a_chapter_s_end_puts_the_chapters_back_as_they_were(alice, api_as, story):
    api = api_as(alice)
    with acting_as(alice):
        services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=chapter_markup.parse(
            "‹chapter-2› The Tower\nbeats:\n- [high] Orla reaches the top\n\nUp the tower.\n"))

    def progress() -> dict[int, tuple]:
        with acting_as(alice):
            return {row.chapter.number: (row.status, row.upcoming_turn, row.activated_turn, row.completed_turn,
                                         row.beats_addressed) for row in ChapterProgress.objects.filter(story=story)}

    dream(alice, play(alice, story, 1))
    dream(alice, play(alice, story, 2))
    two = progress()
    assert two[1][0] == "completed" and 2 not in two
    play(alice, story, 3)
    three = progress()
    assert three[2][0] == "active" and three[2][1:3] == (3, 3)

    assert api.delete(f"/api/stories/{story.pk}/turns/last/").status_code == 200
    assert progress() == two  # the story no longer heads to chapter 2
    assert api.delete(f"/api/stories/{story.pk}/turns/last/").status_code == 200
    assert progress() == {1: ("active", 1, 1, None, ["The bell rings over the square"])}  # one chapter under way
    assert api.post(f"/api/stories/{story.pk}/turns/redo/").status_code == 200
    assert progress() == two
    assert api.post(f"/api/stories/{story.pk}/turns/redo/").status_code == 200
    assert progress() == three
