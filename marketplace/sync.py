"""Source sync (DESIGN §5): the merge rules of ``merge.py`` applied to a fork's turns and world.

**Turns**, up to the fork point. Upstream-only changes apply by moving the fork's base to the new
version: every turn the fork has not overridden then reads the new text (a full copy, which owns
its turns, has them rewritten). Turns the fork changed keep their text; a turn both changed
differently becomes a ``SyncConflict``. A turn the source removed is kept as the fork's own, so no
turn disappears and numbers never shift.

**The world.** A fork's chapters, lore books and entries and cast are its own rows (copied when
it forked); each is compared with the item of the version last synced and of the new version,
and applied, kept or put in conflict the same way. A chapter set or a character taken into a
story from the marketplace syncs the same way, over its own items only.

Every run records what it changed, so undo puts the fork back. A sync whose versions in between
changed more than ``SYNC_BACKGROUND_ITEMS`` items is queued for the worker, with its progress in
the cache; two syncs of one fork never run at once (the second is refused, 409).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.utils import OperationalError
from django.utils import timezone

from accounts.rls import acting_as, acting_for_upkeep
from accounts.task_outbox import queue_after_commit
from chapters import services as chapter_services
from core.errors import CONFLICT, DomainError
from narrative_pipeline import selectors as story_selectors
from narrative_pipeline.models import (
    SnapshotItem,
    SnapshotSeries,
    Story,
    StorySnapshot,
)
from narrative_pipeline.snapshots import (
    entry_key,
    story_rebase,
    turn_alternative_add,
    turn_override_set,
    turn_overrides_restore,
    turns_rewrite,
    world_apply,
    world_items,
)

from . import merge, sync_plan
from .display import item_name
from .models import AssetKind, ForkRecord, SyncConflict, SyncRun
from .selectors import item_text, sync_run_undoable

Kind = SnapshotItem.Kind
logger = logging.getLogger("luna.sync")
PROGRESS_SECONDS = 3600


def progress(run: SyncRun) -> dict | None:
    """A queued sync's progress: ``{"done", "total", "phase"}`` (items merged of those changed)."""
    return cache.get(f"sync-progress:{run.pk}")


def _progress(run: SyncRun, done: int, total: int, phase: str) -> None:
    cache.set(f"sync-progress:{run.pk}", {"done": done, "total": total, "phase": phase}, PROGRESS_SECONDS)


def _locked_fork(fork_id) -> ForkRecord:
    try:  # two syncs of one fork never run at once: the second is told so, not queued
        return ForkRecord.objects.select_for_update(nowait=True).get(pk=fork_id)
    except OperationalError as error:
        raise DomainError(CONFLICT, "This fork is being synced right now; try again in a moment.") from error


def fork_sync(*, user, fork_id, to_version: int | None = None) -> SyncRun:
    """Bring the fork up to its source's latest version; a large sync is queued (status ``queued``).
    409 (``DomainError`` ``conflict``) while another sync of the same fork runs, or when ``to_version`` (the
    version a preview showed) is no longer the latest; a fork up to date gets an empty run."""
    with acting_as(user), transaction.atomic():
        record = _locked_fork(fork_id)
        _give_up_lost(record)
        if record.sync_runs.filter(status=SyncRun.Status.QUEUED).exists():
            raise DomainError(CONFLICT, "This fork is being synced in the background; wait for it to finish.")
        latest = SnapshotSeries.objects.get(pk=record.series_id).latest_version  # readable: the fork is based on it
        if to_version is not None and to_version != latest:
            raise DomainError(CONFLICT, f"The source is on version {latest} now, not the {to_version} the preview "
                                        "showed; look at what the sync would change again.")
        run = SyncRun(user_id=user.pk, fork=record, from_version=record.version, to_version=latest)
        if latest <= record.version:
            run.save()
            return run
        changed = sync_plan.changed_items(record, latest)
        if len(changed) > settings.SYNC_BACKGROUND_ITEMS:
            run.status = SyncRun.Status.QUEUED
            run.save()
            _progress(run, 0, len(changed), "queued")
            queue_after_commit(sync_fork, str(user.pk), run.pk)
            return run
        _merge(user=user, record=record, run=run, changed=changed)
    return run


