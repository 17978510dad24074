"""Who knows what (issue #20): each character in the scene is briefed only on what it knows, secrets reach the
agents marked as secrets, a reveal lands on the turn its condition first holds, and the offline narrator never
tells a secret before it."""

import json

import pytest

from accounts.rls import acting_as
from chapters.knowledge import rules
from chapters.knowledge import services as knowledge
from chapters.models import Knowledge
from narrative_pipeline import lore_files, orchestrator
from narrative_pipeline.contracts import StrategistBriefing
from narrative_pipeline.models import Story, Turn
from narrative_pipeline.services import story_update

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db

BELL = "The bell was rung by Hale"


@pytest.fixture
def story(alice):
    return StoryFactory(user=alice, title="The Bell", state={"location": "the square",
                                                              "present_characters": ["Orla", "Bram"]},
                        characters=[{"name": "Wren", "is_player": True},
                                    {"name": "Orla", "factions": ["smugglers"]}, {"name": "Bram"},
                                    {"name": "Hale", "description": "Hale is the smugglers' paymaster.",
                                     "known_by": ["faction:smugglers"], "reveal_when": {"flag": "hale_unmasked"}}])


def play(user, story, action: str, key: str) -> Turn:
    turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action=action, idempotency_key=key)
    orchestrator.turn_generate(user=user, turn=turn)
    with acting_as(user):
        return Turn.objects.get(pk=turn.pk)


def blocks(turn: Turn) -> dict[str, list[str]]:
    return {block["name"]: block["knows"] for block in turn.briefing["knowledge"]["characters"]}


def test_a_secret_is_in_its_knowers_block_only_and_withheld_from_the_others(alice, story):
    with acting_as(alice):
        knowledge.knowledge_add(story_id=story.pk, user_id=alice.pk, fact=BELL, known_by=["Orla"])
    turn = play(alice, story, "I ask who rang the bell.", "a")
    assert blocks(turn) == {"Wren": [], "Orla": [BELL, "Hale is the smugglers' paymaster."], "Bram": []}
    brief = turn.briefing["knowledge"]
    assert {secret["fact"]: secret["note"] for secret in brief["secrets"]}[BELL] == rules.SECRET_MARK
    withheld = {item["label"]: item["withheld_from"] for item in brief["withheld"]}
    assert withheld == {BELL: ["Wren", "Bram"], "Hale is the smugglers' paymaster.": ["Wren", "Bram"]}
    # The agents see the blocks and the marked secrets, not the writers' room's report.
    agents = StrategistBriefing(**turn.briefing).for_agents()
    assert "withheld" not in agents["knowledge"] and agents["knowledge"]["secrets"]
    # A secret character's description is in no shared note, and the passage does not state it.
    hale = next(note for note in turn.briefing["characters"] if note["name"] == "Hale")
    assert hale["description"] == ""
    assert BELL.casefold() not in turn.prose.casefold() and "paymaster" not in turn.prose


def test_a_reveal_lands_on_the_turn_its_condition_first_holds_and_is_logged(alice, story):
    with acting_as(alice):
        fact = knowledge.knowledge_add(story_id=story.pk, user_id=alice.pk, fact=BELL, known_by=["Orla"],
                                       reveal_when={"location": "bell tower", "min_turn": 2})
    play(alice, story, "I go to the bell tower.", "a")  # turn 1 moves there, but min_turn is 2
    with acting_as(alice):
        assert Knowledge.objects.get(pk=fact.pk).revealed_at_turn is None
    second = play(alice, story, "I look around.", "b")
    with acting_as(alice):
        row = Knowledge.objects.get(pk=fact.pk)
    assert (row.revealed_at_turn, row.revealed_by) == (2, "condition")
    assert second.briefing["knowledge"]["revealed"] == [BELL]
    assert BELL in second.briefing["knowledge"]["common"]  # common knowledge now, in no one's block
    assert all(BELL not in knows for knows in blocks(second).values())
    third = play(alice, story, "I wait.", "c")
    assert third.briefing["knowledge"]["revealed"] == [] and BELL in third.briefing["knowledge"]["common"]
    with acting_as(alice):
        assert Knowledge.objects.get(pk=fact.pk).revealed_at_turn == 2


def test_a_character_reveal_by_flag_makes_its_description_common_again(alice, story):
    play(alice, story, "I wait.", "a")
    story_update(user=alice, story=story, state={"flags": ["hale_unmasked"]})
    with acting_as(alice):
        story = Story.objects.get(pk=story.pk)
    turn = play(alice, story, "I wait again.", "b")
    assert turn.briefing["knowledge"]["revealed"] == ["Hale is the smugglers' paymaster."]
    hale = next(note for note in turn.briefing["characters"] if note["name"] == "Hale")
    assert hale["description"] == "Hale is the smugglers' paymaster."


