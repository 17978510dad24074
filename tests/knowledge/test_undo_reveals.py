"""Undoing a turn forgets what it did to who knows what (issue #20): the secrets it revealed are secrets again
and what the Dreamer learned from its prose is unlearned; a redo brings both back. Through the API."""

import uuid

import pytest

from accounts.rls import acting_as
from chapters.knowledge import services as knowledge
from narrative_pipeline import dreams
from narrative_pipeline.models import Turn

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db
BELL, DEBT, TIDE = "The bell was rung by Hale", "Bram owes the guild forty crowns", "the tide turns at dawn"


@pytest.fixture
def story(alice):
    story = StoryFactory(user=alice, title="The Bell", state={"location": "the bell tower",
                                                              "present_characters": ["Orla", "Bram"]},
                         characters=[{"name": "Wren", "is_player": True}, {"name": "Orla"}, {"name": "Bram"}])
    with acting_as(alice):
        add = {"story_id": story.pk, "user_id": alice.pk}
        knowledge.knowledge_add(**add, fact=BELL, known_by=["Orla"], reveal_when={"location": "bell tower"})
        knowledge.knowledge_add(**add, fact=DEBT, known_by=["Bram"])
    return story


def facts(api, story) -> dict[str, tuple]:
    rows = api.get(f"/api/stories/{story.pk}/knowledge/").json()["results"]
    return {row["fact"]: (row["known_by"], row["revealed_at_turn"], row["evidence_turn"]) for row in rows}


def test_undo_forgets_the_turns_reveals_and_learning_and_redo_brings_them_back(api_as, as_alice, alice, story):
    api = api_as(alice)
    before = facts(api, story)
    response = api.post(f"/api/stories/{story.pk}/turns/", {"action": "I ring the bell.",
                                                             "idempotency_key": uuid.uuid4().hex},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    with acting_as(alice):
        turn = Turn.objects.get(story=story, number=1)
        Turn.objects.filter(pk=turn.pk).update(
            prose=f"Orla learns that {DEBT.lower()}. Orla learns that {TIDE}. The bell falls silent.")
    dreams.turn_dream(user_id=str(alice.pk), turn_id=str(turn.pk))
    after = facts(api, story)
    assert after[BELL] == (["Orla"], 1, None)
    assert after[DEBT] == (["Bram", "Orla"], None, 1) and after[TIDE] == (["Orla"], None, 1)
    assert BELL in as_alice.get(f"/stories/{story.pk}/").content.decode()

    assert api.delete(f"/api/stories/{story.pk}/turns/last/").status_code == 200
    assert facts(api, story) == before
    assert BELL not in as_alice.get(f"/stories/{story.pk}/").content.decode()

    assert api.post(f"/api/stories/{story.pk}/turns/redo/").status_code == 200
    assert facts(api, story) == after
    assert BELL in as_alice.get(f"/stories/{story.pk}/").content.decode()


def test_a_reveal_made_by_hand_survives_an_undo(api_as, alice, story):
    api = api_as(alice)
    api.post(f"/api/stories/{story.pk}/turns/", {"action": "I wait.", "idempotency_key": uuid.uuid4().hex},
             content_type="application/json")
    debt = next(row for row in api.get(f"/api/stories/{story.pk}/knowledge/").json()["results"] if row["fact"] == DEBT)
    assert api.patch(f"/api/stories/{story.pk}/knowledge/{debt['id']}/", {"revealed": True},
                     content_type="application/json").status_code == 200
    api.delete(f"/api/stories/{story.pk}/turns/last/")
    assert facts(api, story)[DEBT][1] is not None and facts(api, story)[BELL][1] is None