LOST_SYNC_ERROR = "The worker never ran this sync; it was given up. Sync again."


def _lost_before():
    return timezone.now() - timedelta(seconds=2 * settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])


def _give_up_lost(record: ForkRecord) -> None:
    """A queued sync the worker has not run long after the broker would have redelivered it (its
    queue was lost) stops blocking the fork; if the worker gets it after all, it finds it failed."""
    record.sync_runs.filter(status=SyncRun.Status.QUEUED, created_at__lt=_lost_before()).update(
        status=SyncRun.Status.FAILED, error=LOST_SYNC_ERROR)


@shared_task
def syncs_lost_sweep() -> int:
    """Celery beat: every user's lost queued syncs given up (as ``_give_up_lost`` does for one fork when its
    owner syncs again), so the fork's page stops saying "syncing" and offers Sync again; how many."""
    with acting_for_upkeep("lost syncs"):
        lost = SyncRun.objects.filter(status=SyncRun.Status.QUEUED, created_at__lt=_lost_before())
        given_up = lost.update(status=SyncRun.Status.FAILED, error=LOST_SYNC_ERROR)
    if given_up:
        logger.warning("%d queued syncs were never run by a worker; given up", given_up)
    return given_up


@shared_task(acks_late=True)
def sync_fork(user_id: str, run_id: int) -> None:
    """A large source sync, queued by ``fork_sync``: run as the fork's owner (RLS). The worker finds this task
    through ``CELERY_IMPORTS`` (autodiscovery reads only ``tasks.py``)."""
    fork_sync_run(user_id=user_id, run_id=run_id)


def fork_sync_run(*, user_id, run_id) -> None:
    """The worker's part of a large sync. If it fails, the fork stays as it was and the run says why."""
    try:
        with acting_as(user_id), transaction.atomic():
            run = SyncRun.objects.select_for_update().filter(pk=run_id, status=SyncRun.Status.QUEUED).first()
            if run is None:
                return  # already done (a redelivered task)
            record = ForkRecord.objects.select_for_update().get(pk=run.fork_id)
            if not StorySnapshot.objects.filter(series_id=record.series_id, version=run.to_version).exists():
                raise ValidationError(f"Version {run.to_version} of the source does not exist.")
            _merge(user=user_id, record=record, run=run, changed=sync_plan.changed_items(record, run.to_version))
    except Exception as error:  # noqa: BLE001 — any failure: rolled back, and the player is told why
        logger.exception("Source sync %s failed", run_id)
        with acting_as(user_id):
            SyncRun.objects.filter(pk=run_id).update(status=SyncRun.Status.FAILED, error=_reason(error))
        cache.delete(f"sync-progress:{run_id}")


def _reason(error: Exception) -> str:
    messages = getattr(error, "messages", None)
    return "; ".join(messages) if messages else str(error) or error.__class__.__name__


def _merge(*, user, record: ForkRecord, run: SyncRun, changed: list[tuple[str, str]]) -> None:
    story = Story.objects.select_for_update().get(pk=record.story_id)
    run.previous = {}
    turn_keys = [key for kind, key in changed if kind == Kind.TURN]
    turns, turn_conflicts = _merge_turns(user=user, record=record, story=story, run=run, keys=turn_keys)
    _progress(run, len(turn_keys), len(changed), "world")
    world, world_conflicts = _merge_world(user=user, record=record, story=story, run=run,
                                          any_changed=len(turn_keys) < len(changed))
    # The named results, from the same plans the preview shows (``sync_plan.plan_items``).
    run.items = sync_plan.plan_items(turns, world)
    run.applied = len(turns.plan.applied) + (len(world.plan.applied) if world else 0)
    run.kept = turns.untouched + len(turns.plan.kept) + (len(world.plan.kept) if world else 0)
    run.conflict_count = len(turn_conflicts) + len(world_conflicts)
    if record.kind == AssetKind.STORY:
        source_count = StorySnapshot.objects.get(series_id=record.series_id, version=run.to_version).turn_count
        run.continued = max(0, source_count - record.at_turn)
    run.status = SyncRun.Status.DONE
    run.save()
    SyncConflict.objects.bulk_create([
        SyncConflict(user_id=story.user_id, run=run, fork=record, **fields) for fields in turn_conflicts + world_conflicts],
        batch_size=500)
    story_rebase(story=story, series_id=record.series_id, version=run.to_version)  # turns read the new version
    record.version = run.to_version
    record.save(update_fields=["version"])
    _progress(run, len(changed), len(changed), "done")


