"""*Sync now* first shows what it would change, item by item (``sync_plan.sync_preview``, a dry run of the same
merge), and a sync records its named results (``SyncRun.items``) for the page to show later, in the worker too;
resolving the first conflict of the sync that undo would put back asks to confirm; "up to date" only with nothing
open. Against PostgreSQL with RLS: another user can neither preview a fork nor read its results."""

import re

import pytest
from django.apps import apps
from django.urls import reverse

from accounts.rls import acting_as, acting_for_upkeep
from chapters import services as chapter_services
from chapters.lore import services as chapter_lore
from chapters.models import LoreEntry, StoryChapter
from marketplace import sync, sync_plan
from marketplace.models import SyncConflict, SyncRun
from narrative_pipeline import snapshots
from narrative_pipeline.models import Story

from ..factories import UserFactory, world_story
from .test_sync_pages import BOBS_SEVENTH, make_life, messages_of, page_of

pytestmark = pytest.mark.django_db


def post(api, url, body=None):
    return api.post(url, body or {}, content_type="application/json")


def rows_everywhere() -> dict[str, int]:
    """How many rows every table of the app's own holds, every user's (the upkeep role reads past RLS)."""
    ours = ("accounts", "chapters", "narrative_pipeline", "marketplace")
    with acting_for_upkeep("test: rows before and after a preview"):
        return {model._meta.label: model.objects.count() for model in apps.get_models()
                if model._meta.managed and model._meta.app_label in ours}


def world_of(user, story_id) -> dict:
    with acting_as(user):
        return {item: payload for item, (_, payload) in snapshots.world_items(Story.objects.get(pk=story_id)).items()}


@pytest.fixture
def world_life(api_as, alice, bob):
    """A publishes a world; B forks and changes chapter 2 and lore entry 1; A changes chapters 1 and 2 and entries
    0 and 1, adds chapter 3 "The Cove" and an entry "bell", removes entry 2 and publishes version 2."""
    story = world_story(alice)
    alice_api, bob_api = api_as(alice), api_as(bob)
    listing = post(alice_api, f"/api/marketplace/stories/{story.pk}/publish/", {"licence": "CC-BY"}).json()["id"]
    forked = post(bob_api, f"/api/marketplace/stories/{listing}/fork/").json()
    with acting_as(bob):
        fork_story = Story.objects.get(pk=forked["story_id"])
        chapter_services.chapter_update(chapter=StoryChapter.objects.get(story=fork_story, number=2),
                                        summary="Bob's log.")
        bobs = LoreEntry.objects.get(story=fork_story, position=1)
        bobs.content = "Bob's harbour."
        chapter_lore.entry_save(bobs)
    with acting_as(alice):
        chapter_services.chapter_update(chapter=StoryChapter.objects.get(story=story, number=1),
                                        summary="Wren arrives at dusk.")
        chapter_services.chapter_update(chapter=StoryChapter.objects.get(story=story, number=2),
                                        summary="The author's log.")
        chapter_services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=[
            {"number": 3, "title": "The Cove", "required_previous_chapters": [2]}])
        for position, content in ((0, "The lamp is lit again."), (1, "The author's harbour.")):
            row = LoreEntry.objects.get(story=story, position=position)
            row.content = content
            chapter_lore.entry_save(row)
        LoreEntry.objects.create(user_id=alice.pk, lorebook=row.lorebook, story=story, position=3, keys=["bell"],
                                 comment="bell", content="A bell under the sea.")
        LoreEntry.objects.filter(story=story, position=2).delete()
    assert post(alice_api, f"/api/marketplace/stories/{story.pk}/publish/",
                {"licence": "CC-BY", "changelog": "v2"}).status_code == 201
    return bob_api, forked["story_id"], forked["fork_id"]


def changes(items) -> list[tuple[str, str]]:
    return sorted((item["change"], item["label"]) for item in items)


WORLD_PLAN = [
    ("add", "Chapter 3 ‘The Cove’"), ("add", "Lore entry ‘bell’"),
    ("conflict", "Chapter 2 ‘The Lighthouse’"), ("conflict", "Lore entry ‘harbour’"),
    ("removed", "Lore entry ‘albatross’"),
    ("update", "Chapter 1 ‘The Harbour’"), ("update", "Lore entry ‘lighthouse’"),
]


