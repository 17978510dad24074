"""Lore, card and world files: import, detection, lossless round trips on real published files,
conversion between formats, new stories from cards and worlds, and every bad input rejected whole."""

import base64
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image, PngImagePlugin

from accounts.rls import acting_as
from chapters.lore import importers
from chapters.lore import services as lore
from chapters.lore.importers import png
from chapters.models import Lorebook, LoreEntry, LoreSource, StoryChapter
from narrative_pipeline.models import Character, Story, Turn

from ..factories import StoryFactory, admin_import

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent.parent / "data" / "lore"
FILES = sorted(path for path in DATA.glob("*/*") if path.is_file())
FORMAT_OF_FOLDER = {"edge": None}


def expected_format(path: Path) -> str:
    if path.parent.name == "edge":
        return "novelai_lorebook" if path.suffix == ".lorebook" else "st_worldinfo"
    return path.parent.name


def ordered(text: str):
    """JSON with key order and duplicates visible, for comparisons that care about both."""
    return json.loads(text, object_pairs_hook=list)


def document_text(path: Path) -> str:
    data = path.read_bytes()
    return png.card_text(data) if png.is_png(data) else data.decode("utf-8-sig")


@pytest.fixture
def story(alice):
    return StoryFactory(user=alice, title="Harbour")


@pytest.fixture
def api(api_as, alice):
    return api_as(alice)


def upload(api, story, path_or_name, data: bytes | None = None, **fields):
    name = path_or_name.name if isinstance(path_or_name, Path) else path_or_name
    data = path_or_name.read_bytes() if data is None else data
    return api.post(f"/api/stories/{story.pk}/lore/import/", {"file": SimpleUploadedFile(name, data), **fields})


def lore_snapshot(user, story) -> list:
    with acting_as(user):
        return list(LoreEntry.objects.filter(story=story).order_by("id").values_list("id", "keys", "content"))


# Detection and round trips on every file --------------------------------------------------

