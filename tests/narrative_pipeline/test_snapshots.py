"""Snapshots and copy-on-write stories in the narrative core: versions store only what changed,
a story based on a snapshot reads like a plain one, edits are overrides, and nothing of the
source changes."""

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

import marketplace
from accounts.rls import acting_as
from narrative_pipeline import orchestrator, selectors, snapshots
from narrative_pipeline.export import story_markdown
from narrative_pipeline.models import (
    SnapshotItem,
    SnapshotSeries,
    Story,
    StorySnapshot,
    StoryTurn,
    Turn,
    TurnOverride,
)

from ..conftest import as_app_role
from ..factories import story_with_turns

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(alice):
    return story_with_turns(alice, 30, title="The Tide Book")


@pytest.fixture
def v1(alice, source):
    return snapshots.snapshot_create(user=alice, story=source, changelog="First.", public=True)


def texts(user, story) -> list[tuple[int, str, str]]:
    with acting_as(user):
        return list(selectors.story_turns(story=story).values_list("number", "prose", "origin"))


def play(user, story, action, key):
    turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action=action, idempotency_key=key)
    return orchestrator.turn_generate(user=user, turn=turn)


def test_a_story_based_on_a_snapshot_copies_no_turns_and_reads_like_the_source(alice, bob, source, v1):
    fork = snapshots.story_from_snapshot(user=bob, snapshot=v1)
    with acting_as(bob):
        assert not Turn.objects.filter(story=fork).exists()
        assert Story.objects.get(pk=fork.pk).storage_mode == "reference"
        turn5 = selectors.turn_get(story=fork, number=5)
    assert turn5.prose.startswith("Passage 5:") and turn5.origin == "source"
    assert [row[:2] for row in texts(bob, fork)] == [row[:2] for row in texts(alice, source)]


def test_edits_are_overrides_new_turns_are_the_forks_and_the_source_is_untouched(alice, bob, source, v1):
    fork = snapshots.story_from_snapshot(user=bob, snapshot=v1)
    before = texts(alice, source)
    snapshots.turn_text_set(user=bob, story=fork, number=3, prose="Bob's third passage.")
    snapshots.turn_text_set(user=bob, story=fork, number=7, prose="Bob's seventh passage.")
    with acting_as(bob):
        assert TurnOverride.objects.filter(story=fork).count() == 2
        assert Story.objects.get(pk=fork.pk).storage_mode == "delta"
    for n in range(5):
        play(bob, fork, f"I sail on, day {n}.", f"day-{n}")
    rows = texts(bob, fork)
    assert [number for number, _, _ in rows] == list(range(1, 36))
    assert rows[2][1:] == ("Bob's third passage.", "override") and rows[6][2] == "override"
    assert {origin for number, _, origin in rows if number > 30} == {"own"}
    assert texts(alice, source) == before
    with acting_as(alice):
        assert not SnapshotItem.objects.filter(series=v1.series, version__gt=1).exists()
    with acting_as(bob):
        markdown = story_markdown(Story.objects.get(pk=fork.pk))
    assert "Bob's third passage." in markdown and "Passage 4:" in markdown


def test_the_preprocessor_reads_the_base_turns(alice, bob, source, v1):
    fork = snapshots.story_from_snapshot(user=bob, snapshot=v1)
    turn = play(bob, fork, "I look back at the harbour.", "a")
    with acting_as(bob):
        briefing = Turn.objects.get(pk=turn.pk).briefing
    assert turn.number == 31 and [t["number"] for t in briefing["recent_turns"]][-1] == 30


def test_more_than_sixty_percent_edited_becomes_a_full_copy(alice, bob):
    source = story_with_turns(alice, 5)
    snapshot = snapshots.snapshot_create(user=alice, story=source, public=True)
    fork = snapshots.story_from_snapshot(user=bob, snapshot=snapshot)
    for number in (1, 2, 3):
        snapshots.turn_text_set(user=bob, story=fork, number=number, prose=f"Mine {number}.")
    with acting_as(bob):
        assert Story.objects.get(pk=fork.pk).storage_mode == "delta"  # 60% is not more than 60%
    snapshots.turn_text_set(user=bob, story=fork, number=4, prose="Mine 4.")
    with acting_as(bob):
        fork = Story.objects.get(pk=fork.pk)
        assert fork.storage_mode == "full_copy" and fork.base_turn == 0 and fork.base_series_id == snapshot.series_id
        assert not TurnOverride.objects.filter(story=fork).exists()
        assert Turn.objects.filter(story=fork).count() == 5
    assert [row[1] for row in texts(bob, fork)] == ["Mine 1.", "Mine 2.", "Mine 3.", "Mine 4.",
                                                    texts(alice, source)[4][1]]