def test_the_preview_names_each_item_and_writes_nothing(world_life, bob):
    bob_api, story_id, fork_id = world_life
    rows, world = rows_everywhere(), world_of(bob, story_id)
    preview = bob_api.get(f"/api/forks/{fork_id}/sync/preview/")
    assert preview.status_code == 200
    assert (preview.json()["from_version"], preview.json()["to_version"]) == (1, 2)
    assert changes(preview.json()["items"]) == WORLD_PLAN
    assert rows_everywhere() == rows  # a dry run: not a row more or less anywhere (no SyncRun either)
    assert world_of(bob, story_id) == world


def test_what_the_preview_shows_is_what_the_sync_then_does_and_records(world_life, bob):
    bob_api, story_id, fork_id = world_life
    preview = bob_api.get(f"/api/forks/{fork_id}/sync/preview/").json()
    synced = post(bob_api, f"/api/forks/{fork_id}/sync/", {"to_version": preview["to_version"]}).json()
    assert synced["items"] == preview["items"]
    assert synced["applied"] == sum(item["change"] in ("update", "add") for item in preview["items"])
    assert synced["conflicts"] == sum(item["change"] == "conflict" for item in preview["items"])
    with acting_as(bob):
        assert SyncRun.objects.get(pk=synced["id"]).items == preview["items"]  # stored with the record
    assert bob_api.get(f"/api/forks/{fork_id}/sync/").json()["last_sync"]["items"] == preview["items"]
    # And now there is nothing left to preview.
    assert bob_api.get(f"/api/forks/{fork_id}/sync/preview/").json()["items"] == []


def test_applying_a_preview_the_source_has_moved_past_is_refused(world_life, alice, bob):
    bob_api, _, fork_id = world_life
    refused = post(bob_api, f"/api/forks/{fork_id}/sync/", {"to_version": 1})
    assert refused.status_code == 409
    assert "look at what the sync would change again" in refused.json()["detail"]
    with acting_as(bob):
        assert not SyncRun.objects.filter(fork_id=fork_id).exists()


def test_turns_in_the_preview_equal_the_sync(alice, bob):
    record = make_life(alice, bob)
    preview = sync_plan.sync_preview(user=bob, fork_id=record.pk)
    assert changes(preview["items"]) == [("conflict", "Turn 7"), ("update", "Turn 2")]
    assert preview["kept"] == 1  # Bob's third, the author left it alone
    run = sync.fork_sync(user=bob, fork_id=record.pk, to_version=preview["to_version"])
    assert run.items == preview["items"] and (run.applied, run.kept, run.conflict_count) == (1, 1, 1)


def test_a_background_sync_s_named_results_come_from_its_record(alice, bob, client, settings, monkeypatch):
    record = make_life(alice, bob)
    settings.SYNC_BACKGROUND_ITEMS = 0
    monkeypatch.setattr(sync, "queue_after_commit", lambda *args: None)  # the test plays the worker
    run = sync.fork_sync(user=bob, fork_id=record.pk)
    assert run.status == SyncRun.Status.QUEUED and run.items == []
    sync.fork_sync_run(user_id=bob.pk, run_id=run.pk)
    client.force_login(bob)
    page = page_of(client.get(reverse("marketplace-sync", args=[record.pk])))
    assert "Updated:</dt> <dd>Turn 2</dd>" in page
    assert "Conflicts:</dt> <dd>Turn 7</dd>" in page


def test_the_pages_preview_then_apply_then_name_the_results(alice, bob, client):
    record = make_life(alice, bob)
    client.force_login(bob)
    page = page_of(client.get(reverse("marketplace-sync", args=[record.pk])))
    assert f'action="{reverse("marketplace-sync-preview", args=[record.pk])}"' in page
    assert "Your fork is up to date" not in page
    preview = page_of(client.get(reverse("marketplace-sync-preview", args=[record.pk])))
    assert "<strong>Turn 2</strong>: will update" in preview
    assert "<strong>Turn 7</strong>: conflict: you and the author both changed it" in preview
    assert "Only you changed 1 other item: yours stays as you wrote it." in preview
    assert 'name="to_version" value="2"' in preview and ">Apply<" in preview and ">Cancel<" in preview
    with acting_as(bob):
        assert not SyncRun.objects.filter(fork=record).exists()
    applied = client.post(reverse("marketplace-sync", args=[record.pk]), {"to_version": "2"}, follow=True)
    assert "1 change applied automatically" in messages_of(applied)[0]
    page = page_of(applied)
    assert "Updated:</dt> <dd>Turn 2</dd>" in page and "Conflicts:</dt> <dd>Turn 7</dd>" in page