@pytest.mark.parametrize("path", FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_file_is_detected_and_round_trips_without_the_database(path):
    upload_ = importers.read_upload(path.read_bytes(), filename=path.name)
    assert upload_.lore_format == expected_format(path)
    written = importers.write(upload_.document, upload_.lore_format)
    if path.name.startswith("legacy_v1"):
        return  # a V1 card is read as V2 and written as V2 (tested below)
    assert ordered(written.text) == ordered(upload_.text)  # every field, in order, empty keys included


@pytest.mark.parametrize("path", [p for p in FILES if not p.name.startswith("legacy_v1")],
                         ids=lambda path: f"{path.parent.name}/{path.name}")
def test_import_then_export_gives_the_file_back_byte_for_byte(api, story, alice, path):
    response = upload(api, story, path)
    assert response.status_code == 201, response.content
    lore_format = expected_format(path)
    exported = api.get(f"/api/stories/{story.pk}/lore/export/{lore_format}/")
    assert exported.status_code == 200
    assert exported.content == document_text(path).encode("utf-8")
    if png.is_png(path.read_bytes()):
        image = api.get(f"/api/stories/{story.pk}/lore/export/{lore_format}/?container=png")
        assert image["Content-Type"] == "image/png" and image.content == path.read_bytes()


def test_entries_keep_their_keys_in_order_with_empty_strings_and_content_byte_for_byte(api, story, alice):
    path = DATA / "st_worldinfo" / "chub_hogwarts_sillytavern_export.json"
    upload(api, story, path)
    source = json.loads(path.read_text(encoding="utf-8"))["entries"]
    with acting_as(alice):
        rows = list(LoreEntry.objects.filter(story=story).order_by("position"))
    assert [row.keys for row in rows] == [entry["key"] for entry in source.values()]
    assert "" in rows[0].keys
    assert [row.content for row in rows] == [entry["content"] for entry in source.values()]


def test_an_edited_entry_exports_with_only_that_change(api, story, alice):
    path = DATA / "st_worldinfo" / "fortuneteller_tarot_zh.json"
    upload(api, story, path)
    with acting_as(alice):
        entry = LoreEntry.objects.filter(story=story).order_by("position")[1]
        entry.content = "新的内容\r\n<b>kept</b>"
        lore.entry_save(entry)
    exported = json.loads(api.get(f"/api/stories/{story.pk}/lore/export/st_worldinfo/").content)
    original = json.loads(path.read_text(encoding="utf-8"))
    changed_uid = list(original["entries"])[1]
    original["entries"][changed_uid]["content"] = "新的内容\r\n<b>kept</b>"
    assert exported == original


def test_mixed_spellings_are_written_back_under_every_spelling(api, story, alice):
    path = DATA / "edge" / "st_mixed_naming_crlf.json"
    upload(api, story, path)
    with acting_as(alice):
        dragon = LoreEntry.objects.get(story=story, comment="The dragon")
        assert dragon.keys == ["dragon", ""] and dragon.content == "Ember sleeps\r\nunder the mountain."
        dragon.keys, dragon.content = ["dragon", "", "Ember"], "Ember wakes."
        lore.entry_save(dragon)
    exported = json.loads(api.get(f"/api/stories/{story.pk}/lore/export/st_worldinfo/").content)["entries"]["0"]
    assert exported["key"] == exported["keys"] == ["dragon", "", "Ember"]
    assert exported["content"] == exported["entry"] == "Ember wakes."


def test_the_edge_file_maps_logic_regex_case_and_probability(api, story, alice):
    upload(api, story, DATA / "edge" / "st_mixed_naming_crlf.json")
    with acting_as(alice):
        rows = {row.uid: row for row in LoreEntry.objects.filter(story=story)}
    assert rows["1"].selective_logic == "AND_ALL" and rows["1"].case_sensitive and rows["1"].match_whole_words
    assert rows["1"].probability == 40 and rows["1"].keys == ["/\\bwyrms?\\b/i"]
    assert rows["2"].selective_logic == "NOT_ANY" and rows["3"].selective_logic == "NOT_ALL" and rows["3"].constant
    assert rows["7"].keys == [] and rows["7"].content == ""


def test_a_v1_card_is_read_as_v2_and_written_as_v2_once_changed(api, story, alice):
    path = DATA / "card_v2" / "legacy_v1_skynet_no_spec.png"
    assert upload(api, story, path).status_code == 201
    v1 = json.loads(png.card_text(path.read_bytes()))
    unchanged = api.get(f"/api/stories/{story.pk}/lore/export/card_v2/?container=png").content
    assert unchanged == path.read_bytes()  # nothing changed: the file as it came
    with acting_as(alice):
        Character.objects.filter(story=story).update(description=v1["description"] + " Now kind.")
    card = json.loads(api.get(f"/api/stories/{story.pk}/lore/export/card_v2/").content)
    assert card["data"]["description"].endswith(" Now kind.")
    assert card["spec"] == "chara_card_v2" and card["data"]["name"] == v1["name"] == "Skynet"
    assert card["data"]["first_mes"] == v1["first_mes"] and card["data"]["extensions"]["metadata"] == v1["metadata"]


def test_a_png_with_both_chunks_reads_ccv3(alice):
    v2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Old", "description": ""}}
    v3 = {"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "New", "description": "",
                                                                    "assets": [{"type": "icon", "uri": "ccdefault:"}]}}
    info = PngImagePlugin.PngInfo()
    info.add_text("chara", base64.b64encode(json.dumps(v2).encode()).decode())
    info.add_text("ccv3", base64.b64encode(json.dumps(v3).encode()).decode())
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="PNG", pnginfo=info)
    found = importers.read_upload(out.getvalue())
    assert found.lore_format == "card_v3" and found.document.characters[0].name == "New"


def test_a_card_with_a_book_over_one_megabyte_reads_and_writes_as_png(api, story, alice):
    entries = [{"keys": [f"key {i}"], "content": "x" * 1_000, "enabled": True, "insertion_order": i,
                "extensions": {}} for i in range(1_500)]
    card = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": "Archivist", "description": "Keeps every book.", "first_mes": "Welcome.",
        "character_book": {"entries": entries, "extensions": {}}}}
    image = png.card_png(json.dumps(card), keyword="chara", image=None)
    assert len(image) > 1_000_000
    assert upload(api, story, "archivist.png", image).status_code == 201
    with acting_as(alice):
        assert LoreEntry.objects.filter(story=story).count() == 1_500
    again = api.get(f"/api/stories/{story.pk}/lore/export/card_v2/?container=png").content
    assert again == image


# Cards and worlds onto the story ----------------------------------------------------------

def test_a_card_joins_the_cast_and_its_book_becomes_a_lorebook(api, story, alice):
    path = DATA / "card_v2" / "sillytavern_seraphina_v2_with_book.png"
    body = upload(api, story, path).json()
    assert body["format"] == "card_v2" and body["characters"] == ["Seraphina"]
    assert body["lorebooks"][0]["entries"] == 4
    with acting_as(alice):
        seraphina = Character.objects.get(story=story, name="Seraphina")
    card = json.loads(png.card_text(path.read_bytes()))["data"]
    assert seraphina.first_message == card["first_mes"] and seraphina.scenario == card["scenario"]
    assert seraphina.example_messages == card["mes_example"] and seraphina.personality == card["personality"]


