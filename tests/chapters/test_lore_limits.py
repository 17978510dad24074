"""Bounded lore: every cap refused on every path that writes lore (imports of every format, new stories
from a file, the admin's import and forms, forks and syncs), with a message naming the limit and the
figures and nothing written; and a turn's key matching kept to its time budget, what did not fit
skipped and reported, each regex key compiled once per version of its book."""

import json

import pytest
import regex
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters.lore import activation, importers
from chapters.lore import services as lore
from chapters.lore.importers import document as doc
from chapters.lore.importers import png
from chapters.models import Lorebook, LoreEntry, LoreSource
from narrative_pipeline import lore_files, orchestrator
from narrative_pipeline.models import Character, Story, Turn

from ..factories import StoryFactory, admin_import, story_with_turns

pytestmark = pytest.mark.django_db

LORE_FORMATS = [name for name in importers.FORMATS if name != "chapter_text"]
CATASTROPHIC = r"(a|aa)+$"  # backtracks without end on a run of "a"s followed by anything else
RUN_OF_AS = "a" * 40 + "!"


def entry(keys, content="Known.", comment=""):
    return doc.Entry(keys=list(keys), content=content, comment=comment)


# One case per cap: the setting lowered, entries over it, and what the message must say.
CAPS = {
    "entries per book": ({"LORE_MAX_ENTRIES_PER_BOOK": 2}, [entry(["a"]), entry(["b"]), entry(["c"])],
                         ["3 entries", "the limit is 2 entries per book"]),
    "regex keys per book": ({"LORE_MAX_REGEX_KEYS_PER_BOOK": 1}, [entry(["/ab+/"]), entry(["/cd+/i"])],
                            ["2 different regex keys", "the limit is 1 regex keys per book"]),
    "key length": ({"LORE_MAX_KEY_LENGTH": 10}, [entry(["k" * 11])],
                   ["a key of 11 characters", "the limit is 10 characters per key"]),
    "keys per entry": ({"LORE_MAX_KEYS_PER_ENTRY": 2}, [entry(["a", "b", "c"])],
                       ["3 keys", "the limit is 2 keys per entry"]),
    "content length": ({"LORE_MAX_CONTENT_LENGTH": 10}, [entry(["a"], content="c" * 11)],
                       ["11 characters", "the limit is 10 characters per entry"]),
    "books per story": ({"LORE_MAX_BOOKS_PER_STORY": 1}, [entry(["a"])],
                        ["2 lorebooks", "the limit is 1 books per story"]),
    "entries per story": ({"LORE_MAX_ENTRIES_PER_STORY": 2}, [entry(["a"]), entry(["b"])],
                          ["3 lore entries", "the limit is 2 entries per story"]),
}
STORY_CAPS = {"books per story", "entries per story"}  # they count the story's book already there


def lore_file(lore_format: str, entries, *, character: str = "Orla") -> bytes:
    document = doc.LoreDocument(books=[doc.Book(name="Big", entries=entries)],
                                characters=[doc.Character(name=character)], story=doc.StoryInfo(title="Big"))
    return importers.write(document, lore_format).text.encode()


def what_the_story_holds(user, story) -> tuple:
    with acting_as(user):
        story = Story.objects.get(pk=story.pk)
        return (list(Lorebook.objects.filter(story=story).values_list("id", "name")),
                list(LoreEntry.objects.filter(story=story).values_list("id", "keys", "content")),
                LoreSource.objects.filter(story=story).count(), Character.objects.filter(story=story).count(),
                story.storage_bytes)


@pytest.fixture
def story(alice):
    story = StoryFactory(user=alice, title="Harbour")
    with acting_as(alice):  # one book of one entry already there, for the story's caps
        lore.books_import(story_id=story.pk, user_id=alice.pk, books=[doc.Book(name="Own", entries=[
            entry(["harbour"])])])
    return story


def assert_names_the_cap(message: str, expected: list[str]):
    for part in expected:
        assert part in message, (part, message)


