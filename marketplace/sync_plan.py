"""What a source sync would do, item by item, computed without writing (the dry run behind *Sync now*'s
preview): the same ``merge.three_way`` plans over the fork's turns and world that ``sync.py`` then applies,
so the preview and the sync's named results (``SyncRun.items``) are one list."""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.rls import acting_as
from narrative_pipeline import selectors as story_selectors
from narrative_pipeline.knowledge_copies import merged_view
from narrative_pipeline.models import SnapshotItem, SnapshotSeries, StorageMode, Story, StoryTurn
from narrative_pipeline.snapshots import series_items, world_items

from . import forks, merge
from .display import planned_item
from .models import ASSET_ITEMS, AssetKind, ForkRecord

Kind = SnapshotItem.Kind


@dataclass
class TurnPlan:
    plan: merge.MergePlan
    source: dict[int, str] = field(default_factory=dict)
    inherited: dict[int, tuple[str, str]] = field(default_factory=dict)  # number -> (action, prose): a shared fork's
    full_copy: bool = False
    untouched: int = 0  # other turns the fork changed, kept as they are


@dataclass
class WorldPlan:
    plan: merge.MergePlan
    base: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    ours: dict = field(default_factory=dict)
    current: dict = field(default_factory=dict)  # world_items of the story, for world_apply


def changed_items(record: ForkRecord, version: int) -> list[tuple[str, str]]:
    """The items the versions after the fork's and up to ``version`` changed, of the kinds it syncs:
    a sync costs its changes, not the story."""
    rows = SnapshotItem.objects.filter(series_id=record.series_id, version__gt=record.version, version__lte=version,
                                       kind__in=ASSET_ITEMS[record.kind]).exclude(kind=Kind.TURN, number__gt=record.at_turn)
    return list(rows.values_list("kind", "key").distinct())


def _turn_texts(series_id, version: int, numbers) -> dict[int, str]:
    items = series_items(series_id, version, Kind.TURN, numbers=numbers)
    return {number: payload["prose"] for (_, _), (number, payload) in items.items()}


def turn_plan(*, record: ForkRecord, story: Story, from_version: int, to_version: int, keys) -> TurnPlan:
    full_copy = story.storage_mode == StorageMode.FULL_COPY
    numbers = [int(key) for key in keys]
    untouched = 0 if full_copy else story_selectors.turn_overrides(story=story).exclude(number__in=numbers).count()
    if not numbers:
        return TurnPlan(merge.MergePlan(), full_copy=full_copy, untouched=untouched)
    base = _turn_texts(record.series_id, from_version, numbers)
    source = _turn_texts(record.series_id, to_version, numbers)
    inherited = {}
    if full_copy:
        reads = dict(story_selectors.turns_own(story=story).filter(number__in=numbers).values_list("number", "prose"))
    else:
        inherited = {number: (action, prose) for number, action, prose in story_selectors.story_turns(
            story=story).filter(number__in=numbers).exclude(origin=StoryTurn.Origin.OWN).values_list(
            "number", "action", "prose")}
        reads = {number: prose for number, (_, prose) in inherited.items()}
    return TurnPlan(merge.three_way(base, source, reads, keys=reads), source, inherited, full_copy, untouched)


def world_plan(*, record: ForkRecord, story: Story, from_version: int, to_version: int) -> WorldPlan:
    base, source = _merged(forks.asset_world(record, from_version)), _merged(forks.asset_world(record, to_version))
    kinds = ASSET_ITEMS[record.kind]
    current = world_items(story)
    ours = _merged({item: payload for item, (_, payload) in current.items() if item[0] in kinds})
    # A whole story's world is the fork's to extend; a chapter set or character covers its own items only.
    keys = None if record.kind == AssetKind.STORY else set(base) | set(source)
    return WorldPlan(merge.three_way(base, source, ours, keys=keys), base, source, ours, current)


def _merged(items: dict) -> dict:
    """The items as a sync merges them (``knowledge_copies.merged_view``): a fact without its story's reveal."""
    return {item: merged_view(item[0], payload) for item, payload in items.items()}


def plan_items(turns: TurnPlan, world: WorldPlan | None) -> list[dict]:
    """The named items of a sync: ``update``, ``add``, ``removed`` (the author removed it, the fork keeps it)
    or ``conflict``, each with its label; what only the fork changed is kept and not listed."""
    items = [planned_item(Kind.TURN, str(number), "update", {"prose": text}) for number, text in turns.plan.applied.items()]
    items += [planned_item(Kind.TURN, str(number), "removed", None)
              for number in turns.plan.kept if turns.source.get(number) is None]
    items += [planned_item(Kind.TURN, str(conflict.key), "conflict", None) for conflict in turns.plan.conflicts]
    if world is not None:
        for (kind, key), payload in world.plan.applied.items():
            change = "update" if (kind, key) in world.ours else "add"
            items.append(planned_item(kind, key, change, payload))
        items += [planned_item(kind, key, "removed", world.ours.get((kind, key))) for kind, key in world.plan.kept
                  if world.source.get((kind, key)) is None and world.base.get((kind, key)) is not None]
        items += [planned_item(*conflict.key, "conflict", conflict.fork or conflict.source)
                  for conflict in world.plan.conflicts]
    return items


def sync_preview(*, user, fork_id) -> dict:
    """What *Sync now* would do to the user's fork, written nowhere: ``from_version``, ``to_version``, ``items``
    (``plan_items``) and ``kept`` (what the fork changed and keeps). Another user's fork: ``DoesNotExist`` (RLS)."""
    with acting_as(user):
        record = ForkRecord.objects.get(pk=fork_id, user_id=user.pk)
        story = Story.objects.get(pk=record.story_id)
        latest = SnapshotSeries.objects.get(pk=record.series_id).latest_version
        answer = {"fork_id": str(record.pk), "from_version": record.version, "to_version": latest, "items": [],
                  "kept": 0}
        if latest <= record.version:
            return answer
        changed = changed_items(record, latest)
        turn_keys = [key for kind, key in changed if kind == Kind.TURN]
        turns = turn_plan(record=record, story=story, from_version=record.version, to_version=latest, keys=turn_keys)
        world = (world_plan(record=record, story=story, from_version=record.version, to_version=latest)
                 if len(turn_keys) < len(changed) else None)
        answer["items"] = plan_items(turns, world)
        answer["kept"] = turns.untouched + len(turns.plan.kept) + (len(world.plan.kept) if world else 0)
        return answer