def test_v3_fields_and_non_latin_text_are_kept(api, story, alice):
    path = DATA / "card_v3" / "risu_ccardlib_nieun_v3_book_ko.json"
    upload(api, story, path)
    with acting_as(alice):
        character = Character.objects.get(story=story)
        fields = json.loads(character.source_fields)
    assert fields["data"]["assets"] == json.loads(path.read_text(encoding="utf-8"))["data"]["assets"]
    with acting_as(alice):
        character.description = character.description + "\n추가"
        character.save()
    card = json.loads(api.get(f"/api/stories/{story.pk}/lore/export/card_v3/").content)
    source = json.loads(path.read_text(encoding="utf-8"))
    assert card["data"]["description"].endswith("\n추가")
    assert card["data"]["assets"] == source["data"]["assets"] and card["data"]["source"] == source["data"]["source"]
    assert card["data"]["character_book"] == source["data"]["character_book"]


def test_an_infinite_worlds_world_becomes_chapters_lore_cast_and_story_fields(api, alice):
    path = DATA / "iw_world" / "example-world-schema-v2.4.json"
    world = json.loads(path.read_text(encoding="utf-8"))
    response = api.post("/api/stories/import/", {"file": SimpleUploadedFile(path.name, path.read_bytes())})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["title"] == world["title"]
    with acting_as(alice):
        story = Story.objects.get(pk=created["id"])
        chapters = list(StoryChapter.objects.filter(story=story).order_by("number"))
        assert story.setting == world["background"] and story.memory == world["instructions"]
        assert story.authors_note == world["objective"]
        assert set(story.state["tracked"]) == {item["name"] for item in world["trackedItems"]}
        names = set(Character.objects.filter(story=story).values_list("name", flat=True))
        assert names == {c["name"] for c in world["possibleCharacters"]} | {n["name"] for n in world["NPCs"]}
        assert LoreEntry.objects.filter(story=story).count() == len(world["loreBookEntries"])
    events = world["triggerEvents"]
    assert [c.title for c in chapters] == [e["name"] for e in events]
    by_id = {event["id"]: index + 1 for index, event in enumerate(events)}
    for chapter, event in zip(chapters, events, strict=True):
        for condition in event.get("triggerConditions", []):
            data = condition.get("data")
            if condition.get("type") == "triggerBlockers":
                assert {by_id[i] for i in data["blockers"]} <= set(chapter.blocked_by)
            if condition.get("type") == "triggerPrereqs":
                assert {by_id[i] for i in data["prereqs"]} <= set(chapter.required_previous_chapters)
            if condition.get("type") == "triggerOnEvent":
                assert data in chapter.narrative_instructions
        assert json.loads(chapter.source_data["iw_trigger_event"]) == event  # verbatim
    exported = api.get(f"/api/stories/{created['id']}/lore/export/iw_world/")
    assert exported.content == path.read_bytes()


def test_a_new_story_from_a_card_opens_with_its_first_message(api, alice):
    path = DATA / "card_v2" / "sillytavern_seraphina_v2_with_book.png"
    response = api.post("/api/stories/import/", {"file": SimpleUploadedFile(path.name, path.read_bytes())})
    assert response.status_code == 201
    card = json.loads(png.card_text(path.read_bytes()))["data"]
    with acting_as(alice):
        story = Story.objects.get(pk=response.json()["id"])
        assert story.title == "Seraphina" and story.premise == card["scenario"]
        assert Turn.objects.get(story=story, number=1).prose == card["first_mes"]
        assert Lorebook.objects.filter(story=story).count() == 1


def test_a_lore_only_file_cannot_start_a_story(api, alice):
    path = DATA / "st_worldinfo" / "sillytavern_default_eldoria.json"
    response = api.post("/api/stories/import/", {"file": SimpleUploadedFile(path.name, path.read_bytes())})
    assert response.status_code == 400 and "import it into a story instead" in response.json()["detail"]
    with acting_as(alice):
        assert not Story.objects.exists()


# Conversions -------------------------------------------------------------------------------