def _merge_turns(*, user, record, story, run, keys) -> tuple[sync_plan.TurnPlan, list[dict]]:
    """The turns' plan (with how many other turns the fork changed, kept as they are) and their conflicts."""
    planned = sync_plan.turn_plan(record=record, story=story, from_version=run.from_version,
                                  to_version=run.to_version, keys=keys)
    plan = planned.plan
    if not keys:
        return planned, []
    if planned.full_copy:  # the fork owns its turns: the source's changes are written into them
        run.previous["turns"] = turns_rewrite(user=user, story=story, texts=dict(plan.applied))
    else:  # applied by the new base version; a turn the source removed is kept as the fork's own
        removed = [number for number in plan.kept if planned.source.get(number) is None]
        before = {row.number: {"action": row.action, "prose": row.prose, "alternatives": row.alternatives}
                  for row in story_selectors.turn_overrides(story=story).filter(number__in=removed)}
        run.previous["overrides"] = {str(number): before.get(number) for number in removed}
        for number in removed:
            action, prose = planned.inherited[number]
            turn_override_set(story=story, number=number, action=action, prose=prose)
    conflicts = [{"kind": Kind.TURN, "key": str(conflict.key), "turn_number": conflict.key,
                  "base_text": conflict.base or "", "source_text": conflict.source, "fork_text": conflict.fork}
                 for conflict in plan.conflicts]
    return planned, conflicts


def _merge_world(*, user, record, story, run, any_changed: bool) -> tuple[sync_plan.WorldPlan | None, list[dict]]:
    if not any_changed:
        return None, []
    planned = sync_plan.world_plan(record=record, story=story, from_version=run.from_version,
                                   to_version=run.to_version)
    plan = planned.plan
    run.previous["world"] = [[kind, key, planned.ours.get((kind, key))] for kind, key in plan.applied]
    world_apply(user=user, story=story, changes=dict(plan.applied), current=planned.current)
    conflicts = [{"kind": kind, "key": key, "base_data": conflict.base, "source_data": conflict.source,
                  "fork_data": conflict.fork, "base_text": item_text(conflict.base),
                  "source_text": item_text(conflict.source), "fork_text": item_text(conflict.fork)}
                 for conflict in plan.conflicts for kind, key in [conflict.key]]
    return planned, conflicts


# Resolving and undoing ----------------------------------------------------------------------

def conflict_resolve(*, user, fork_id, conflict_id, choice: str) -> SyncConflict:
    """``source`` takes the source's side, ``mine`` keeps the fork's, ``both`` keeps the fork's and
    the source's beside it (a turn's alternative, a disabled copy of a lore entry, a chapter
    suggestion). The losing side always stays: as an alternative, or on the resolved conflict."""
    if choice not in merge.CHOICES:
        raise ValidationError({"choice": [f"The choice is one of {', '.join(merge.CHOICES)}."]})
    with acting_as(user), transaction.atomic():
        conflict = SyncConflict.objects.select_for_update().select_related("fork").get(pk=conflict_id,
                                                                                      fork_id=fork_id)
        if conflict.choice:
            raise DomainError(CONFLICT, f"The conflict on {item_name(conflict.kind)} {conflict.key} is already "
                                        f"resolved ({conflict.choice}).")
        story = Story.objects.select_for_update().get(pk=conflict.fork.story_id)
        if conflict.kind == Kind.TURN:
            _resolve_turn(user=user, story=story, conflict=conflict, choice=choice)
        else:
            _resolve_world(user=user, story=story, conflict=conflict, choice=choice)
        conflict.choice, conflict.resolved_at = choice, timezone.now()
        conflict.save(update_fields=["choice", "resolved_at"])
    return conflict