def test_branch_at_a_turn_and_undo_cannot_remove_a_base_turn(alice):
    story = story_with_turns(alice, 20)
    snapshot = snapshots.snapshot_create(user=alice, story=story)
    branch = snapshots.story_from_snapshot(user=alice, snapshot=snapshot, at_turn=10, title="What if")
    assert [row[0] for row in texts(alice, branch)] == list(range(1, 11))
    with pytest.raises(orchestrator.TurnRefused, match="comes from the story this one is based on"):
        orchestrator.turn_undo(user=alice, story_id=branch.pk)
    assert play(alice, branch, "Something else happens.", "x").number == 11
    with pytest.raises(ValidationError):
        snapshots.story_from_snapshot(user=alice, snapshot=snapshot, at_turn=21)


def test_versions_store_only_what_changed(alice, source, v1):
    for version in range(2, 6):
        with acting_as(alice):
            Turn.objects.filter(story=source, number=version).update(prose=f"Revised {version}.")
        snapshots.snapshot_create(user=alice, story=source, series=v1.series, changelog=f"v{version}")
    with acting_as(alice):
        counts = [SnapshotItem.objects.filter(series=v1.series, version=v).count() for v in range(1, 6)]
        assert counts == [30, 1, 1, 1, 1]
        v3 = snapshots.series_items(v1.series_id, 3, SnapshotItem.Kind.TURN)
    assert v3[("turn", "3")][1]["prose"] == "Revised 3." and v3[("turn", "4")][1]["prose"].startswith("Passage 4")


def test_a_fork_of_an_older_version_reads_that_version(alice, bob, source, v1):
    with acting_as(alice):
        Turn.objects.filter(story=source, number=2).update(prose="Version two.")
    snapshots.snapshot_create(user=alice, story=source, series=v1.series)
    fork = snapshots.story_from_snapshot(user=bob, snapshot=v1)
    assert texts(bob, fork)[1][1].startswith("Passage 2:")


def test_rls_private_series_are_invisible_and_hidden_ones_stay_readable_to_forks(alice, bob):
    from ..factories import UserFactory

    private = snapshots.snapshot_create(user=alice, story=story_with_turns(alice, 3))
    public = snapshots.snapshot_create(user=alice, story=story_with_turns(alice, 3), public=True)
    fork = snapshots.story_from_snapshot(user=bob, snapshot=public)
    with acting_as(alice, moderator=True):  # hidden by a moderator (an author may not hide or restore)
        SnapshotSeries.objects.filter(pk=public.series_id).update(is_hidden=True)
    carol = UserFactory()
    with connection.cursor() as cursor, transaction.atomic():
        as_app_role(cursor, carol.pk)
        cursor.execute("SELECT count(*) FROM narrative_pipeline_snapshotitem")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM narrative_pipeline_storyturn")
        assert cursor.fetchone()[0] == 0
    with connection.cursor() as cursor, transaction.atomic():
        as_app_role(cursor, bob.pk)
        cursor.execute("SELECT DISTINCT series_id FROM narrative_pipeline_snapshotitem")
        assert [row[0] for row in cursor.fetchall()] == [public.series_id]  # hidden, but Bob's fork reads it
        cursor.execute("SELECT count(*) FROM narrative_pipeline_storyturn WHERE story_id = %s", [fork.pk])
        assert cursor.fetchone()[0] == 3
        cursor.execute("UPDATE narrative_pipeline_snapshotitem SET payload = '{}'")
        assert cursor.rowcount == 0
        cursor.execute("UPDATE narrative_pipeline_snapshotseries SET is_hidden = false")
        assert cursor.rowcount == 0
    with pytest.raises(StorySnapshot.DoesNotExist):  # RLS: Carol cannot read it, so it is not there
        snapshots.story_from_snapshot(user=carol, snapshot=private)
    with acting_as(bob):
        assert StoryTurn.objects.filter(story_id=fork.pk).count() == 3


