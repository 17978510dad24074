"""A player's lore: a story from a card on New story (preview, then create), the lore page (read, edit, disable,
import with duplicate books flagged), the key tester (fired, and cut by the budget), the cast's portraits kept
to their owner, and card macros filled wherever text reaches a player or a model."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.rls import acting_as
from chapters.lore.activation import BookMatcher, BookSettings, EntrySpec
from chapters.lore.macros import macros_filled
from chapters.models import Lorebook, LoreEntry
from narrative_pipeline import lore_files
from narrative_pipeline.agents.preprocessor import build_context
from narrative_pipeline.models import Character, Story, Turn

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent.parent / "data" / "lore"
CARD = DATA / "card_v2" / "sillytavern_seraphina_v2_with_book.png"
JSON_CARD = DATA / "card_v2" / "tavernkit_full_v2_card_fixture.json"


def card_file() -> SimpleUploadedFile:
    return SimpleUploadedFile(CARD.name, CARD.read_bytes(), content_type="image/png")


def new_story_from_card(client, user) -> Story:
    preview = client.post("/stories/new/", {"file": card_file()})
    assert preview.status_code == 200 and b"Start a story from" in preview.content
    assert b"Seraphina" in preview.content and b"Character Card V2" in preview.content
    token = preview.context["token"]
    response = client.post("/stories/new/", {"token": token})
    assert response.status_code == 302
    with acting_as(user):
        return Story.objects.get(pk=response.url.split("/")[2])


def test_the_macros_are_filled_as_sillytavern_writes_them():
    text = "{{char}} meets {{ User }}; <BOT> smiles at <USER>. {{random}} stays."
    assert macros_filled(text, user="Wren", char="Seraphina") == "Seraphina meets Wren; Seraphina smiles at Wren. " \
                                                                 "{{random}} stays."


def test_the_budget_cut_is_reported_not_silent():
    entries = [EntrySpec(id=1, keys=("forest",), content="x" * 400, order=200),
               EntrySpec(id=2, keys=("glade",), content="y" * 400, order=100)]
    result = BookMatcher(entries, BookSettings(token_budget=150)).activation(["I walk from the forest to the glade"])
    assert [hit.id for hit in result.fired] == [1]
    assert [hit.id for hit in result.cut] == [2] and result.cut[0].reason == 'key "glade"'


def test_a_story_from_a_card_on_new_story_shows_the_preview_then_the_cast_with_its_portrait(as_alice, alice):
    nothing = as_alice.post("/stories/new/", {"file": card_file()})  # the preview creates nothing
    with acting_as(alice):
        assert nothing.status_code == 200 and not Story.objects.exists()
    story = new_story_from_card(as_alice, alice)
    page = as_alice.get(f"/stories/{story.pk}/")
    with acting_as(alice):
        seraphina = Character.objects.get(story=story, name="Seraphina")
    portrait = f"/stories/{story.pk}/cast/{seraphina.pk}/portrait/"
    assert portrait.encode() in page.content and b"Portrait of Seraphina" in page.content
    image = as_alice.get(portrait)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image.content == CARD.read_bytes()


def test_a_bad_file_on_new_story_is_a_clear_error_and_creates_nothing(as_alice, alice):
    for name, data in [("card.png", b"\x89PNG\r\n\x1a\nnot really"), ("world.json", b"{\"entries\": 5}"),
                       ("notes.json", b"not json at all")]:
        response = as_alice.post("/stories/new/", {"file": SimpleUploadedFile(name, data)})
        assert response.status_code == 400
        assert response.context["form"].errors["file"], name
    with acting_as(alice):
        assert not Story.objects.exists()


def test_an_expired_upload_token_creates_nothing(as_alice, alice):
    response = as_alice.post("/stories/new/", {"token": "gone"}, follow=True)
    assert b"expired" in response.content
    with acting_as(alice):
        assert not Story.objects.exists()


def test_another_user_cannot_see_the_portrait_or_the_lore(as_alice, alice, client, bob):
    story = new_story_from_card(as_alice, alice)
    with acting_as(alice):
        seraphina = Character.objects.get(story=story, name="Seraphina")
        entry = LoreEntry.objects.filter(story=story).first()
    client.force_login(bob)
    assert client.get(f"/stories/{story.pk}/cast/{seraphina.pk}/portrait/").status_code == 404
    assert client.get(f"/stories/{story.pk}/lore/").status_code == 404
    assert client.post(f"/stories/{story.pk}/lore/entries/{entry.pk}/toggle/").status_code == 404
    with acting_as(bob):  # RLS: bob's own requests read nothing of alice's, whatever the query
        assert not Character.objects.filter(portrait_source__isnull=False).exists()


def test_the_lore_page_lists_edits_and_disables_entries(as_alice, alice):
    story = new_story_from_card(as_alice, alice)
    page = as_alice.get(f"/stories/{story.pk}/lore/")
    assert page.status_code == 200 and b"glade" in page.content and b"Key tester" in page.content
    with acting_as(alice):
        entry = LoreEntry.objects.get(story=story, keys__contains=["glade"])
    response = as_alice.post(f"/stories/{story.pk}/lore/entries/{entry.pk}/",
                             {"comment": "The glade", "keys": "glade, clearing", "content": "{{char}} keeps the glade.",
                              "enabled": "on"})
    assert response.status_code == 302
    with acting_as(alice):
        entry.refresh_from_db()
    assert entry.keys == ["glade", "clearing"] and entry.comment == "The glade" and entry.enabled
    assert "Seraphina keeps the glade." in as_alice.get(f"/stories/{story.pk}/lore/").content.decode()  # read filled
    as_alice.post(f"/stories/{story.pk}/lore/entries/{entry.pk}/toggle/")
    with acting_as(alice):
        entry.refresh_from_db()
    assert not entry.enabled
    tested = as_alice.get(f"/stories/{story.pk}/lore/", {"action": "I rest in the clearing"}).context["tested"]
    assert entry.pk not in [hit.entry_id for hit in tested.fired + tested.cut]  # off: never fires


def test_the_key_tester_says_what_fires_why_and_what_the_budget_cut(as_alice, alice):
    story = new_story_from_card(as_alice, alice)
    with acting_as(alice):
        Lorebook.objects.filter(story=story).update(token_budget=450)
    response = as_alice.get(f"/stories/{story.pk}/lore/", {"action": "I follow the forest path to the glade"})
    tested = response.context["tested"]
    assert 'key "forest"' in [hit.reason for hit in tested.fired]  # the most important first (order, then id)
    assert 'key "glade"; its book\'s token budget was spent' in [hit.reason for hit in tested.cut]
    assert "cut by the budget" in response.content.decode()


def test_the_tester_tells_the_truth_about_the_next_turn(as_alice, alice):
    story = new_story_from_card(as_alice, alice)
    with acting_as(alice):
        Lorebook.objects.filter(story=story).update(token_budget=450)
    action = "I follow the forest path to the glade"
    tested = as_alice.get(f"/stories/{story.pk}/lore/", {"action": action}).context["tested"]
    with acting_as(alice):
        context = build_context(story=story, action=action, turn_number=Turn.objects.filter(story=story).count() + 1)
    assert [note.title for note in context.lore] == [hit.title for hit in tested.fired]


def test_a_duplicate_book_is_flagged_and_the_player_chooses(as_alice, alice):
    story = new_story_from_card(as_alice, alice)
    world_info = as_alice.post(f"/stories/{story.pk}/lore/import/", {"file": card_file()})
    assert world_info.status_code == 200
    duplicates = world_info.context["preview"]["duplicates"]
    assert len(duplicates) == 1 and duplicates[0]["shared"] == 4
    assert b"would fire twice" in world_info.content and b"Merge" in world_info.content
    assert world_info.context["preview"]["duplicate_characters"] == [{"name": "Seraphina",
                                                                      "existing_name": "Seraphina"}]
    with acting_as(alice):
        book = Lorebook.objects.get(story=story)
    as_alice.post(f"/stories/{story.pk}/lore/import/", {"token": world_info.context["token"], "duplicates": "skip"})
    with acting_as(alice):
        assert Lorebook.objects.filter(story=story).count() == 1 and book.entries.count() == 4
        assert list(Character.objects.filter(story=story).values_list("name", flat=True)) == ["Seraphina"]

    again = as_alice.post(f"/stories/{story.pk}/lore/import/", {"file": card_file()})
    as_alice.post(f"/stories/{story.pk}/lore/import/", {"token": again.context["token"], "duplicates": "merge"})
    with acting_as(alice):
        assert Lorebook.objects.filter(story=story).count() == 1 and book.entries.count() == 4  # nothing new
        assert Character.objects.filter(story=story).count() == 1

    anyway = as_alice.post(f"/stories/{story.pk}/lore/import/", {"file": card_file()})
    as_alice.post(f"/stories/{story.pk}/lore/import/", {"token": anyway.context["token"], "duplicates": "import"})
    with acting_as(alice):
        assert Lorebook.objects.filter(story=story).count() == 2
        assert sorted(Character.objects.filter(story=story).values_list("name", flat=True)) == [
            "Seraphina", "Seraphina (2)"]


def test_a_json_card_imported_again_through_the_api_follows_the_choice(api_as, alice):
    story = lore_files.story_from_file(user=alice, data=JSON_CARD.read_bytes(), filename=JSON_CARD.name)
    with acting_as(alice):
        name = Character.objects.get(story=story).name
        Character.objects.filter(story=story).update(personality="Changed by the player.")
    api = api_as(alice)

    def again(choice):
        response = api.post(f"/api/stories/{story.pk}/lore/import/", {
            "file": SimpleUploadedFile(JSON_CARD.name, JSON_CARD.read_bytes()), "duplicates": choice})
        assert response.status_code == 201, response.content
        with acting_as(alice):
            return response.json(), list(Character.objects.filter(story=story).order_by("name")
                                         .values_list("name", "personality"))

    summary, characters = again("skip")
    assert summary["skipped_characters"] == [name] and characters == [(name, "Changed by the player.")]
    summary, characters = again("merge")
    assert summary["merged_characters"] == [name] and len(characters) == 1
    assert characters[0][1] != "Changed by the player."
    summary, characters = again("import")
    assert summary["renamed_characters"] == {name: f"{name} (2)"}
    assert [n for n, _ in characters] == [name, f"{name} (2)"]


def test_macros_are_filled_in_the_greeting_and_the_briefing(alice):
    story = StoryFactory(user=alice, title="Glade", characters=[{"name": "Wren", "is_player": True},
                                                                {"name": "Seraphina"}])
    with acting_as(alice):
        Character.objects.filter(story=story, name="Seraphina").update(description="{{char}} heals <USER>.")
        Story.objects.filter(pk=story.pk).update(premise="{{user}} wakes in {{char}}'s cottage.")
        story.refresh_from_db()
        book = Lorebook.objects.create(user_id=alice.pk, story=story, name="Places")
        LoreEntry.objects.create(user_id=alice.pk, story=story, lorebook=book, position=0, keys=["glade"],
                                 content="<BOT> guards the glade for {{user}}.")
        context = build_context(story=story, action="I enter the glade", turn_number=1)
    assert context.lore[0].content == "Seraphina guards the glade for Wren."
    assert next(c for c in context.characters if c.name == "Seraphina").description == "Seraphina heals Wren."
    assert context.premise == "Wren wakes in Seraphina's cottage."


def test_a_card_greeting_and_premise_read_with_names(alice):
    card = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": "Mira", "description": "", "personality": "", "scenario": "{{user}} meets <BOT> at the well.",
        "first_mes": "*{{char}} waves at {{user}}.*", "mes_example": ""}}
    story = lore_files.story_from_file(user=alice, data=json.dumps(card).encode(), filename="mira.json")
    with acting_as(alice):
        story.refresh_from_db()
        assert story.premise == "you meets Mira at the well."
        assert Turn.objects.get(story=story, number=1).prose == "*Mira waves at you.*"


def test_the_api_lists_patches_and_tests_entries(as_alice, alice, api_as, bob):
    story = new_story_from_card(as_alice, alice)
    api = api_as(alice)
    entries = api.get(f"/api/stories/{story.pk}/lore/entries/").json()
    glade = next(entry for entry in entries if "glade" in entry["keys"])
    patched = api.patch(f"/api/stories/{story.pk}/lore/entries/{glade['id']}/",
                        {"keys": ["glade", "clearing"], "content": "{{char}} waits here.", "enabled": True},
                        content_type="application/json")
    assert patched.status_code == 200 and patched.json()["shown"] == "Seraphina waits here."
    with acting_as(alice):
        Lorebook.objects.filter(story=story).update(token_budget=450)
    tested = api.post(f"/api/stories/{story.pk}/lore/test/", {"action": "the forest, then the clearing"},
                      content_type="application/json").json()
    assert any(hit["reason"] == 'key "forest"' for hit in tested["fired"])
    assert any(hit["reason"].startswith('key "clearing"') for hit in tested["cut"])
    refused = api.patch(f"/api/stories/{story.pk}/lore/entries/{glade['id']}/", {"content": "x\x00"}, content_type="application/json")
    assert refused.status_code == 400
    stranger = api_as(bob)
    assert stranger.get(f"/api/stories/{story.pk}/lore/entries/").status_code == 404
    assert stranger.patch(f"/api/stories/{story.pk}/lore/entries/{glade['id']}/", {"enabled": False},
                          content_type="application/json").status_code == 404


def test_a_world_info_file_starts_a_story_named_by_the_player(as_alice, alice):
    path = DATA / "st_worldinfo" / "chub_hogwarts_sillytavern_export.json"
    preview = as_alice.post("/stories/new/", {"title": "Year one", "file": SimpleUploadedFile(path.name,
                                                                                          path.read_bytes())})
    assert preview.status_code == 200 and "the new story “Year one” starts with it" in preview.content.decode()
    response = as_alice.post("/stories/new/", {"token": preview.context["token"]})
    with acting_as(alice):
        story = Story.objects.get(pk=response.url.split("/")[2])
        assert story.title == "Year one" and Lorebook.objects.filter(story=story).count() == 1


def test_a_turn_whose_entry_the_budget_cut_says_so_in_the_writers_room(as_alice, alice):
    story = new_story_from_card(as_alice, alice)
    with acting_as(alice):
        Lorebook.objects.filter(story=story).update(token_budget=450)
    as_alice.post(f"/stories/{story.pk}/play/", {"action": "I follow the forest path to the glade",
                                                  "idempotency_key": "glade-1"})
    with acting_as(alice):
        turn = Turn.objects.get(story=story, number=2)
    cut = turn.briefing["lore_cut"]
    assert any(entry["reason"] == 'key "glade"; its book\'s token budget was spent' for entry in cut)
    room = as_alice.get(f"/stories/{story.pk}/turns/2/").content.decode()
    assert "Matched, but cut by the budget" in room and "glade, safe haven, refuge" in room


def test_the_briefing_room_for_lore_cuts_visibly_too():
    from narrative_pipeline.selectors import briefing_lore_fits

    assert briefing_lore_fits(["x" * 1_600] * 4) == 3  # 4,800 characters: the fourth does not fit
    assert briefing_lore_fits(["short"] * 3) == 3
