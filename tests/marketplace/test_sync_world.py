"""Source sync of a fork's world (chapters, lore entries, cast), of a full copy, in the worker, and
when the source is hidden or its author gone: through the API, against PostgreSQL with RLS."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.rls import acting_as
from accounts.services import user_become_moderator
from chapters import services as chapter_services
from chapters.lore import services as chapter_lore
from chapters.models import ChapterSuggestion, LoreEntry, StoryChapter
from marketplace.models import SyncRun
from narrative_pipeline import lore_files, snapshots
from narrative_pipeline.models import SnapshotSeries, Story, Turn

from ..factories import UserFactory, story_with_turns, world_story

pytestmark = pytest.mark.django_db

def post(api, url, body=None):
    return api.post(url, body or {}, content_type="application/json")


def entry(user, story, position):
    with acting_as(user):
        return LoreEntry.objects.get(story=story, position=position)


def chapter(user, story, number):
    with acting_as(user):
        return StoryChapter.objects.get(story=story, number=number)


def world(user, story_id):
    with acting_as(user):
        return {item: payload for item, (_, payload) in snapshots.world_items(Story.objects.get(pk=story_id)).items()}


@pytest.fixture
def published(api_as, alice):
    story = world_story(alice)
    listing = post(api_as(alice), f"/api/marketplace/stories/{story.pk}/publish/", {"licence": "CC-BY"}).json()["id"]
    return story, listing


def republish(api, story, changelog="v2"):
    assert post(api, f"/api/marketplace/stories/{story.pk}/publish/",
                {"licence": "CC-BY", "changelog": changelog}).status_code == 201


def forked_story(alice_api, bob_api, story) -> dict:
    """Alice publishes ``story``; Bob forks it: {"fork_id", "story_id", …}."""
    listing = post(alice_api, f"/api/marketplace/stories/{story.pk}/publish/", {"licence": "CC-BY"}).json()["id"]
    return post(bob_api, f"/api/marketplace/stories/{listing}/fork/").json()


def rewritten(alice, alice_api, story, numbers, prose="Rewritten."):
    """Alice rewrites turns ``numbers`` and publishes the next version."""
    with acting_as(alice):
        Turn.objects.filter(story=story, number__in=numbers).update(prose=prose)
    republish(alice_api, story)


def test_a_fork_s_world_reads_as_the_version_it_forked(api_as, alice, bob, published):
    story, listing = published
    forked = post(api_as(bob), f"/api/marketplace/stories/{listing}/fork/").json()
    with acting_as(alice):
        series = SnapshotSeries.objects.get(source_story=story)
    items = snapshots.series_items(series.pk, 1, kinds=snapshots.WORLD_KINDS)
    assert world(bob, forked["story_id"]) == {item: payload for item, (_, payload) in items.items()}


@pytest.fixture
def world_life(api_as, alice, bob, published):
    """B forks and changes chapter 2 and lore entry 1; A then changes chapters 1 and 2, entries 0
    and 1, and adds a chapter and an entry."""
    story, listing = published
    alice_api, bob_api = api_as(alice), api_as(bob)
    forked = post(bob_api, f"/api/marketplace/stories/{listing}/fork/").json()
    with acting_as(bob):
        fork_story = Story.objects.get(pk=forked["story_id"])
        chapter_services.chapter_update(chapter=chapter(bob, fork_story, 2), summary="Bob's log.")
        bobs = entry(bob, fork_story, 1)
        bobs.content = "Bob's harbour."
        chapter_lore.entry_save(bobs)
    with acting_as(alice):
        chapter_services.chapter_update(chapter=chapter(alice, story, 1), summary="Wren arrives at dusk.")
        chapter_services.chapter_update(chapter=chapter(alice, story, 2), summary="The author's log.")
        chapter_services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=[
            {"number": 3, "title": "The Cove", "required_previous_chapters": [2]}])
        for position, content in ((0, "The lamp is lit again."), (1, "The author's harbour.")):
            row = entry(alice, story, position)
            row.content = content
            chapter_lore.entry_save(row)
        book = row.lorebook
        LoreEntry.objects.create(user_id=alice.pk, lorebook=book, story=story, position=3, keys=["bell"],
                                 content="A bell under the sea.")
    republish(alice_api, story)
    return bob_api, forked["story_id"], forked["fork_id"]


@pytest.mark.parametrize("choice", ["source", "mine", "both"])
def test_chapters_and_lore_entries_sync_per_item(world_life, bob, choice):
    bob_api, story_id, fork_id = world_life
    with acting_as(bob):
        fork_story = Story.objects.get(pk=story_id)
    synced = post(bob_api, f"/api/forks/{fork_id}/sync/").json()
    # Applied: chapter 1, chapter 3 (added), entry 0, entry 3 (added); kept: none of B's; conflicts: chapter 2, entry 1.
    assert (synced["applied"], synced["conflicts"]) == (4, 2)
    assert chapter(bob, fork_story, 1).summary == "Wren arrives at dusk."
    assert chapter(bob, fork_story, 3).required_previous_chapters == [2]
    assert entry(bob, fork_story, 0).content == "The lamp is lit again."
    assert entry(bob, fork_story, 3).keys == ["bell"]
    conflicts = bob_api.get(f"/api/forks/{fork_id}/conflicts/").json()["results"]
    assert [(c["kind"], c["key"], c["turn_number"]) for c in conflicts] == [("chapter", "2", None),
                                                                             ("loreentry", "tide/1", None)]
    assert "The author's log." in conflicts[0]["source_text"] and "Bob's log." in conflicts[0]["fork_text"]
    for conflict in conflicts:
        assert post(bob_api, f"/api/forks/{fork_id}/conflicts/{conflict['id']}/resolve/",
                    {"choice": choice}).status_code == 200
    ours = {"source": ("The author's log.", "The author's harbour."), "mine": ("Bob's log.", "Bob's harbour."),
            "both": ("Bob's log.", "Bob's harbour.")}[choice]
    assert (chapter(bob, fork_story, 2).summary, entry(bob, fork_story, 1).content) == ours
    with acting_as(bob):
        suggestions = list(ChapterSuggestion.objects.filter(story=fork_story).values_list("summary", flat=True))
        copies = list(LoreEntry.objects.filter(story=fork_story, enabled=False).values_list("content", flat=True))
    if choice == "both":  # the source's side beside the fork's: a suggestion, a switched-off entry
        assert suggestions == ["The author's log."] and copies == ["The author's harbour."]
    else:
        assert suggestions == [] and copies == []
    resolved = bob_api.get(f"/api/forks/{fork_id}/conflicts/?state=resolved").json()["results"]
    assert {c["choice"] for c in resolved} == {choice}  # the losing side stays readable on the conflict
    assert all("Bob's" in c["fork_text"] and "author's" in c["source_text"] for c in resolved)


def test_undo_puts_the_world_back(world_life, bob):
    bob_api, story_id, fork_id = world_life
    before = world(bob, story_id)
    post(bob_api, f"/api/forks/{fork_id}/sync/")
    assert world(bob, story_id) != before
    assert post(bob_api, f"/api/forks/{fork_id}/sync/undo/").status_code == 200
    assert world(bob, story_id) == before


def test_a_book_the_author_removes_moves_no_other_book_and_stays_in_the_fork(api_as, alice, bob):
    alice_api, bob_api = api_as(alice), api_as(bob)
    story = world_story(alice, turns=1)
    lore_files.import_file(user=alice, story=story, filename="harbour.json", data=json.dumps(
        {"entries": {"0": {"uid": 0, "key": ["quay"], "content": "The quay floods."}}}).encode())
    forked = forked_story(alice_api, bob_api, story)
    before = world(bob, forked["story_id"])
    with acting_as(alice):
        story.lorebooks.get(name="tide").delete()
        quay = LoreEntry.objects.get(story=story, keys=["quay"])
        quay.content = "The quay floods at the spring tide."
        chapter_lore.entry_save(quay)
    republish(alice_api, story)
    synced = post(bob_api, f"/api/forks/{forked['fork_id']}/sync/").json()
    assert (synced["applied"], synced["kept"], synced["conflicts"]) == (1, 4, 0)  # kept: the book and its 3 entries
    after = world(bob, forked["story_id"])
    assert after[("loreentry", "harbour/0")]["content"] == "The quay floods at the spring tide."
    assert {item: payload for item, payload in after.items() if item != ("loreentry", "harbour/0")} == {
        item: payload for item, payload in before.items() if item != ("loreentry", "harbour/0")}


def test_a_full_copy_fork_syncs_its_own_turns(api_as, alice, bob):
    alice_api, bob_api = api_as(alice), api_as(bob)
    story = story_with_turns(alice, 5, title="Five")
    forked = forked_story(alice_api, bob_api, story)
    for number in (1, 2, 3, 4):  # past 60% edited: the fork copies its turns into its own rows
        bob_api.patch(f"/api/stories/{forked['story_id']}/turns/{number}/", {"prose": f"Bob's {number}."},
                      content_type="application/json")
    with acting_as(bob):
        assert Story.objects.get(pk=forked["story_id"]).storage_mode == "full_copy"
    rewritten(alice, alice_api, story, [4, 5], "The author's.")
    synced = post(bob_api, f"/api/forks/{forked['fork_id']}/sync/").json()
    assert (synced["applied"], synced["conflicts"]) == (1, 1)
    turns = bob_api.get(f"/api/stories/{forked['story_id']}/turns/").json()["results"]
    assert [turn["prose"] for turn in turns][3:] == ["Bob's 4.", "The author's."]
    (conflict,) = bob_api.get(f"/api/forks/{forked['fork_id']}/conflicts/").json()["results"]
    post(bob_api, f"/api/forks/{forked['fork_id']}/conflicts/{conflict['id']}/resolve/", {"choice": "source"})
    turn = bob_api.get(f"/api/stories/{forked['story_id']}/turns/4/").json()
    assert turn["prose"] == "The author's." and [alt["prose"] for alt in turn["alternatives"]] == ["Bob's 4."]


def test_a_hidden_source_or_a_deleted_author_still_syncs(api_as, alice, bob, published, django_user_model):
    story, listing = published
    alice_api, bob_api = api_as(alice), api_as(bob)
    forked = post(bob_api, f"/api/marketplace/stories/{listing}/fork/").json()
    rewritten(alice, alice_api, story, [1], "A better first.")
    moderator = UserFactory()
    user_become_moderator(user=moderator)
    with acting_as(moderator, moderator=True):
        assert SnapshotSeries.objects.filter(source_story=story).update(is_hidden=True) == 1
    alice.delete()
    assert not django_user_model.objects.filter(pk=alice.pk).exists()
    synced = post(bob_api, f"/api/forks/{forked['fork_id']}/sync/")
    assert synced.status_code == 200 and synced.json()["applied"] == 1
    assert bob_api.get(f"/api/stories/{forked['story_id']}/turns/1/").json()["prose"] == "A better first."


@pytest.mark.django_db(transaction=True)
def test_a_large_sync_runs_in_the_worker_with_its_progress(api_as, alice, bob, settings, celery_worker):
    from ..conftest import wait_for_idle_worker

    settings.SYNC_BACKGROUND_ITEMS = 2
    alice_api, bob_api = api_as(alice), api_as(bob)
    story = story_with_turns(alice, 6, title="Six")
    forked = forked_story(alice_api, bob_api, story)
    rewritten(alice, alice_api, story, [1, 2, 3, 4])
    queued = post(bob_api, f"/api/forks/{forked['fork_id']}/sync/")
    assert queued.status_code == 202 and queued.json()["status"] in ("queued", "done")
    wait_for_idle_worker()
    last = bob_api.get(f"/api/forks/{forked['fork_id']}/sync/").json()["last_sync"]
    assert (last["status"], last["applied"]) == ("done", 4)
    assert bob_api.get(f"/api/stories/{forked['story_id']}/turns/4/").json()["prose"] == "Rewritten."


def test_a_second_sync_while_one_is_queued_is_refused(api_as, alice, bob, settings, django_capture_on_commit_callbacks):
    settings.SYNC_BACKGROUND_ITEMS = 0
    alice_api, bob_api = api_as(alice), api_as(bob)
    story = story_with_turns(alice, 3, title="Three")
    forked = forked_story(alice_api, bob_api, story)
    rewritten(alice, alice_api, story, [1])
    with django_capture_on_commit_callbacks(execute=False) as queued_tasks:
        assert post(bob_api, f"/api/forks/{forked['fork_id']}/sync/").status_code == 202
    assert len(queued_tasks) == 1
    again = post(bob_api, f"/api/forks/{forked['fork_id']}/sync/")
    assert again.status_code == 409 and "background" in again.json()["detail"]
    assert post(bob_api, f"/api/forks/{forked['fork_id']}/sync/undo/").status_code == 409
    progress = bob_api.get(f"/api/forks/{forked['fork_id']}/sync/").json()["last_sync"]
    assert progress["status"] == "queued" and progress["progress"]["total"] == 1


def test_a_queued_sync_the_worker_never_ran_stops_blocking_the_fork(api_as, alice, bob, settings):
    from datetime import timedelta

    from django.utils import timezone

    alice_api, bob_api = api_as(alice), api_as(bob)
    story = story_with_turns(alice, 2, title="Two")
    forked = forked_story(alice_api, bob_api, story)
    rewritten(alice, alice_api, story, [1])
    long_ago = timezone.now() - timedelta(seconds=3 * settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])
    with acting_as(bob):
        lost = SyncRun.objects.create(user_id=bob.pk, fork_id=forked["fork_id"], from_version=1, to_version=2,
                                      status=SyncRun.Status.QUEUED)
        SyncRun.objects.filter(pk=lost.pk).update(created_at=long_ago)
    synced = post(bob_api, f"/api/forks/{forked['fork_id']}/sync/")
    assert synced.status_code == 200 and synced.json()["applied"] == 1
    with acting_as(bob):
        lost.refresh_from_db()
    assert lost.status == "failed" and "never ran" in lost.error


def test_a_failed_background_sync_changes_nothing_and_says_why(alice, bob, api_as):
    from marketplace.sync import fork_sync_run

    alice_api, bob_api = api_as(alice), api_as(bob)
    forked = forked_story(alice_api, bob_api, story_with_turns(alice, 2, title="Two"))
    with acting_as(bob):
        run = SyncRun.objects.create(user_id=bob.pk, fork_id=forked["fork_id"], from_version=1, to_version=9,
                                     status=SyncRun.Status.QUEUED)  # a version that does not exist
    fork_sync_run(user_id=bob.pk, run_id=run.pk)
    last = bob_api.get(f"/api/forks/{forked['fork_id']}/sync/").json()["last_sync"]
    assert last["status"] == "failed" and last["error"]
    assert bob_api.get(f"/api/stories/{forked['story_id']}/turns/1/").json()["prose"].startswith("Passage 1:")


words = st.sampled_from(["the tide", "a bell", "the lamp", "salt"])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source_edits=st.dictionaries(st.integers(1, 4), words, max_size=4),
       fork_edits=st.dictionaries(st.integers(1, 4), words, max_size=4))
def test_sync_then_undo_restores_the_fork_and_no_text_disappears(api_as, source_edits, fork_edits):
    alice, bob = UserFactory(), UserFactory()
    alice_api, bob_api = api_as(alice), api_as(bob)
    story = world_story(alice, turns=4)
    forked = forked_story(alice_api, bob_api, story)
    with acting_as(bob):
        fork_story = Story.objects.get(pk=forked["story_id"])
    for number, text in fork_edits.items():
        bob_api.patch(f"/api/stories/{fork_story.pk}/turns/{number}/", {"prose": f"Bob: {text}."},
                      content_type="application/json")
        with acting_as(bob):
            row = LoreEntry.objects.get(story=fork_story, position=number % 3)
            row.content = f"Bob: {text}."
            chapter_lore.entry_save(row)
    for number, text in source_edits.items():
        with acting_as(alice):
            Turn.objects.filter(story=story, number=number).update(prose=f"Alice: {text}.")
            row = LoreEntry.objects.get(story=story, position=number % 3)
            row.content = f"Alice: {text}."
            chapter_lore.entry_save(row)
    republish(alice_api, story)

    def texts():
        turns = bob_api.get(f"/api/stories/{fork_story.pk}/turns/").json()["results"]
        return [turn["prose"] for turn in turns], world(bob, fork_story.pk)

    before = texts()
    post(bob_api, f"/api/forks/{forked['fork_id']}/sync/")
    after_turns, after_world = texts()
    conflicts = bob_api.get(f"/api/forks/{forked['fork_id']}/conflicts/").json()["results"]
    kept_aside = {c["fork_text"] for c in conflicts}
    for text in before[0]:  # every passage the fork read is still read, or waits in a conflict
        assert text in after_turns or text.startswith("Passage") or text in kept_aside
    post(bob_api, f"/api/forks/{forked['fork_id']}/sync/undo/")
    assert texts() == before
