"""The Dreamer records who learned what from the prose (issue #20), with the turn as evidence; a model's answer
is read leniently and a name not in the scene is never stored."""

import pytest

from accounts.rls import acting_as
from chapters.knowledge import services as knowledge
from chapters.models import Knowledge
from narrative_pipeline import dreams, orchestrator
from narrative_pipeline.agents import dreamer
from narrative_pipeline.llm import Completion
from narrative_pipeline.models import Turn

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(alice):
    return StoryFactory(user=alice, title="The Bell", state={"location": "the square", "present_characters": ["Orla"]},
                        characters=[{"name": "Wren", "is_player": True}, {"name": "Orla"}, {"name": "Bram"}])


def played(alice, story, prose: str) -> Turn:
    turn, _ = orchestrator.turn_submit(user=alice, story_id=story.pk, action="I listen.", idempotency_key="a")
    orchestrator.turn_generate(user=alice, turn=turn)
    with acting_as(alice):
        Turn.objects.filter(pk=turn.pk).update(prose=prose)
        return Turn.objects.get(pk=turn.pk)


def facts(alice, story) -> dict[str, tuple[list[str], int | None, str]]:
    with acting_as(alice):
        return {row.fact: (row.known_by, row.evidence_turn, row.source) for row in Knowledge.objects.filter(story=story)}


def test_a_passage_saying_someone_learned_something_records_it_with_the_turn(alice, story):
    turn = played(alice, story, "In the rain, Orla learned that the bell was rung by Hale. Nobody else heard.")
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(turn.pk))
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(turn.pk))  # redelivered: nothing doubles
    assert facts(alice, story) == {"the bell was rung by Hale": (["Orla"], 1, "turn")}


def test_a_secret_said_aloud_is_learned_by_everyone_in_the_scene(alice, story):
    with acting_as(alice):
        knowledge.knowledge_add(story_id=story.pk, user_id=alice.pk, fact="The tide gate is rotten", known_by=["Bram"])
    turn = played(alice, story, '"The tide gate is rotten," someone whispers to Orla.')
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(turn.pk))
    known_by, evidence, _ = facts(alice, story)["The tide gate is rotten"]
    assert known_by == ["Bram", "Wren", "Orla"] and evidence == 1  # Bram was not there


class Scripted:
    def __init__(self, text: str):
        self.text = text

    def complete(self, request):
        return Completion(text=self.text, prompt_tokens=1, completion_tokens=1, provider="test", model="test")


@pytest.mark.parametrize("answer", [
    '<think>who?</think>{"learned": [{"who": "orla", "what": "The bell was rung by Hale"}, '
    '{"character": "Mallory", "fact": "A stranger knows"},],}',
    'Sure: {"Learned": ["Orla learned that The bell was rung by Hale"]}',
])
def test_a_models_answer_is_read_leniently_and_strangers_are_dropped(answer):
    found = dreamer.learned(Scripted(answer), passage="…", present=["Wren", "Orla"], secrets=[])
    assert [(item.character, item.fact) for item in found] == [("Orla", "The bell was rung by Hale")]


def test_an_unreadable_answer_teaches_nothing():
    assert dreamer.learned(Scripted("I cannot tell."), passage="…", present=["Orla"], secrets=[]) == []