# The writes a source sync makes are the core's services, usable without the marketplace.

def test_story_rebase_moves_only_a_story_based_on_that_series(alice, bob, source, v1):
    fork = snapshots.story_from_snapshot(user=bob, snapshot=v1)
    with acting_as(alice), transaction.atomic():
        source.title = "The Tide Book, revised"
        source.save(update_fields=["title"])
        turn = Turn.objects.get(story=source, number=3)
        turn.prose = "Passage 3, revised."
        turn.save(update_fields=["prose"])
    v2 = snapshots.snapshot_create(user=alice, story=source, series=v1.series)
    with acting_as(bob), transaction.atomic():
        snapshots.story_rebase(story=fork, series_id=v2.series_id, version=v2.version)
        assert Story.objects.get(pk=fork.pk).base_version == 2
        assert selectors.turn_get(story=fork, number=3).prose == "Passage 3, revised."
    plain = story_with_turns(bob, 2)
    with acting_as(bob), transaction.atomic():
        snapshots.story_rebase(story=plain, series_id=v2.series_id, version=v2.version)
        assert Story.objects.get(pk=plain.pk).base_version is None


def test_turn_overrides_are_set_and_restored_by_the_core(bob, v1):
    fork = snapshots.story_from_snapshot(user=bob, snapshot=v1)
    with acting_as(bob), transaction.atomic():
        snapshots.turn_override_set(story=fork, number=4, action="Look.", prose="The fork's fourth.")
        snapshots.turn_override_set(story=fork, number=5, action="Wait.", prose="The fork's fifth.")
        assert selectors.turn_get(story=fork, number=4).origin == "override"
        snapshots.turn_overrides_restore(story=fork, overrides={
            4: None, 5: {"action": "Wait.", "prose": "The fifth, as it was.", "alternatives": []}, 6: None})
        assert selectors.turn_get(story=fork, number=4).origin == "source"
        assert selectors.turn_get(story=fork, number=5).prose == "The fifth, as it was."
        assert not TurnOverride.objects.filter(story=fork, number=6).exists()  # none was made


def test_turns_rewrite_returns_what_it_replaced_and_counts_the_bytes(bob):
    story = story_with_turns(bob, 3)
    with acting_as(bob), transaction.atomic():
        used = Story.objects.get(pk=story.pk).storage_bytes
        old = Turn.objects.get(story=story, number=2).prose
        before = snapshots.turns_rewrite(user=bob, story=story, texts={2: "Much longer new text. " * 10})
        assert before == {"2": {"prose": old, "alternatives": []}}
        assert Story.objects.get(pk=story.pk).storage_bytes > used
        snapshots.turns_rewrite(user=bob, story=story, texts={2: old}, alternatives={2: [{"prose": "kept"}]})
        turn = Turn.objects.get(story=story, number=2)
    assert (turn.prose, turn.alternatives) == (old, [{"prose": "kept"}])


def test_turn_alternative_add_keeps_each_text_once(bob, v1):
    fork = snapshots.story_from_snapshot(user=bob, snapshot=v1)
    with acting_as(bob), transaction.atomic():
        snapshots.turn_override_set(story=fork, number=2, action="Go.", prose="Mine.")
        snapshots.turn_alternative_add(user=bob, story=fork, number=2, prose="Mine.", alternatives=["Theirs."])
        snapshots.turn_alternative_add(user=bob, story=fork, number=2, prose="Theirs.", alternatives=["Theirs."])
        override = TurnOverride.objects.get(story=fork, number=2)
        with pytest.raises(TurnOverride.DoesNotExist):  # a turn read from the source has no text of the fork's
            snapshots.turn_alternative_add(user=bob, story=fork, number=3, prose="x", alternatives=[])
    assert override.prose == "Theirs." and [alt["prose"] for alt in override.alternatives] == ["Theirs."]


def test_the_marketplace_writes_no_copy_on_write_storage_itself():
    """DESIGN §5: turns, overrides and a story's base are written by the core's services only."""
    for path in Path(marketplace.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module == "narrative_pipeline.models" for alias in node.names}
        assert not names & {"Turn", "TurnOverride"}, path.name
        assigned = [target.attr for node in ast.walk(tree) if isinstance(node, ast.Assign)
                    for target in node.targets if isinstance(target, ast.Attribute)]
        assert "base_version" not in assigned, path.name
