"""Who knows what (issue #20) in the formats without SillyTavern's extensions: an Infinite Worlds NPC's
``secret_info`` becomes a secret that NPC knows, and a changed fact is written back as it; NovelAI lorebooks and
Agnai memory books (no field there keeps lore from the player or a character) carry an entry's known_by and
reveal_when in a ``luna`` object beside its fields. Round trips stay exact."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.rls import acting_as
from chapters.lore import importers
from chapters.lore.importers import FormatError
from chapters.models import Knowledge, LoreEntry

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db
DATA = Path(__file__).resolve().parents[1] / "data" / "lore"
WORLD = DATA / "iw_world" / "example-world-schema-v2.4.json"
CRUSH = "Finnegan has a secret crush on Pip Ashgrove"


@pytest.fixture
def api(api_as, alice):
    return api_as(alice)


def imported(api, story, name, data: bytes):
    response = api.post(f"/api/stories/{story.pk}/lore/import/", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code in (200, 201), response.content


def test_an_npcs_secret_info_is_a_secret_that_npc_knows_and_the_world_comes_back_unchanged(api, alice):
    text = WORLD.read_text()
    document = importers.read_upload(text.encode(), filename="world.json").document
    [secret] = [secret for secret in document.secrets if secret.ref.startswith("NPCs/")]
    assert secret.fact.startswith(CRUSH) and secret.known_by == ["Finnegan Mosswood"]
    story = StoryFactory(user=alice)
    imported(api, story, "world.json", text.encode())
    with acting_as(alice):
        row = Knowledge.objects.get(story=story, fact__startswith=CRUSH)
    assert (row.known_by, row.source, row.source_ref) == (["Finnegan Mosswood"], "flag", f"iw_world:{secret.ref}")
    exported = api.get(f"/api/stories/{story.pk}/lore/export/iw_world/")
    assert json.loads(exported.content)["NPCs"] == json.loads(text)["NPCs"]


def test_a_changed_npc_secret_is_written_back_and_what_iw_cannot_hold_is_reported(api, alice):
    story = StoryFactory(user=alice)
    imported(api, story, "world.json", WORLD.read_bytes())
    with acting_as(alice):
        Knowledge.objects.filter(story=story, fact__startswith=CRUSH).update(fact="Finnegan burned the cake.")
    exported = api.get(f"/api/stories/{story.pk}/lore/export/iw_world/")
    assert json.loads(exported.content)["NPCs"][0]["secret_info"] == "Finnegan burned the cake."
    assert "NPCs' secret" not in exported.headers.get("Luna-Dropped", "")
    with acting_as(alice):
        Knowledge.objects.filter(story=story, fact="Finnegan burned the cake.").update(
            known_by=["Finnegan Mosswood", "Pip"], reveal_when={"min_turn": 4})
    exported = api.get(f"/api/stories/{story.pk}/lore/export/iw_world/")
    assert "1 NPCs' secret known_by or reveal_when" in exported.headers["Luna-Dropped"]


@pytest.mark.parametrize(("lore_format", "book"), [
    ("novelai_lorebook", {"lorebookVersion": 5, "entries": [
        {"id": "a", "displayName": "Bell", "text": "Hale rang the bell.", "keys": ["bell"], "enabled": True,
         "forceActivation": False, "contextConfig": {"budgetPriority": 400},
         "luna": {"known_by": ["Orla", "faction:divers"], "reveal_when": {"location": "lighthouse"}}},
        {"id": "b", "displayName": "Harbour", "text": "It closes at dusk.", "keys": ["harbour"], "enabled": True,
         "forceActivation": False, "contextConfig": {"budgetPriority": 400}}]}),
    ("agnai_memory", {"kind": "memory", "name": "Bell", "description": "", "entries": [
        {"name": "Bell", "entry": "Hale rang the bell.", "keywords": ["bell"], "priority": 0, "weight": 0,
         "enabled": True, "luna": {"known_by": ["Orla", "faction:divers"], "reveal_when": {"location": "lighthouse"}}},
        {"name": "Harbour", "entry": "It closes at dusk.", "keywords": ["harbour"], "priority": 0, "weight": 0,
         "enabled": True}]}),
])
def test_novelai_and_agnai_books_carry_who_knows_what_beside_the_entry(api, alice, lore_format, book):
    text = json.dumps(book, indent=2)
    read = importers.read_upload(text.encode(), filename="bell.json")
    assert read.lore_format == lore_format
    assert importers.write(read.document, lore_format).text.strip() == text.strip()
    story = StoryFactory(user=alice)
    imported(api, story, "bell.json", text.encode())
    with acting_as(alice):
        bell, harbour = LoreEntry.objects.filter(story=story).order_by("position")
        assert (bell.known_by, bell.reveal_when) == (["Orla", "faction:divers"], {"location": "lighthouse"})
        assert (harbour.known_by, harbour.reveal_when) == ([], {})
        LoreEntry.objects.filter(pk=harbour.pk).update(known_by=["player"])
        LoreEntry.objects.filter(pk=bell.pk).update(known_by=[], reveal_when={})
    exported = json.loads(api.get(f"/api/stories/{story.pk}/lore/export/{lore_format}/").content)
    assert "luna" not in exported["entries"][0] and exported["entries"][1]["luna"] == {"known_by": ["player"]}


def test_a_luna_object_that_is_not_an_audience_is_refused_naming_the_entry():
    book = {"lorebookVersion": 5, "entries": [{"id": "a", "text": "x", "keys": ["x"], "luna": {"known_by": 7}}]}
    with pytest.raises(FormatError) as error:
        importers.read_upload(json.dumps(book).encode(), filename="bad.lorebook")
    assert "'luna'" in str(error.value) and "known_by must be a list" in str(error.value)
