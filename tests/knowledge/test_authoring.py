"""Authoring secrets (issue #20, item 3): a chapter's ``secret:`` and ``reveal:`` keys in the ‹chapter-N› format
become Knowledge rows of the chapter on import and come back on export (a lossless round trip); bad keys are
refused naming the line."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.rls import acting_as
from chapters.chapter_markup import ChapterTextError, parse, write
from chapters.models import Knowledge, StoryChapter
from narrative_pipeline.models import Story

from ..factories import StoryFactory

CHAPTERS = """‹chapter-1› The Bell
location: Harbour
secret: Hale rang the bell | known by: Hale, faction:smugglers
reveal: location: Bell Tower, Quay; chapter_beat: The bell rings; chapter_beat: Orla asks, twice; chapter_completed: 2
secret: The tide is cursed

Hale keeps his head down.

‹chapter-2› The Quay
requires: 1
secret: Orla owes the smugglers | known by: Orla, player
reveal: flag: confessed; min_turn: 4

The debts come due.
"""


def test_secrets_and_reveals_parse_into_the_chapter():
    first, second = parse(CHAPTERS)
    assert first["secrets"] == [
        {"fact": "Hale rang the bell", "known_by": ["Hale", "faction:smugglers"],
         "reveal_when": {"location": ["Bell Tower", "Quay"], "chapter_beat": ["The bell rings", "Orla asks, twice"],
                         "chapter_completed": 2}},
        {"fact": "The tide is cursed", "known_by": ["nobody"], "reveal_when": {}},  # the narrator's alone
    ]
    assert second["secrets"] == [{"fact": "Orla owes the smugglers", "known_by": ["Orla", "player"],
                                  "reveal_when": {"flag": "confessed", "min_turn": 4}}]
    assert first["narrative_instructions"] == "Hale keeps his head down."


def test_writing_secrets_and_reading_them_again_is_lossless():
    chapters = parse(CHAPTERS)
    assert parse(write(chapters)) == chapters
    assert "secret: The tide is cursed\n" in write(chapters)  # known by no character: no "known by" part


@pytest.mark.parametrize(("text", "line", "message"), [
    ("secret: x | known by: everyone\n", 2, "known by everyone is no secret"),
    ("secret: \n", 2, "secret: The fact must be text"),
    ("secret: x | known by: faction:\n", 2, "faction in known_by needs its tag"),
    ("secret: x | known by: a | known by: b\n", 2, "one '| known by:' part"),
    ("reveal: flag: x\n", 2, "a reveal follows the secret it reveals"),
    ("secret: x | known by: Hale\nreveal: flag: a\nreveal: flag: b\n", 4, "one reveal per secret"),
    ("secret: x | known by: Hale\nreveal: weather: rain\n", 3, "unknown reveal condition 'weather'"),
    ("secret: x | known by: Hale\nreveal: min_turn: soon\n", 3, "min_turn takes a whole number"),
    ("secret: x | known by: Hale\nreveal: flag\n", 3, "separated by ';'"),
    ("secret: x | known by: Hale\nreveal: flag: a; flag: b\n", 3, "reveal: flag is named twice"),
    ("secret: x | known by: Hale\nreveal: chapter_completed: 0\n", 3, "chapter_completed must be a chapter number"),
    ("secret: x | known by: Hale\nreveal: \n", 3, "at least one condition"),
])
def test_bad_secret_and_reveal_lines_are_named(text, line, message):
    with pytest.raises(ChapterTextError) as error:
        parse("‹chapter-1› A\n" + text)
    assert error.value.line == line and message in str(error.value)


def _rows(user, story) -> list[tuple]:
    with acting_as(user):
        return [(int(row.source_ref), row.fact, row.known_by, row.reveal_when)
                for row in Knowledge.objects.filter(story=story, source=Knowledge.Source.CHAPTER).order_by("id")]


@pytest.mark.django_db
def test_import_export_import_gives_the_same_knowledge_rows(api_as, alice):
    api = api_as(alice)
    first, second = StoryFactory(user=alice, title="One"), StoryFactory(user=alice, title="Two")
    imported = api.post(f"/api/stories/{first.pk}/lore/import/",
                        {"file": SimpleUploadedFile("bell.txt", CHAPTERS.encode())})
    assert imported.status_code == 201, imported.content
    rows = _rows(alice, first)
    assert rows == [(1, "Hale rang the bell", ["Hale", "faction:smugglers"],
                     {"location": ["Bell Tower", "Quay"], "chapter_beat": ["The bell rings", "Orla asks, twice"],
                      "chapter_completed": 2}),
                    (1, "The tide is cursed", ["nobody"], {}),
                    (2, "Orla owes the smugglers", ["Orla", "player"], {"flag": "confessed", "min_turn": 4})]
    exported = api.get(f"/api/stories/{first.pk}/lore/export/chapter_text/")
    assert exported.status_code == 200 and parse(exported.content.decode()) == parse(CHAPTERS)
    again = api.post(f"/api/stories/{second.pk}/lore/import/",
                     {"file": SimpleUploadedFile("bell.txt", exported.content)})
    assert again.status_code == 201, again.content
    assert _rows(alice, second) == rows


@pytest.mark.django_db
def test_a_bad_secret_in_a_file_imports_nothing_and_names_the_line(api_as, alice):
    story = StoryFactory(user=alice, title="One")
    text = "‹chapter-1› A\nsecret: x | known by: Hale\nreveal: weather: rain\n"
    response = api_as(alice).post(f"/api/stories/{story.pk}/lore/import/",
                                  {"file": SimpleUploadedFile("bad.txt", text.encode())})
    assert response.status_code == 400 and "line 3" in response.content.decode()
    with acting_as(alice):
        assert not Knowledge.objects.filter(story=story).exists() and not StoryChapter.objects.filter(story=story)


def test_a_secret_known_by_nobody_is_kept_from_every_character_even_one_named_nobody():
    from chapters.knowledge.rules import Fact, Member, knows
    fact = Fact(id=1, text="The tide is cursed", known_by=("nobody",))
    assert not fact.common
    assert not any(knows(fact, member) for member in (Member("Hale"), Member("Nobody"), Member("Orla", True)))
    assert knows(Fact(id=1, text="The tide is cursed", known_by=("nobody",), revealed=True), Member("Hale"))


# The character API and admin: factions, known_by, reveal_when ------------------------------------------

@pytest.mark.django_db
def test_the_character_api_takes_and_shows_factions_knowers_and_reveal(api_as, alice, alice_story):
    api = api_as(alice)
    created = api.post(f"/api/stories/{alice_story.pk}/characters/",
                       {"name": "Hale", "description": "Rang the bell.", "factions": ["smugglers", "faction:watch"],
                        "known_by": ["Orla", "faction:smugglers"], "reveal_when": {"flag": "confessed"}},
                       content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["factions"], body["known_by"], body["reveal_when"]) == (
        ["smugglers", "watch"], ["Orla", "faction:smugglers"], {"flag": "confessed"})
    listed = api.get(f"/api/stories/{alice_story.pk}/characters/").json()["results"]
    assert [(c["name"], c["factions"]) for c in listed] == [("Hale", ["smugglers", "watch"])]


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value", "message"), [
    ("factions", {"smugglers": True}, "factions must be a list of tags"),
    ("known_by", ["faction:"], "faction in known_by needs its tag"),
    ("known_by", 7, "known_by must be a list"),
    ("reveal_when", {"weather": "rain"}, "Unknown condition key"),
    ("reveal_when", {"chapter_completed": [0]}, "chapter_completed must be a chapter number"),
])
def test_a_bad_factions_known_by_or_reveal_is_a_400_naming_the_field(api_as, alice, alice_story, field, value,
                                                                      message):
    response = api_as(alice).post(f"/api/stories/{alice_story.pk}/characters/", {"name": "Hale", field: value},
                                  content_type="application/json")
    assert response.status_code == 400
    assert message in str(response.json()["errors"][field])
    with acting_as(alice):
        assert not alice_story.characters.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value", "message"), [
    ("factions", '{"smugglers": 1}', "factions must be a list of tags"),
    ("known_by", '["faction:"]', "faction in known_by needs its tag"),
    ("reveal_when", '{"weather": "rain"}', "Unknown condition key"),
])
def test_the_character_admin_checks_factions_knowers_and_reveal(field, value, message):
    from narrative_pipeline.admin import CharacterForm

    data = {"name": "Hale", "description": "", "personality": "", "factions": '["smugglers"]', "known_by": '["Orla"]',
            "reveal_when": '{"flag": "confessed"}', field: value}
    form = CharacterForm(data=data)
    assert not form.is_valid() and message in " ".join(form.errors[field])
    good = CharacterForm(data={**data, field: {"factions": '["faction:smugglers"]', "known_by": '"Orla, player"',
                                               "reveal_when": '{"min_turn": 3}'}[field]})
    assert good.is_valid(), good.errors
    assert good.cleaned_data[field] == {"factions": ["smugglers"], "known_by": ["Orla", "player"],
                                        "reveal_when": {"min_turn": 3}}[field]


# SillyTavern's character filter is known_by ---------------------------------------------------------------

def _world_info() -> dict:
    return {"entries": {
        "0": {"uid": 0, "key": ["bell"], "comment": "The bell", "content": "Hale rang the bell.",
              "characterFilter": {"isExclude": False, "names": ["Hale"], "tags": ["smugglers"]}},
        "1": {"uid": 1, "key": ["tide"], "comment": "The tide", "content": "The tide is cursed.",
              "characterFilter": {"isExclude": True, "names": ["Orla"], "tags": []}},
        "2": {"uid": 2, "key": ["quay"], "comment": "The quay", "content": "The quay is old."},
    }}


def test_an_include_filter_is_known_by_and_an_exclude_filter_stays_everyones():
    from chapters.lore import importers

    upload = importers.read_upload(json.dumps(_world_info()).encode(), filename="bell.json")
    entries = upload.document.books[0].entries
    assert [entry.known_by for entry in entries] == [["Hale", "faction:smugglers"], [], []]
    written = json.loads(importers.write(upload.document, "st_worldinfo").text)
    assert written == _world_info()  # both filters back as they were


def test_a_malformed_character_filter_is_refused_naming_the_entry():
    from chapters.lore import importers

    book = _world_info()
    book["entries"]["0"]["characterFilter"]["names"] = "Hale"
    with pytest.raises(importers.FormatError, match="entry 0.*names"):
        importers.read_upload(json.dumps(book).encode(), filename="bell.json")


@pytest.mark.django_db
def test_world_info_filters_import_as_known_by_and_an_edit_exports_as_the_filter(alice):
    from chapters.lore import services as lore
    from chapters.models import LoreEntry
    from narrative_pipeline import lore_files

    story = StoryFactory(user=alice)
    data = json.dumps(_world_info()).encode()
    lore_files.import_file(user=alice, story=story, data=data, filename="bell.json")
    with acting_as(alice):
        rows = {row.uid: row for row in LoreEntry.objects.filter(story=story)}
        assert (rows["0"].known_by, rows["1"].known_by, rows["2"].known_by) == (["Hale", "faction:smugglers"], [], [])
        assert lore_files.export_file(story=story, lore_format="st_worldinfo")[0] == data  # byte for byte
        rows["2"].known_by, rows["2"].reveal_when = ["Orla", "player"], {"flag": "confessed"}
        lore.entry_save(rows["2"])
        rows["0"].known_by = []
        lore.entry_save(rows["0"])
        body = lore_files.export_file(story=story, lore_format="st_worldinfo")[0]
    entries = json.loads(body)["entries"]
    assert entries["2"]["characterFilter"] == {"isExclude": False, "names": ["Orla", "player"], "tags": []}
    assert "characterFilter" not in entries["0"]  # known by everyone again
    assert entries["1"]["characterFilter"] == {"isExclude": True, "names": ["Orla"], "tags": []}
    assert entries["2"]["extensions"] == {"luna": {"reveal_when": {"flag": "confessed"}}}  # known_by: the filter
    again = StoryFactory(user=alice)
    lore_files.import_file(user=alice, story=again, data=body, filename="bell.json")
    with acting_as(alice):
        assert {uid: (known_by, reveal_when) for uid, known_by, reveal_when in LoreEntry.objects.filter(
            story=again).values_list("uid", "known_by", "reveal_when")} == {
            "0": ([], {}), "1": ([], {}), "2": (["Orla", "player"], {"flag": "confessed"})}


# Infinite Worlds' visibility is known_by --------------------------------------------------------------------

IW_WORLD = Path(__file__).parent.parent / "data" / "lore" / "iw_world" / "example-world-schema-v2.4.json"


def _tracked_items(story):
    """The facts of the world's tracked items (an NPC's secret_info is a fact of its own)."""
    return Knowledge.objects.filter(story=story, source=Knowledge.Source.FLAG,
                                    source_ref__startswith="iw_world:trackedItems/").order_by("id")


def _flag_rows(user, story) -> list[tuple]:
    with acting_as(user):
        return list(_tracked_items(story).values_list("source_ref", "known_by", "fact"))


@pytest.mark.django_db
def test_tracked_items_visibility_imports_as_secrets_and_exports_back(alice):
    from narrative_pipeline import lore_files

    story = StoryFactory(user=alice)
    data = IW_WORLD.read_bytes()
    lore_files.import_file(user=alice, story=story, data=data, filename="world.json")
    rows = _flag_rows(alice, story)
    assert [(ref, known_by) for ref, known_by, _ in rows] == [
        ("iw_world:trackedItems/WTOtZ8nzh", ["nobody"]),  # ai_only_boring: the narrator's alone
        ("iw_world:trackedItems/O7WyJNRkm", ["player"]),  # player_only
        ("iw_world:trackedItems/PMh7S1RYT", ["nobody"]),  # hidden
    ]
    assert rows[0][2].startswith("Secret Grudges: <secretGrudges>")
    with acting_as(alice):
        story = Story.objects.get(pk=story.pk)  # with the world's fields the import filled in
        assert lore_files.export_file(story=story, lore_format="iw_world")[0] == data  # unchanged: byte for byte
        grudges, player_only, hidden = _tracked_items(story)
        for row, known_by in ((grudges, ["player"]), (player_only, []), (hidden, ["Hale"])):
            row.known_by = known_by
            row.save()
        body, _, _, dropped = lore_files.export_file(story=story, lore_format="iw_world")
    items = {item["id"]: item["visibility"] for item in json.loads(body)["trackedItems"]}
    assert (items["WTOtZ8nzh"], items["O7WyJNRkm"], items["PMh7S1RYT"]) == ("player_only", "everyone", "hidden")
    assert any("tracked items' known_by" in note for note in dropped)  # a named knower has no visibility
    again = StoryFactory(user=alice)
    lore_files.import_file(user=alice, story=again, data=body, filename="world.json")
    assert [(ref, known_by) for ref, known_by, _ in _flag_rows(alice, again)] == [
        ("iw_world:trackedItems/WTOtZ8nzh", ["player"]), ("iw_world:trackedItems/PMh7S1RYT", ["nobody"])]


def test_visibility_and_known_by_map_both_ways():
    from chapters.lore.importers.iw_world import known_by_of_visibility, visibility_of_known_by

    assert [known_by_of_visibility(v) for v in ("everyone", "player_only", "ai_only", "ai_only_boring", "hidden",
                                                "hidden_boring")] == [None, ["player"], *[["nobody"]] * 4]
    assert [visibility_of_known_by(k) for k in ([], ["everyone"], ["player"], ["nobody"], ["Hale"])] == [
        "everyone", "everyone", "player_only", "ai_only", None]


@pytest.mark.django_db
def test_a_chapters_secrets_follow_a_sync_and_go_with_the_chapter(alice):
    from chapters import services as chapter_services

    story = StoryFactory(user=alice)
    with acting_as(alice):
        chapter_services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=parse(CHAPTERS))
        exported = {chapter["number"]: chapter for chapter in chapter_services.chapters_export(story_id=story.pk)}
        exported[2] = {**exported[2], "secrets": [{"fact": "Orla paid the smugglers", "known_by": ["Orla"],
                                                   "reveal_when": {}}]}
        chapter_services.chapters_apply(story_id=story.pk, user_id=alice.pk, chapters={1: exported[1], 2: exported[2]})
    assert [row[1:3] for row in _rows(alice, story)] == [
        ("Hale rang the bell", ["Hale", "faction:smugglers"]), ("The tide is cursed", ["nobody"]),
        ("Orla paid the smugglers", ["Orla"])]
    with acting_as(alice):
        chapter_services.chapters_apply(story_id=story.pk, user_id=alice.pk, chapters={2: None})
        chapter_services.chapters_delete(chapters=list(StoryChapter.objects.filter(story=story)))
        assert not Knowledge.objects.filter(story=story).exists()


def test_the_documented_example_parses_with_its_secrets():
    doc = (Path(__file__).parent.parent.parent / "docs" / "chapter-format.md").read_text(encoding="utf-8")
    example = doc.split("```\n", 2)[1]
    second = parse(example)[1]
    assert second["secrets"] == [
        {"fact": "The captain of the guard sold the horn", "known_by": ["Captain Hale", "faction:smugglers"],
         "reveal_when": {"location": "Old Bridge", "chapter_beat": "The guards change shift"}},
        {"fact": "The bridge will not stand another winter", "known_by": ["nobody"], "reveal_when": {}}]


@pytest.mark.django_db
def test_a_fork_has_each_chapter_secret_once_and_exports_it(api_as, alice, bob):
    from narrative_pipeline import lore_files

    alice_api, bob_api = api_as(alice), api_as(bob)
    story = StoryFactory(user=alice, title="The Bell")
    lore_files.import_file(user=alice, story=story, data=CHAPTERS.encode(), filename="bell.txt")
    listing = alice_api.post(f"/api/marketplace/stories/{story.pk}/publish/", {"licence": "CC-BY"},
                             content_type="application/json")
    assert listing.status_code == 201, listing.content
    fork = bob_api.post(f"/api/marketplace/stories/{listing.json()['id']}/fork/", {},
                        content_type="application/json").json()["story_id"]
    with acting_as(bob):
        fork_story = Story.objects.get(pk=fork)
    assert _rows(bob, fork_story) == _rows(alice, story)  # once each, by chapter number
    exported = bob_api.get(f"/api/stories/{fork}/lore/export/chapter_text/")
    assert [chapter.get("secrets") for chapter in parse(exported.content.decode())] == [
        chapter.get("secrets") for chapter in parse(CHAPTERS)]