def test_a_secret_lore_entry_is_not_told_until_revealed(alice, story):
    book = {"entries": {"0": {"uid": 0, "key": ["bell"], "comment": "The bell", "content": f"{BELL}."}}}
    lore_files.import_file(user=alice, story=story, data=json.dumps(book).encode(), filename="bell.json")
    with acting_as(alice):
        from chapters.models import LoreEntry
        LoreEntry.objects.filter(story=story).update(known_by=["Orla"], reveal_when={"flag": "confessed"})
    turn = play(alice, story, "I ask about the bell.", "a")
    assert turn.briefing["lore"] == [] and BELL not in turn.prose
    assert blocks(turn)["Orla"][0] == f"{BELL}."
    story_update(user=alice, story=story, state={"flags": ["confessed"]})
    with acting_as(alice):
        story = Story.objects.get(pk=story.pk)
    told = play(alice, story, "I ask about the bell again.", "b")
    assert [note["title"] for note in told.briefing["lore"]] == ["The bell"] and BELL in told.prose


def test_learning_adds_the_learner_to_a_known_fact_once(alice, story):
    with acting_as(alice):
        fact = knowledge.knowledge_add(story_id=story.pk, user_id=alice.pk, fact=BELL, known_by=["Orla"])
        assert knowledge.knowledge_learn(story_id=story.pk, user_id=alice.pk, character="Bram",
                                         fact=BELL.upper(), turn_number=3) is not None
        assert knowledge.knowledge_learn(story_id=story.pk, user_id=alice.pk, character="Bram",
                                         fact=BELL, turn_number=4) is None
        row = Knowledge.objects.get(pk=fact.pk)
        new = knowledge.knowledge_learn(story_id=story.pk, user_id=alice.pk, character="Bram",
                                        fact="The tide turns at midnight", turn_number=5)
    assert row.known_by == ["Orla", "Bram"] and row.evidence_turn == 3
    assert (new.known_by, new.evidence_turn, new.source) == (["Bram"], 5, "turn")


@pytest.mark.parametrize(("known_by", "reveal_when"), [
    ("Orla", {"weather": "rain"}), (["faction:"], {}), ([1], {}), ([], {"chapter_completed": "two"}),
    ([], {"min_turn": -1}), ([], ["flag"]), ([], {"chapter_beat": [""]}),
])
def test_malformed_audiences_and_reveals_are_refused(alice, story, known_by, reveal_when):
    with acting_as(alice), pytest.raises(rules.KnowledgeError):
        knowledge.knowledge_add(story_id=story.pk, user_id=alice.pk, fact=BELL, known_by=known_by,
                                reveal_when=reveal_when)


def test_everyone_means_common_knowledge():
    assert rules.audience_validate(["Orla", "Everyone"]) == []
    fact = rules.Fact(id=1, text=BELL, known_by=("faction:Smugglers",))
    assert rules.knows(fact, rules.Member(name="Orla", factions=("smugglers",)))
    assert not rules.knows(fact, rules.Member(name="Bram"))
    assert rules.knows(rules.Fact(id=2, text=BELL, known_by=("player",)), rules.Member(name="Wren", is_player=True))


def test_the_writers_room_shows_which_secrets_were_withheld_from_whom(alice, story, as_alice, api_as):
    with acting_as(alice):
        knowledge.knowledge_add(story_id=story.pk, user_id=alice.pk, fact=BELL, known_by=["Orla"],
                                reveal_when={"min_turn": 2})
    play(alice, story, "I ask who rang the bell.", "a")
    page = as_alice.get(f"/stories/{story.pk}/turns/1/").content.decode()
    assert "Secrets withheld this turn" in page
    assert f"<strong>{BELL}</strong> — withheld from Wren, Bram" in page
    play(alice, story, "I ask again.", "b")
    assert "Revealed this turn, now common knowledge" in as_alice.get(f"/stories/{story.pk}/turns/2/").content.decode()
    turn = api_as(alice).get(f"/api/stories/{story.pk}/turns/1/").json()
    assert {item["label"]: item["withheld_from"] for item in turn["briefing"]["knowledge"]["withheld"]}[BELL] == [
        "Wren", "Bram"]


def test_a_chapter_beat_told_reveals_a_secret_on_the_turn_that_tells_it(alice, story):
    from chapters import services as chapters
    from narrative_pipeline import dreams

    with acting_as(alice):
        chapters.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=[
            {"number": 1, "title": "The Confession", "trigger_conditions": {"location": "square"},
             "suggested_beats": [{"beat": "Hale confesses in the square", "priority": "high"},
                                 {"beat": "The crowd turns on Hale", "priority": "high"}]}])
        fact = knowledge.knowledge_add(story_id=story.pk, user_id=alice.pk, fact=BELL, known_by=["Orla"],
                                       reveal_when={"chapter_beat": "Hale confesses in the square"})
    first = play(alice, story, "I wait in the square.", "a")
    assert "Hale confesses in the square" in first.prose and first.briefing["knowledge"]["revealed"] == []
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(first.pk))  # confirms the beat from the prose
    with acting_as(alice):
        row = Knowledge.objects.get(pk=fact.pk)
    assert (row.revealed_at_turn, row.revealed_by, row.evidence_turn) == (1, "passage", 1)
    second = play(alice, story, "I listen.", "b")
    assert second.briefing["knowledge"]["revealed"] == [] and BELL in second.briefing["knowledge"]["common"]