# Imports of every format, through the API -----------------------------------------------------

@pytest.mark.parametrize("lore_format", LORE_FORMATS)
@pytest.mark.parametrize("cap", CAPS)
def test_an_import_over_a_cap_is_refused_whole_in_every_format(api_as, alice, story, settings, lore_format, cap):
    limits, entries, expected = CAPS[cap]
    data = lore_file(lore_format, entries)
    for name, value in limits.items():
        setattr(settings, name, value)
    before = what_the_story_holds(alice, story)
    response = api_as(alice).post(f"/api/stories/{story.pk}/lore/import/",
                                  {"file": SimpleUploadedFile(f"big.{lore_format}.json", data)})
    assert response.status_code == 400, response.content
    assert_names_the_cap(response.json()["detail"], expected)
    assert what_the_story_holds(alice, story) == before


def test_a_png_card_over_a_cap_is_refused(api_as, alice, story, settings):
    settings.LORE_MAX_ENTRIES_PER_BOOK = 2
    card = png.card_png(lore_file("card_v2", CAPS["entries per book"][1]).decode(), keyword="chara", image=None)
    before = what_the_story_holds(alice, story)
    response = api_as(alice).post(f"/api/stories/{story.pk}/lore/import/",
                                  {"file": SimpleUploadedFile("card.png", card)})
    assert response.status_code == 400
    assert_names_the_cap(response.json()["detail"], CAPS["entries per book"][2])
    assert what_the_story_holds(alice, story) == before


def test_each_file_within_the_caps_still_imports(api_as, alice, story):
    for lore_format in LORE_FORMATS:
        data = lore_file(lore_format, [entry(["/ab+/"]), entry(["a", "b"], content="c" * 100)],
                         character=f"Orla {lore_format}")
        response = api_as(alice).post(f"/api/stories/{story.pk}/lore/import/",
                                      {"file": SimpleUploadedFile("ok.json", data), "format": lore_format})
        assert response.status_code == 201, (lore_format, response.content)


@pytest.mark.parametrize("cap", sorted(set(CAPS) - {"books per story"}))
def test_a_new_story_from_a_file_over_a_cap_is_refused_and_no_story_made(api_as, alice, settings, cap):
    limits, entries, expected = CAPS[cap]
    if cap == "entries per story":
        entries = [*entries, entry(["c"])]  # a new story holds nothing yet
        expected = ["3 lore entries", "the limit is 2 entries per story"]
    for name, value in limits.items():
        setattr(settings, name, value)
    response = api_as(alice).post("/api/stories/import/", {
        "file": SimpleUploadedFile("card.json", lore_file("card_v2", entries))})
    assert response.status_code == 400, response.content
    assert_names_the_cap(response.json()["detail"], expected)
    with acting_as(alice):
        assert not Story.objects.filter(user=alice).exists() and not Lorebook.objects.exists()