def test_exporting_to_another_format_converts_and_says_what_was_dropped(api, story, alice):
    upload(api, story, DATA / "edge" / "st_mixed_naming_crlf.json")
    response = api.get(f"/api/stories/{story.pk}/lore/export/agnai_memory/")
    book = json.loads(response.content)
    assert book["kind"] == "memory" and [e["keywords"] for e in book["entries"]][0] == ["dragon", ""]
    assert book["entries"][0]["entry"] == "Ember sleeps\r\nunder the mountain."
    assert "secondary keys" in response["Luna-Dropped"] and "constant" in response["Luna-Dropped"]
    card = api.get(f"/api/stories/{story.pk}/lore/export/card_v2/")
    assert card.status_code == 400 and "needs a character" in card.json()["detail"]
    novelai = json.loads(api.get(f"/api/stories/{story.pk}/lore/export/novelai_lorebook/").content)
    assert novelai["entries"][3]["forceActivation"] is True and novelai["entries"][0]["keys"] == ["dragon", ""]


def test_chapter_text_shares_the_routes(api, story, alice):
    upload(api, story, DATA / "iw_world" / "probe-a-imported.json")
    text = api.get(f"/api/stories/{story.pk}/lore/export/chapter_text/").content.decode()
    assert text.startswith("‹chapter-1›")


# Bad input: rejected whole, nothing changed ----------------------------------------------------

@pytest.mark.parametrize(("name", "data", "fields", "message"), [
    ("notes.txt", b"just some notes", {}, "not JSON, a PNG card"),
    ("broken.json", b'{"entries": {"0": {"key": ["a"]', {}, "not valid JSON"),
    ("world.json", json.dumps({"entries": {"0": {"key": ["a"], "content": "x"}}}).encode(),
     {"format": "card_v2"}, "is not card_v2: it looks like st_worldinfo"),
    ("keys.json", json.dumps({"entries": {"0": {"key": ["ok"], "content": "a"},
                                          "5": {"key": "dragon", "content": "b"}}}).encode(), {},
     "entry 5, field 'key': must be a list of strings"),
    ("keys2.json", json.dumps({"entries": {"0": {"key": ["ok", 7], "content": "a"}}}).encode(), {},
     "entry 0, field 'key': must be a list of strings"),
    ("content.json", json.dumps({"kind": "memory", "entries": [
        {"name": "a", "entry": "fine", "keywords": []}, {"name": "b", "entry": {"html": 1}, "keywords": []}]}).encode(),
     {}, "entry 1, field 'entry': must be text"),
    ("logic.json", json.dumps({"entries": {"3": {"key": ["a"], "content": "x", "selectiveLogic": 9}}}).encode(), {},
     "entry 3, field 'selectiveLogic'"),
    ("probability.json", json.dumps({"entries": {"4": {"key": ["a"], "content": "x", "probability": 250}}}).encode(),
     {}, "entry 4, field 'probability'"),
    ("card.png", b"\x89PNG\r\n\x1a\nnot really", {}, "PNG image cannot be read"),
    ("lore.json", b"{}", {"format": "yaml"}, "unknown format 'yaml'"),
])
def test_bad_files_are_rejected_whole_and_the_lore_is_untouched(api, story, alice, name, data, fields, message):
    upload(api, story, DATA / "st_worldinfo" / "sillytavern_default_eldoria.json")
    before = lore_snapshot(alice, story)
    response = upload(api, story, name, data, **fields)
    assert response.status_code == 400 and message in json.dumps(response.json()), response.json()
    assert lore_snapshot(alice, story) == before
    with acting_as(alice):
        assert LoreSource.objects.filter(story=story).count() == 1


def test_a_png_without_a_card_is_rejected_and_a_duplicate_character_comes_in_numbered(api, story, alice):
    plain = io.BytesIO()
    Image.new("RGB", (4, 4)).save(plain, format="PNG")
    response = upload(api, story, "photo.png", plain.getvalue())
    assert response.status_code == 400 and "no 'chara' or 'ccv3'" in response.json()["detail"]
    path = DATA / "card_v2" / "chub_shodan_v2.png"
    assert upload(api, story, path).status_code == 201
    again = upload(api, story, path)  # `duplicates` left out: import anyway
    assert again.status_code == 201 and again.json()["renamed_characters"] == {"Shodan": "Shodan (2)"}
    with acting_as(alice):
        assert LoreSource.objects.filter(story=story).count() == 2
        assert sorted(Character.objects.filter(story=story).values_list("name", flat=True)) == ["Shodan",
                                                                                                "Shodan (2)"]


def test_a_50_megabyte_upload_is_refused(api, story, alice):
    response = upload(api, story, "huge.json", b"{" + b" " * (50 * 1024 * 1024) + b"}")
    assert response.status_code == 400 and "the limit is" in json.dumps(response.json())
    with acting_as(alice):
        assert not LoreSource.objects.exists()


