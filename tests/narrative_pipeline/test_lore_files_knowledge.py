"""Who knows what (issue #20) survives our own lore export and import: SillyTavern World Info and character
cards carry an entry's known_by/reveal_when and a character's factions/known_by/reveal_when in
``extensions.luna``; a file without them still comes back byte for byte."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.rls import acting_as
from chapters.lore import importers
from chapters.models import LoreEntry
from narrative_pipeline.models import Character

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db
WORLD_INFO = {"entries": {"0": {"uid": 0, "key": ["bell"], "comment": "Bell", "content": "Hale rang the bell.",
                                "extensions": {"luna": {"known_by": ["Orla", "faction:divers"],
                                                        "reveal_when": {"location": "lighthouse"}}}},
                          "1": {"uid": 1, "key": ["harbour"], "comment": "Harbour", "content": "It closes at dusk."}}}


@pytest.fixture
def api(api_as, alice):
    return api_as(alice)


def imported(api, story, name, data: bytes):
    response = api.post(f"/api/stories/{story.pk}/lore/import/", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code in (200, 201), response.content


def test_a_world_info_file_s_secrets_are_read_and_written_back_byte_for_byte(api, alice):
    text = json.dumps(WORLD_INFO, indent=2)
    read = importers.read_upload(text.encode(), filename="bell.json")
    assert read.lore_format == "st_worldinfo"
    assert importers.write(read.document, "st_worldinfo").text.strip() == text.strip()
    story = StoryFactory(user=alice)
    imported(api, story, "bell.json", text.encode())
    with acting_as(alice):
        bell, harbour = LoreEntry.objects.filter(story=story).order_by("position")
    assert (bell.known_by, bell.reveal_when) == (["Orla", "faction:divers"], {"location": "lighthouse"})
    assert (harbour.known_by, harbour.reveal_when) == ([], {})
    exported = json.loads(api.get(f"/api/stories/{story.pk}/lore/export/st_worldinfo/").content)
    assert exported["entries"]["0"]["extensions"]["luna"] == WORLD_INFO["entries"]["0"]["extensions"]["luna"]
    assert "extensions" not in exported["entries"]["1"]


def test_secrets_set_in_luna_round_trip_through_a_character_card(api, alice):
    story = StoryFactory(user=alice, characters=[{"name": "Orla", "description": "a diver who saw Hale"}])
    with acting_as(alice):
        Character.objects.filter(story=story).update(factions=["divers"], known_by=["Hale"],
                                                     reveal_when={"min_turn": 5})
    card = api.get(f"/api/stories/{story.pk}/lore/export/card_v2/").content
    assert json.loads(card)["data"]["extensions"]["luna"]["factions"] == ["divers"]
    again = StoryFactory(user=alice)
    imported(api, again, "orla.json", card)
    with acting_as(alice):
        orla = Character.objects.get(story=again)
    assert (orla.factions, orla.known_by, orla.reveal_when) == (["divers"], ["Hale"], {"min_turn": 5})
    assert api.get(f"/api/stories/{again.pk}/lore/export/card_v2/").content == card


def test_a_secret_that_is_not_an_audience_is_an_error_naming_the_entry():
    bad = {"entries": {"3": {"uid": 3, "key": ["x"], "content": "y", "extensions": {"luna": {"known_by": 5}}}}}
    with pytest.raises(importers.FormatError, match="entry 3"):
        importers.read_upload(json.dumps(bad).encode(), filename="bad.json")