def test_the_import_command_refuses_a_book_over_a_cap(alice, story, settings, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    settings.LORE_MAX_REGEX_KEYS_PER_BOOK = 1
    path = tmp_path / "book.json"
    path.write_bytes(lore_file("st_worldinfo", CAPS["regex keys per book"][1]))
    before = what_the_story_holds(alice, story)
    with pytest.raises(CommandError, match="the limit is 1 regex keys per book"):
        call_command("import_lore", str(path), user=alice.username, story=str(story.pk))
    assert what_the_story_holds(alice, story) == before


# The admin ------------------------------------------------------------------------------------

@pytest.fixture
def author_client(client, alice):
    user_become_author(user=alice)
    client.force_login(alice)
    return client


@pytest.mark.parametrize("cap", ["entries per book", "key length", "books per story"])
def test_the_admin_import_shows_the_cap_as_a_form_error_and_writes_nothing(author_client, alice, story, settings,
                                                                          cap):
    limits, entries, expected = CAPS[cap]
    for name, value in limits.items():
        setattr(settings, name, value)
    before = what_the_story_holds(alice, story)
    # A book's caps stop the preview; the story's, the import itself (the file alone is within them).
    page = admin_import(author_client, story, "big.json", lore_file("st_worldinfo", entries)).content.decode()
    assert 'class="errorlist' in page or 'class="error"' in page
    assert_names_the_cap(page.replace("&#x27;", "'"), expected)
    assert what_the_story_holds(alice, story) == before


def change_entry_form(entry_row: LoreEntry, **changes) -> dict:
    form = {"comment": entry_row.comment, "keys": json.dumps(entry_row.keys),
            "secondary_keys": json.dumps(entry_row.secondary_keys), "selective_logic": entry_row.selective_logic,
            "content": entry_row.content, "order": entry_row.order, "enabled": "on", "probability": 100}
    return {**form, **changes}


@pytest.mark.parametrize("setting, value, changes, expected", [
    ("LORE_MAX_KEYS_PER_ENTRY", 2, {"keys": json.dumps(["a", "b", "c"])}, ["3 keys", "2 keys per entry"]),
    ("LORE_MAX_KEY_LENGTH", 10, {"secondary_keys": json.dumps(["s" * 11])}, ["11 characters", "10 characters per key"]),
    ("LORE_MAX_CONTENT_LENGTH", 10, {"content": "c" * 11}, ["11 characters", "10 characters per entry"]),
    ("LORE_MAX_REGEX_KEYS_PER_BOOK", 1, {"keys": json.dumps(["/wyrms?/i"])},
     ["2 different regex keys", "1 regex keys per book"]),
])
def test_the_admin_entry_form_refuses_an_edit_over_a_cap(author_client, alice, story, settings, setting, value,
                                                         changes, expected):
    with acting_as(alice):
        book = Lorebook.objects.get(story=story)
        LoreEntry.objects.create(user_id=alice.pk, lorebook=book, story=story, position=1, keys=["/dragons?/"],
                                 content="Dragons.")
        row = LoreEntry.objects.get(lorebook=book, position=0)
    setattr(settings, setting, value)
    response = author_client.post(reverse("admin:chapters_loreentry_change", args=[row.pk]),
                                  change_entry_form(row, **changes))
    assert response.status_code == 200  # the form again, with the error
    assert_names_the_cap(response.content.decode(), expected)
    with acting_as(alice):
        assert LoreEntry.objects.get(pk=row.pk).keys == ["harbour"]
        assert LoreEntry.objects.get(pk=row.pk).content == "Known."


def test_the_service_refuses_an_entry_over_a_cap_whoever_calls_it(alice, story, settings):
    from django.core.exceptions import ValidationError

    settings.LORE_MAX_CONTENT_LENGTH = 10
    with acting_as(alice):
        row = LoreEntry.objects.get(story=story)
        row.content = "c" * 11
        with pytest.raises(ValidationError, match="the limit is 10 characters per entry"):
            lore.entry_save(row)
        assert LoreEntry.objects.get(pk=row.pk).content == "Known."


def test_moving_a_book_into_a_full_story_is_refused_in_the_admin(author_client, alice, story, settings):
    settings.LORE_MAX_BOOKS_PER_STORY = 1
    other = StoryFactory(user=alice, title="Second")
    with acting_as(alice):
        [moving] = lore.books_import(story_id=other.pk, user_id=alice.pk, books=[doc.Book(name="Mover", entries=[
            entry(["x"])])])
    form = {"name": "Mover", "description": "", "enabled": "on", "scan_depth": 2, "token_budget": 400,
            "max_recursion_depth": 3, "story": story.pk}
    response = author_client.post(reverse("admin:chapters_lorebook_change", args=[moving.pk]), form)
    assert response.status_code == 200
    assert_names_the_cap(response.content.decode(), ["2 lorebooks", "the limit is 1 books per story"])
    with acting_as(alice):
        assert Lorebook.objects.get(pk=moving.pk).story_id == other.pk
        assert LoreEntry.objects.get(lorebook=moving).story_id == other.pk


# Forks and syncs -------------------------------------------------------------------------------

def post(api, url, body=None):
    return api.post(url, body or {}, content_type="application/json")


@pytest.fixture
def published(api_as, alice):
    """Alice's published story with one book of three entries, one with a regex key."""
    story = story_with_turns(alice, 1)
    book = {"entries": {str(uid): {"uid": uid, "key": [key], "comment": key, "content": f"The {key}."}
                        for uid, key in enumerate(["lighthouse", "harbour", "/albatross(es)?/i"])}}
    lore_files.import_file(user=alice, story=story, filename="tide.json", data=json.dumps(book).encode())
    listing = post(api_as(alice), f"/api/marketplace/stories/{story.pk}/publish/", {"licence": "CC-BY"}).json()["id"]
    return story, listing


def test_a_fork_whose_lore_is_over_a_cap_is_refused_and_makes_nothing(api_as, bob, published, settings):
    _, listing = published
    settings.LORE_MAX_ENTRIES_PER_BOOK = 2  # lowered after Alice published
    response = post(api_as(bob), f"/api/marketplace/stories/{listing}/fork/")
    assert response.status_code == 400, response.content
    assert_names_the_cap(response.json()["detail"], ["“tide” has 3 entries", "the limit is 2 entries per book"])
    with acting_as(bob):
        assert not Story.objects.filter(user=bob).exists() and not LoreEntry.objects.exists()


@pytest.mark.parametrize("setting, value, expected", [
    ("LORE_MAX_ENTRIES_PER_BOOK", 4, ["“tide” has 5 entries", "the limit is 4 entries per book"]),
    ("LORE_MAX_REGEX_KEYS_PER_BOOK", 2, ["“tide” has 3 different regex keys", "the limit is 2 regex keys per book"]),
    ("LORE_MAX_ENTRIES_PER_STORY", 4, ["5 lore entries", "the limit is 4 entries per story"]),
])
def test_a_sync_that_would_go_over_a_cap_is_refused_and_changes_nothing(api_as, alice, bob, published, settings,
                                                                        setting, value, expected):
    """Bob's fork adds an entry with a regex key; Alice's next version adds another: together over the cap."""
    story, listing = published
    alice_api, bob_api = api_as(alice), api_as(bob)
    forked = post(bob_api, f"/api/marketplace/stories/{listing}/fork/").json()
    with acting_as(bob):
        book = Lorebook.objects.get(story_id=forked["story_id"])
        lore.entry_save(LoreEntry(user_id=bob.pk, lorebook=book, story_id=forked["story_id"], position=3,
                                  keys=["/bells?/"], content="Bob's bell."))
    with acting_as(alice):
        book = Lorebook.objects.get(story=story)
        lore.entry_save(LoreEntry(user_id=alice.pk, lorebook=book, story=story, position=4, keys=["/gulls?/"],
                                  content="Alice's gulls."))
    assert post(alice_api, f"/api/marketplace/stories/{story.pk}/publish/",
                {"licence": "CC-BY", "changelog": "Gulls."}).status_code == 201
    with acting_as(bob):
        before = list(LoreEntry.objects.filter(story_id=forked["story_id"]).values_list("id", "keys", "content"))
    setattr(settings, setting, value)
    response = post(bob_api, f"/api/forks/{forked['fork_id']}/sync/")
    assert response.status_code == 400, response.content
    assert_names_the_cap(response.json()["detail"], expected)
    with acting_as(bob):
        assert list(LoreEntry.objects.filter(story_id=forked["story_id"]).values_list(
            "id", "keys", "content")) == before


# The turn's time budget -------------------------------------------------------------------------

def catastrophic_story(user, *, regex_entries: int = 200):
    """A story whose book holds ``regex_entries`` entries with a catastrophic regex key each (over the
    default cap, written straight to the tables as a book from before the caps would be), a plain-key
    entry and a constant one."""
    story = story_with_turns(user, 1)
    with acting_as(user):
        book = Lorebook.objects.create(user_id=user.pk, story=story, name="Hostile")
        rows = [LoreEntry(user_id=user.pk, lorebook=book, story=story, position=number, comment=f"trap {number}",
                          keys=[f"/{CATASTROPHIC}(?#{number})/"], content=f"Trap {number}.")
                for number in range(regex_entries)]
        rows += [LoreEntry(user_id=user.pk, lorebook=book, story=story, position=regex_entries, comment="Lighthouse",
                           keys=["lighthouse"], content="The lighthouse is dark."),
                 LoreEntry(user_id=user.pk, lorebook=book, story=story, position=regex_entries + 1, comment="Sea",
                           keys=[], constant=True, content="The sea is cold.")]
        LoreEntry.objects.bulk_create(rows)
    return story


def turn_lore(user, story, action=f"I climb the lighthouse and shout {RUN_OF_AS}"):
    with acting_as(user):
        return lore.lore_for_turn(story_id=story.pk, action=action, recent=[], seed="1")


@pytest.fixture
def frozen_clock(monkeypatch):
    """The budget's clock standing still, so only a regex search's own (real) timeout can use up the budget:
    the outcome does not depend on how fast the machine is."""
    monkeypatch.setattr(lore, "thread_time", lambda: 1_000.0)
    monkeypatch.setattr(activation, "thread_time", lambda: 1_000.0)


def test_200_catastrophic_regex_keys_are_cut_at_the_budget_and_reported(alice, settings, frozen_clock):
    settings.LORE_TURN_BUDGET_MS = 1  # less than one regex search may take (REGEX_TIMEOUT)
    story = catastrophic_story(alice)
    result = turn_lore(alice, story)
    assert sorted(hit.title for hit in result.fired) == ["Lighthouse", "Sea"]  # plain keys are checked first
    [skipped] = result.skipped
    assert (skipped.book, skipped.entries) == ("Hostile", 200)
    assert skipped.titles == [f"trap {number}" for number in range(lore.SKIPPED_TITLES)]


def test_with_no_time_left_only_constant_entries_fire_and_every_keyed_one_is_reported(alice, settings):
    settings.LORE_TURN_BUDGET_MS = 0
    story = catastrophic_story(alice)
    result = turn_lore(alice, story)
    assert [hit.title for hit in result.fired] == ["Sea"]
    assert [(skip.book, skip.entries) for skip in result.skipped] == [("Hostile", 201)]


def test_a_regex_key_over_its_own_timeout_counts_as_absent_and_is_reported(alice, settings, monkeypatch):
    monkeypatch.setattr(activation, "REGEX_TIMEOUT", 0.001)
    settings.LORE_TURN_BUDGET_MS = 3_600_000  # the budget never runs out here: each key stops at its own timeout
    story = catastrophic_story(alice, regex_entries=3)
    result = turn_lore(alice, story)
    assert sorted(hit.title for hit in result.fired) == ["Lighthouse", "Sea"]
    assert [(skip.book, skip.entries, skip.titles) for skip in result.skipped] == [
        ("Hostile", 3, ["trap 0", "trap 1", "trap 2"])]


def test_a_slow_book_leaves_the_other_books_their_share_of_the_budget(alice, settings, frozen_clock):
    settings.LORE_TURN_BUDGET_MS = 1
    story = catastrophic_story(alice, regex_entries=5)
    with acting_as(alice):
        lore.books_import(story_id=story.pk, user_id=alice.pk, books=[doc.Book(name="Kind", entries=[
            entry(["/light(house)?/"], comment="Light"), entry(["shout"], comment="Shout")])])
    result = turn_lore(alice, story)
    assert {(hit.book, hit.title) for hit in result.fired} == {("Hostile", "Lighthouse"), ("Hostile", "Sea"),
                                                               ("Kind", "Light"), ("Kind", "Shout")}
    assert [(skip.book, skip.entries) for skip in result.skipped] == [("Hostile", 5)]


def test_within_the_budget_the_same_entries_fire_as_without_one(alice, settings):
    story = story_with_turns(alice, 1)
    with acting_as(alice):
        lore.books_import(story_id=story.pk, user_id=alice.pk, books=[doc.Book(name="Tide", entries=[
            entry(["/light(house)?/i"], comment="Light"), entry(["harbour"], comment="Harbour"),
            entry(["gull"], comment="Gull")])])
    settings.LORE_TURN_BUDGET_MS = 3_600_000
    within = turn_lore(alice, story, "I walk from the Lighthouse to the harbour.")
    assert sorted(hit.title for hit in within.fired) == ["Harbour", "Light"] and within.skipped == []


def test_the_writers_room_shows_the_lore_the_turn_skipped(as_alice, alice, settings):
    settings.LORE_TURN_BUDGET_MS = 0
    story = catastrophic_story(alice)
    turn, _ = orchestrator.turn_submit(user=alice, story_id=story.pk, action=f"I shout {RUN_OF_AS}",
                                       idempotency_key="skipped")
    orchestrator.turn_generate(user=alice, turn=turn)
    with acting_as(alice):
        turn = Turn.objects.get(pk=turn.pk)
    assert turn.status == Turn.Status.COMPLETED
    assert turn.briefing["lore_skipped"] == [{"book": "Hostile", "entries": 201,
                                               "titles": ["trap 0", "trap 1", "trap 2", "trap 3", "trap 4"]}]
    assert [note["title"] for note in turn.briefing["lore"]] == ["Sea"]
    page = as_alice.get(reverse("turn-detail", args=[story.pk, turn.number])).content.decode()
    assert "Lore not checked this turn" in page and "201 entries of <strong>Hostile</strong>" in page


def test_the_agents_are_not_given_the_skipped_lore_report(alice, settings):
    from narrative_pipeline.contracts import LoreSkipped, StrategistBriefing

    briefing = StrategistBriefing(title="T", turn_number=2, action="Go.",
                                  lore_skipped=[LoreSkipped(book="Hostile", entries=3)])
    assert "lore_skipped" not in briefing.for_agents()
    assert briefing.model_dump()["lore_skipped"] == [{"book": "Hostile", "entries": 3, "titles": []}]


# Compiled once ----------------------------------------------------------------------------------

def test_regex_keys_are_compiled_once_per_version_of_their_book(alice, monkeypatch):
    story = story_with_turns(alice, 1)
    with acting_as(alice):
        [book] = lore.books_import(story_id=story.pk, user_id=alice.pk, books=[doc.Book(name="Tide", entries=[
            entry(["/light(house)?/i", "/gulls?/"], comment="Light"), entry(["/light(house)?/i"], comment="Again"),
            entry(["harbour"], comment="Harbour")])])
    compiled = []
    real_compile = regex.compile

    def counting(pattern, *args, **kwargs):
        compiled.append(pattern)
        return real_compile(pattern, *args, **kwargs)

    monkeypatch.setattr(activation.regex, "compile", counting)
    for _ in range(3):
        assert sorted(hit.title for hit in turn_lore(alice, story, "The lighthouse.").fired) == ["Again", "Light"]
    assert sorted(compiled) == ["gulls?", "light(house)?"]  # two different keys, once each, for three turns
    with acting_as(alice):
        row = LoreEntry.objects.get(lorebook=book, comment="Harbour")
        row.keys = ["/harbou?r/"]
        lore.entry_save(row)  # a new version of the book: its matcher is built again, once
    compiled.clear()
    for _ in range(3):
        turn_lore(alice, story, "The lighthouse.")
    assert sorted(compiled) == ["gulls?", "harbou?r", "light(house)?"]
