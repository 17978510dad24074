"""Source sync of a fork's turns (DESIGN §5): the merge rules of ``merge.py`` applied to a fork.

Upstream-only changes apply by moving the fork's base to the new version: every turn the fork
has not overridden then reads the new text. Turns the fork changed keep their override; a turn
both changed differently becomes a ``SyncConflict`` (the override stays until the player
resolves it). A turn the source removed is kept as an override of the text the fork read, so
no turn disappears and numbers never shift. Undo puts the base version and the overrides back.

Chapters, lore and cast, chapter and character assets, Celery for large syncs and the sync page
are still to come (the sync issue).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.utils import OperationalError
from django.utils import timezone

from accounts.rls import acting_as
from narrative_pipeline import selectors as story_selectors
from narrative_pipeline.models import (
    SnapshotItem,
    SnapshotSeries,
    StorageMode,
    Story,
    StorySnapshot,
    StoryTurn,
    TurnOverride,
)
from narrative_pipeline.snapshots import series_items

from . import merge
from .models import StoryFork, SyncConflict, SyncRun
from .services import Conflict


def _turn_texts(series_id, version: int, keys) -> dict[int, str]:
    items = series_items(series_id, version, SnapshotItem.Kind.TURN, keys=keys)
    return {number: payload["prose"] for (_, _), (number, payload) in items.items()}


def _override_state(story: Story, numbers) -> dict:
    return {row.number: {"action": row.action, "prose": row.prose, "alternatives": row.alternatives}
            for row in TurnOverride.objects.filter(story=story, number__in=list(numbers))}


def sync(*, user, fork_id) -> SyncRun:
    """Bring the fork up to its source's latest version. 409 (``Conflict``) while another sync of
    the same fork runs; a fork already up to date gets an empty run."""
    with acting_as(user), transaction.atomic():
        try:  # two syncs of one fork never run at once: the second is told so, not queued
            record = StoryFork.objects.select_for_update(nowait=True).select_related("story").get(pk=fork_id)
        except OperationalError as error:
            raise Conflict("This fork is being synced right now; try again in a moment.") from error
        story = Story.objects.select_for_update().get(pk=record.story_id)
        if story.storage_mode == StorageMode.FULL_COPY:
            raise Conflict("This fork holds its own copy of every turn; syncing a full copy is not supported yet.")
        series = SnapshotSeries.objects.get(pk=record.series_id)  # still readable: the fork is based on it
        latest = series.latest_version
        run = SyncRun(user_id=user.pk, fork=record, from_version=record.version, to_version=latest)
        if latest <= record.version:
            run.save()
            return run
        # Only the turns the versions in between changed: a sync costs its changes, not the story.
        changed = list(SnapshotItem.objects.filter(
            series=series, kind=SnapshotItem.Kind.TURN, version__gt=record.version, version__lte=latest,
            number__lte=story.base_turn).values_list("key", flat=True).distinct())
        base = _turn_texts(series.pk, record.version, changed)
        source = _turn_texts(series.pk, latest, changed)
        reads = dict(story_selectors.story_turns(story=story).filter(number__in=[int(k) for k in changed]).exclude(
            origin=StoryTurn.Origin.OWN).values_list("number", "prose"))
        plan = merge.three_way(base, source, reads)
        removed = [number for number in plan.kept if source.get(number) is None]
        before = _override_state(story, removed)
        run.previous_overrides = {str(number): before.get(number) for number in removed}
        for number in removed:  # the source removed it: the fork keeps the text it read, as its own
            TurnOverride.objects.update_or_create(user_id=story.user_id, story=story, number=number, defaults={
                "action": StoryTurn.objects.filter(story=story, number=number).values_list("action", flat=True)[0],
                "prose": reads[number]})
        # Kept: the fork's own changes upstream left alone, and turns upstream removed.
        untouched = TurnOverride.objects.filter(story=story).exclude(number__in=[int(k) for k in changed]).count()
        run.applied, run.kept, run.conflict_count = len(plan.applied), untouched + len(plan.kept), len(plan.conflicts)
        source_count = StorySnapshot.objects.get(series=series, version=latest).turn_count
        run.continued = max(0, source_count - story.base_turn)
        run.save()
        SyncConflict.objects.bulk_create([
            SyncConflict(user_id=user.pk, run=run, fork=record, turn_number=conflict.key,
                         base_text=conflict.base or "", source_text=conflict.source, fork_text=conflict.fork)
            for conflict in plan.conflicts])
        story.base_version = latest
        story.save(update_fields=["base_version", "updated_at"])
        record.version = latest
        record.save(update_fields=["version"])
    return run


def resolve(*, user, fork_id, conflict_id, choice: str) -> SyncConflict:
    if choice not in merge.CHOICES:
        raise ValidationError({"choice": [f"The choice is one of {', '.join(merge.CHOICES)}."]})
    with acting_as(user), transaction.atomic():
        conflict = SyncConflict.objects.select_for_update().select_related("fork").get(pk=conflict_id,
                                                                                      fork_id=fork_id)
        if conflict.choice:
            raise Conflict(f"The conflict on turn {conflict.turn_number} is already resolved ({conflict.choice}).")
        override = TurnOverride.objects.select_for_update().get(story_id=conflict.fork.story_id,
                                                                number=conflict.turn_number)
        resolved = merge.resolve(
            merge.Conflict(key=conflict.turn_number, base=conflict.base_text, source=conflict.source_text,
                           fork=conflict.fork_text),
            merge.ForkText(override.prose, tuple(alt["prose"] for alt in override.alternatives)), choice)
        kept = {alternative["prose"] for alternative in override.alternatives}
        override.prose = resolved.text
        override.alternatives = override.alternatives + [  # like a reroll's earlier versions
            {"prose": text, "created_at": timezone.now().isoformat()} for text in resolved.alternatives
            if text not in kept]
        override.save()
        conflict.choice, conflict.resolved_at = choice, timezone.now()
        conflict.save(update_fields=["choice", "resolved_at"])
    return conflict


def undo(*, user, fork_id) -> SyncRun:
    """Undo the fork's last sync: its base version and the overrides it wrote go back as they were."""
    with acting_as(user), transaction.atomic():
        record = StoryFork.objects.select_for_update().get(pk=fork_id)
        run = (SyncRun.objects.filter(fork=record, status=SyncRun.Status.DONE).exclude(from_version=F("to_version"))
               .order_by("-created_at").first())  # a sync that found nothing to do is nothing to undo
        if run is None:
            raise Conflict("There is no sync of this fork to undo.")
        if run.conflicts.exclude(choice="").exists():
            raise Conflict("Some of this sync's conflicts are resolved; their resolutions stay, so it cannot be "
                           "undone as a whole.")
        story = Story.objects.select_for_update().get(pk=record.story_id)
        for number, before in run.previous_overrides.items():  # what the run wrote goes back
            overrides = TurnOverride.objects.filter(story=story, number=int(number))
            if before is None:
                overrides.delete()
            else:
                overrides.update(**before)
        run.conflicts.all().delete()
        story.base_version = run.from_version
        story.save(update_fields=["base_version", "updated_at"])
        record.version = run.from_version
        record.save(update_fields=["version"])
        run.status = SyncRun.Status.UNDONE
        run.save(update_fields=["status"])
    return run