def test_export_errors_and_strangers(api, api_as, bob, story):
    assert api.get(f"/api/stories/{story.pk}/lore/export/yaml/").status_code == 400
    assert api.get(f"/api/stories/{story.pk}/lore/export/st_worldinfo/?container=png").status_code == 400
    stranger = api_as(bob)
    assert upload(stranger, story, DATA / "st_worldinfo" / "sillytavern_default_eldoria.json").status_code == 404
    assert stranger.get(f"/api/stories/{story.pk}/lore/export/st_worldinfo/").status_code == 404


# Commands and admin -------------------------------------------------------------------------

def test_commands_import_and_export_a_png_card(story, alice, tmp_path, capsys):
    path = DATA / "card_v2" / "sillytavern_seraphina_v2_with_book.png"
    call_command("import_lore", str(path), "--user", "alice", "--story", str(story.pk))
    assert "as card_v2: 1 lorebook(s) with 4 entries, 1 character(s)" in capsys.readouterr().out
    target = tmp_path / "out.png"
    call_command("export_lore", "--user", "alice", "--story", str(story.pk), "--format", "card_v2", "--png",
                 "--output", str(target))
    assert target.read_bytes() == path.read_bytes() and "Wrote" in capsys.readouterr().out
    call_command("export_lore", "--user", "alice", "--story", str(story.pk), "--format", "agnai_memory")
    captured = capsys.readouterr()
    assert json.loads(captured.out)["kind"] == "memory" and "not in agnai_memory" in captured.err
    with pytest.raises(CommandError, match="must be a list of strings"):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"entries": {"0": {"key": "x", "content": "y"}}}))
        call_command("import_lore", str(bad), "--user", "alice", "--story", str(story.pk), "--format",
                     "st_worldinfo")


def test_admin_previews_then_imports_and_downloads_any_format(client, alice, story):
    from django.urls import reverse

    from accounts.services import user_become_author

    user_become_author(user=alice)
    client.force_login(alice)
    path = DATA / "edge" / "st_mixed_naming_crlf.json"
    preview = client.post(reverse("admin:story-chapters-upload", args=[story.pk]),
                          {"file": SimpleUploadedFile(path.name, path.read_bytes())}).content.decode()
    assert "SillyTavern World Info" in preview and "The dragon" in preview
    assert "&lt;script&gt;" in preview and "<script>alert" not in preview
    with acting_as(alice):
        assert not LoreEntry.objects.exists()  # nothing saved before the author confirms
    assert admin_import(client, story, path.name, path.read_bytes()).status_code == 302
    with acting_as(alice):
        assert LoreEntry.objects.filter(story=story).count() == 5
    download = client.get(reverse("admin:story-chapters-download", args=[story.pk]) + "?lore_format=st_worldinfo")
    assert download.content == path.read_bytes()
    books = client.get(reverse("admin:chapters_lorebook_changelist")).content.decode()
    assert "st_mixed_naming_crlf" in books


def test_a_book_moves_to_the_library_and_to_another_story_with_its_entries(client, alice, story):
    from django.urls import reverse

    from accounts.services import user_become_author

    user_become_author(user=alice)
    other = StoryFactory(user=alice, title="Second")
    client.force_login(alice)
    admin_import(client, story, "eldoria.json", (DATA / "st_worldinfo" / "sillytavern_default_eldoria.json").read_bytes())
    with acting_as(alice):
        book = Lorebook.objects.get(story=story)
    form = {"name": book.name, "description": "", "enabled": "on", "scan_depth": 2, "token_budget": 400,
            "max_recursion_depth": 3}
    url = reverse("admin:chapters_lorebook_change", args=[book.pk])
    assert client.post(url, {**form, "story": ""}).status_code == 302
    with acting_as(alice):
        assert not LoreEntry.objects.filter(story=story).exists()
        assert LoreEntry.objects.filter(lorebook=book, story__isnull=True).count() == 4
    assert client.post(url, {**form, "story": other.pk}).status_code == 302
    with acting_as(alice):
        assert LoreEntry.objects.filter(story=other).count() == 4


def test_an_import_over_the_storage_quota_saves_nothing(api, story, alice):
    alice.storage_limit_mb = 0
    alice.save()
    response = upload(api, story, DATA / "card_v2" / "sillytavern_seraphina_v2_with_book.png")
    assert response.status_code == 403 and response.json()["code"] == "quota_exceeded"
    with acting_as(alice):
        assert not LoreSource.objects.exists() and not Character.objects.filter(story=story).exists()
