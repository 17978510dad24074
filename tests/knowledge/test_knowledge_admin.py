"""Authors write who knows what in the admin (issue #20): a fact with its knowers and reveal, refused in words
when malformed; a lore entry's known_by and reveal_when are checked the same way."""

import pytest

from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters.models import Knowledge

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(client, alice):
    user_become_author(user=alice)
    client.force_login(alice)
    return client


def form(story, **overrides):
    return {"story": str(story.pk), "fact": "The bell was rung by Hale", "known_by": '["Orla"]',
            "reveal_when": '{"flag": "confessed"}', "revealed_at_turn": "", "revealed_by": "", "evidence_turn": "",
            "source": "manual", "source_ref": "", **overrides}


def test_an_author_adds_a_fact_with_its_knowers_and_reveal(author, alice):
    story = StoryFactory(user=alice)
    response = author.post("/admin/chapters/knowledge/add/", form(story))
    assert response.status_code == 302, response.content.decode()[:2000]
    with acting_as(alice):
        row = Knowledge.objects.get(story=story)
    assert (row.known_by, row.reveal_when, row.user_id) == (["Orla"], {"flag": "confessed"}, alice.pk)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("known_by", '["faction:"]', "faction in known_by needs its tag"),
    ("reveal_when", '{"weather": "rain"}', "Unknown condition key"),
])
def test_malformed_knowers_and_reveals_are_form_errors_in_words(author, alice, field, value, message):
    story = StoryFactory(user=alice)
    response = author.post("/admin/chapters/knowledge/add/", form(story, **{field: value}))
    assert response.status_code == 200 and message in response.content.decode()
    with acting_as(alice):
        assert not Knowledge.objects.exists()


def test_a_lore_entry_keeps_its_secret_for_those_who_know_it(alice):
    import json

    from chapters.lore.admin import LoreEntryForm
    from chapters.models import LoreEntry
    from narrative_pipeline import lore_files

    story = StoryFactory(user=alice)
    book = {"entries": {"0": {"uid": 0, "key": ["bell"], "comment": "The bell", "content": "Hale rang it."}}}
    lore_files.import_file(user=alice, story=story, data=json.dumps(book).encode(), filename="bell.json")
    with acting_as(alice):
        entry = LoreEntry.objects.get(story=story)
        fields = {"comment": "The bell", "keys": '["bell"]', "secondary_keys": "[]", "selective_logic": "AND_ANY",
                  "content": "Hale rang it.", "order": 100, "enabled": True, "probability": 100}
        saved = LoreEntryForm({**fields, "known_by": '["Orla"]', "reveal_when": '{"min_turn": 3}'}, instance=entry)
        assert saved.is_valid(), saved.errors
        refused = LoreEntryForm({**fields, "known_by": "[]", "reveal_when": '{"tide": "high"}'}, instance=entry)
        assert not refused.is_valid() and "Unknown condition key" in str(refused.errors["reveal_when"])