def test_open_conflicts_are_not_up_to_date(alice, bob, client):
    record = make_life(alice, bob)
    sync.fork_sync(user=bob, fork_id=record.pk)
    client.force_login(bob)
    page = page_of(client.get(reverse("marketplace-sync", args=[record.pk])))
    assert "1 conflict to resolve" in page
    assert "up to date" not in page


def test_the_choices_are_equals(alice, bob, client):
    record = make_life(alice, bob)
    sync.fork_sync(user=bob, fork_id=record.pk)
    client.force_login(bob)
    page = page_of(client.get(reverse("marketplace-sync", args=[record.pk])))
    for choice in ("mine", "source", "both"):
        assert f'name="choice" value="{choice}" class="secondary"' in page


def test_the_first_resolve_says_it_ends_undo_and_needs_a_confirmation(alice, bob, client):
    record = make_life(alice, bob)
    sync.fork_sync(user=bob, fork_id=record.pk)
    client.force_login(bob)
    page = page_of(client.get(reverse("marketplace-sync", args=[record.pk])))
    assert "Resolving this ends ‘Undo the last sync’ for this sync" in page
    assert 'name="ends_undo" value="yes" required' in page
    with acting_as(bob):
        conflict = SyncConflict.objects.get(fork=record)
    url = reverse("marketplace-sync-resolve", args=[record.pk, conflict.pk])
    unconfirmed = client.post(url, {"choice": "mine"}, follow=True)
    assert "tick the box to confirm" in messages_of(unconfirmed)[0]
    with acting_as(bob):
        conflict.refresh_from_db()
    assert conflict.choice == ""  # nothing resolved, and undo still there
    assert "Undo the last sync</button>" in page_of(unconfirmed)
    confirmed = client.post(url, {"choice": "mine", "ends_undo": "yes"}, follow=True)
    assert "Turn 7 keeps your text." in messages_of(confirmed)[0]
    assert "Your fork is up to date with its source." in page_of(confirmed)
    assert "cannot be undone as a whole" in page_of(confirmed)
    assert BOBS_SEVENTH not in messages_of(confirmed)[0]


def test_another_user_can_neither_preview_a_fork_nor_read_its_results(alice, bob, api_as, client):
    record = make_life(alice, bob)
    run = sync.fork_sync(user=bob, fork_id=record.pk)
    carol = UserFactory(username="carol")
    carol_api = api_as(carol)
    assert carol_api.get(f"/api/forks/{record.pk}/sync/preview/").status_code == 404
    assert carol_api.get(f"/api/forks/{record.pk}/sync/").status_code == 404
    assert post(carol_api, f"/api/forks/{record.pk}/sync/", {"to_version": 2}).status_code == 404
    with pytest.raises(Exception, match="does not exist"):
        sync_plan.sync_preview(user=carol, fork_id=record.pk)
    with acting_as(carol):
        assert not SyncRun.objects.filter(pk=run.pk).exists()
        assert SyncRun.objects.filter(items__contains=[{"label": "Turn 2"}]).count() == 0
    client.force_login(carol)
    assert client.get(reverse("marketplace-sync-preview", args=[record.pk])).status_code == 404
    assert client.get(reverse("marketplace-sync", args=[record.pk])).status_code == 404


def test_a_fork_up_to_date_previews_nothing_to_sync(alice, bob, client):
    record = make_life(alice, bob)
    sync.fork_sync(user=bob, fork_id=record.pk)
    assert sync_plan.sync_preview(user=bob, fork_id=record.pk)["items"] == []
    client.force_login(bob)
    page = page_of(client.get(reverse("marketplace-sync-preview", args=[record.pk])))
    assert "already on the source's latest version: nothing to sync" in page and ">Apply<" not in page


def test_a_conflict_is_named_on_the_sync_page_as_the_preview_named_it(world_life, bob, client):
    _, _, fork_id = world_life
    client.force_login(bob)
    preview = page_of(client.get(reverse("marketplace-sync-preview", args=[fork_id])))
    assert "<strong>Lore entry ‘harbour’</strong>: conflict" in preview
    assert "<strong>Chapter 2 ‘The Lighthouse’</strong>: conflict" in preview
    client.post(reverse("marketplace-sync", args=[fork_id]), {"to_version": "2"})
    page = page_of(client.get(reverse("marketplace-sync", args=[fork_id])))
    headings = re.findall(r'<h3 id="conflict-\d+-heading">([^<]*)</h3>', page)
    assert sorted(headings) == ["Chapter 2 ‘The Lighthouse’", "Lore entry ‘harbour’"]