def _resolve_turn(*, user, story, conflict, choice) -> None:
    # The fork's text is in its own turn (a full copy, even one made since the sync) or an override.
    holder = story_selectors.turn_written(story=story, number=conflict.turn_number)
    resolved = merge.resolve(
        merge.MergeConflict(key=conflict.turn_number, base=conflict.base_text, source=conflict.source_text,
                       fork=conflict.fork_text),
        merge.ForkText(holder.prose, tuple(alternative["prose"] for alternative in holder.alternatives)), choice)
    turn_alternative_add(user=user, story=story, number=conflict.turn_number, prose=resolved.text,
                         alternatives=resolved.alternatives)


def _resolve_world(*, user, story, conflict, choice) -> None:
    item = (conflict.kind, conflict.key)
    if choice == "source":
        world_apply(user=user, story=story, changes={item: conflict.source_data})
    elif choice == "both" and conflict.kind == Kind.LOREENTRY:  # the source's entry beside, switched off
        book = entry_key(conflict.key)[0]
        taken = [entry_key(key)[1] for kind, key in world_items(story) if kind == Kind.LOREENTRY
                 and entry_key(key)[0] == book]
        comment = conflict.source_data.get("comment") or ", ".join(conflict.source_data.get("keys", []))
        world_apply(user=user, story=story, changes={(Kind.LOREENTRY, f"{book}/{max(taken, default=-1) + 1}"): {
            **conflict.source_data, "enabled": False, "comment": f"From the source: {comment}"[:500]}})
    elif choice == "both" and conflict.kind == Kind.CHAPTER:  # the source's chapter, offered to accept
        last = story_selectors.turns_own(story=story).order_by("-number").values_list("number", flat=True).first()
        chapter_services.suggestion_add(story_id=story.pk, user_id=story.user_id, chapter=conflict.source_data,
                                        created_turn=last or story.base_turn)


def sync_undo(*, user, fork_id) -> SyncRun:
    """Undo the fork's last sync: its base version, turns, overrides and world go back as they were."""
    with acting_as(user), transaction.atomic():
        record = _locked_fork(fork_id)
        _give_up_lost(record)
        if record.sync_runs.filter(status=SyncRun.Status.QUEUED).exists():
            raise DomainError(CONFLICT, "This fork is being synced in the background; wait for it to finish.")
        run = sync_run_undoable(record)
        if run is None:
            raise DomainError(CONFLICT, "There is no sync of this fork to undo.")
        if run.conflicts.exclude(choice="").exists():
            raise DomainError(CONFLICT, "Some of this sync's conflicts are resolved; their resolutions stay, so it "
                                        "cannot be undone as a whole.")
        story = Story.objects.select_for_update().get(pk=record.story_id)
        turn_overrides_restore(story=story, overrides={int(number): before for number, before
                                                       in run.previous.get("overrides", {}).items()})
        turns = run.previous.get("turns", {})
        turns_rewrite(user=user, story=story, texts={int(number): before["prose"] for number, before in turns.items()},
                      alternatives={int(number): before["alternatives"] for number, before in turns.items()})
        world_apply(user=user, story=story, changes={(kind, key): payload
                                                     for kind, key, payload in run.previous.get("world", [])})
        run.conflicts.all().delete()
        story_rebase(story=story, series_id=record.series_id, version=run.from_version)
        record.version = run.from_version
        record.save(update_fields=["version"])
        run.status = SyncRun.Status.UNDONE
        run.save(update_fields=["status"])
    return run
