"""The knowledge API (issue #20): list, add, change, reveal and delete a story's facts; bad input is a 400 that
changes nothing; another user's story is a 404; and raw SQL as the app role cannot read, add or change another
user's facts (RLS, DESIGN §2)."""

import pytest

from accounts.rls import acting_as
from chapters.knowledge import services as knowledge
from chapters.models import Knowledge

from ..security.attack import INSUFFICIENT_PRIVILEGE, run_as

pytestmark = pytest.mark.django_db


def url(story, knowledge_id=None) -> str:
    return f"/api/stories/{story.pk}/knowledge/" + (f"{knowledge_id}/" if knowledge_id else "")


def test_the_owner_adds_lists_changes_reveals_and_deletes_facts(api_as, alice, alice_story):
    api = api_as(alice)
    created = api.post(url(alice_story), {"fact": "The bell was rung by Hale", "known_by": ["Orla", "faction:watch"],
                                          "reveal_when": {"flag": "confessed"}}, content_type="application/json")
    assert created.status_code == 201, created.content
    fact = created.json()
    assert (fact["known_by"], fact["secret"], fact["source"]) == (["Orla", "faction:watch"], True, "manual")
    listed = api.get(url(alice_story)).json()["results"]
    assert [row["fact"] for row in listed] == ["The bell was rung by Hale"]
    changed = api.patch(url(alice_story, fact["id"]), {"known_by": ["Orla", "Bram"]}, content_type="application/json")
    assert changed.json()["known_by"] == ["Orla", "Bram"]
    revealed = api.patch(url(alice_story, fact["id"]), {"revealed": True}, content_type="application/json").json()
    assert (revealed["secret"], revealed["revealed_by"], revealed["revealed_at_turn"]) == (False, "manual", 1)
    assert api.delete(url(alice_story, fact["id"])).status_code == 204
    assert api.get(url(alice_story)).json()["results"] == []


@pytest.mark.parametrize("body", [
    {"fact": ""}, {"fact": "x", "known_by": "faction:"}, {"fact": "x", "reveal_when": {"weather": "rain"}},
    {"fact": "x", "reveal_when": {"chapter_completed": [0]}}, {"fact": "x" * 1_001},
])
def test_bad_input_is_a_400_that_changes_nothing(api_as, alice, alice_story, body):
    response = api_as(alice).post(url(alice_story), body, content_type="application/json")
    assert response.status_code == 400, response.content
    with acting_as(alice):
        assert not Knowledge.objects.exists()


def test_another_users_story_and_facts_are_404(api_as, alice, bob, alice_story):
    with acting_as(alice):
        fact = knowledge.knowledge_add(story_id=alice_story.pk, user_id=alice.pk, fact="Hale rang it", known_by=["Orla"])
    api = api_as(bob)
    assert api.get(url(alice_story)).status_code == 404
    assert api.post(url(alice_story), {"fact": "mine now"}, content_type="application/json").status_code == 404
    assert api.patch(url(alice_story, fact.pk), {"fact": "changed"}, content_type="application/json").status_code == 404
    assert api.delete(url(alice_story, fact.pk)).status_code == 404


def test_raw_sql_as_another_user_cannot_read_insert_or_update_facts(alice, bob, alice_story):
    with acting_as(alice):
        fact = knowledge.knowledge_add(story_id=alice_story.pk, user_id=alice.pk, fact="Hale rang it", known_by=["Orla"])
    assert run_as(alice.pk, "SELECT fact FROM chapters_knowledge").rows == [("Hale rang it",)]
    assert run_as(bob.pk, "SELECT fact FROM chapters_knowledge").rows == []
    assert run_as(None, "SELECT fact FROM chapters_knowledge").rows == []
    changed = run_as(bob.pk, ("UPDATE chapters_knowledge SET known_by = '[\"everyone\"]' WHERE id = %s", [fact.pk]))
    assert (changed.refused, changed.rowcount) == (None, 0)
    assert run_as(bob.pk, ("DELETE FROM chapters_knowledge WHERE id = %s", [fact.pk])).rowcount == 0
    insert = ("INSERT INTO chapters_knowledge (user_id, story_id, fact, known_by, reveal_when, revealed_by, source, "
              "source_ref, created_at, updated_at) VALUES (%s, %s, 'forged', '[]', '{}', '', 'manual', '', now(), now())")
    assert run_as(bob.pk, (insert, [alice.pk, alice_story.pk])).refused == INSUFFICIENT_PRIVILEGE  # a forged owner
    # Bob's own row naming alice's story stays his: alice's policy shows her only her rows (tests/security).
    assert run_as(bob.pk, (insert, [bob.pk, alice_story.pk]), "SELECT count(*) FROM chapters_knowledge").rows == [(1,)]
    taken = run_as(alice.pk, ("UPDATE chapters_knowledge SET user_id = %s WHERE id = %s", [bob.pk, fact.pk]))
    assert taken.refused == INSUFFICIENT_PRIVILEGE
    with acting_as(alice):
        assert Knowledge.objects.get(pk=fact.pk).known_by == ["Orla"]


def test_co_authors_read_the_facts_and_only_editors_change_them(api_as, alice, alice_story):
    from narrative_pipeline.services import collaborator_add

    from ..factories import UserFactory

    reader, editor = UserFactory(), UserFactory()
    collaborator_add(owner=alice, story=alice_story, username=reader.username, role="view")
    collaborator_add(owner=alice, story=alice_story, username=editor.username, role="edit")
    with acting_as(alice):
        fact = knowledge.knowledge_add(story_id=alice_story.pk, user_id=alice.pk, fact="Hale rang it", known_by=["Orla"])
    assert [row["fact"] for row in api_as(reader).get(url(alice_story)).json()["results"]] == ["Hale rang it"]
    refused = api_as(reader).patch(url(alice_story, fact.pk), {"fact": "changed"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "read_only"
    assert api_as(reader).post(url(alice_story), {"fact": "theirs"}, content_type="application/json").status_code == 403
    changed = api_as(editor).patch(url(alice_story, fact.pk), {"fact": "Hale rang it twice"},
                                   content_type="application/json")
    assert changed.status_code == 200
    added = api_as(editor).post(url(alice_story), {"fact": "The editor's fact"}, content_type="application/json")
    assert added.status_code == 201
    with acting_as(alice):  # a co-author's fact belongs to the story's owner, like every row of the story
        assert Knowledge.objects.get(fact="The editor's fact").user_id == alice.pk
