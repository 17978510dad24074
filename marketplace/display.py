"""How the marketplace says things: the names of assets and snapshot items, what a sync did, what
resolving a conflict did, a conflict's label and its sides. Shared by the pages (``views/``), the API
(``api.py``) and the sync's own refusals (``sync.py``); no query and no write here."""

from __future__ import annotations

from django.utils.html import conditional_escape

from chapters.triggers import CONDITION_LABELS
from core.compare import TextComparison, fields_compared, side_by_side_html
from narrative_pipeline.models import SnapshotItem
from narrative_pipeline.snapshots import entry_key

from .models import AssetKind, ForkRecord, Listing, SyncConflict, SyncRun

Kind = SnapshotItem.Kind
# What each kind of asset is called: (one, many).
ASSET_NAMES = {AssetKind.STORY: ("story", "stories"), AssetKind.CHAPTERS: ("chapter set", "chapter sets"),
               AssetKind.CHARACTER: ("character", "characters")}
# What each kind of snapshot item is called: (one, many).
ITEM_NAMES = {Kind.TURN: ("turn", "turns"), Kind.CHAPTER: ("chapter", "chapters"),
              Kind.LOREBOOK: ("lore book", "lore books"), Kind.LOREENTRY: ("lore entry", "lore entries"),
              Kind.CHARACTER: ("character", "characters"), Kind.KNOWLEDGE: ("fact", "facts"),
              Kind.PORTRAIT: ("portrait", "portraits")}

# What "Keep both" does, per kind of item (``sync.conflict_resolve``).
BOTH = {
    "turn": "Keep both: your text stays, and the source's is added as an earlier version of the turn.",
    "chapter": "Keep both: your chapter stays, and the source's is offered as a chapter suggestion to accept.",
    "loreentry": "Keep both: your entry stays, and the source's is added beside it, switched off.",
    "lorebook": "Keep both: your book's settings stay; the source's stay readable under Resolved conflicts.",
    "character": "Keep both: your character stays; the source's version stays readable under Resolved conflicts.",
}
# What a resolution did: for a turn, and for a world item (``both`` depends on its kind).
RESOLVED = {
    "source": "Turn {n} now reads the source's text; yours is kept as an earlier version of the turn.",
    "mine": "Turn {n} keeps your text.",
    "both": "Turn {n} keeps your text, with the source's as an earlier version of the turn.",
}
RESOLVED_WORLD = {
    "source": "{label} now takes the source's version; yours stays readable under Resolved conflicts.",
    "mine": "{label} keeps your version.",
    "both": {"chapter": "{label} keeps your version; the source's is offered as a chapter suggestion.",
             "loreentry": "{label} keeps your version; the source's is beside it, switched off.",
             "lorebook": "{label} keeps your version; the source's stays readable under Resolved conflicts.",
             "character": "{label} keeps your version; the source's stays readable under Resolved conflicts."},
}

# What a snapshot item's fields are called where a person compares them (versions, sync conflicts).
FIELD_LABELS = {**CONDITION_LABELS, "prose": "Passage", "trigger_conditions": "Conditions", "suggested_beats": "Beats",
                "required_previous_chapters": "Requires", "blocked_by": "Blocked by",
                "min_similarity_threshold": "Divergence threshold"}


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def items_counted(count: int, kind: str) -> str:
    """``3 lore entries``: a number of snapshot items of ``kind``."""
    one, many = ITEM_NAMES.get(kind, (kind, kind))
    return f"{count:,} {one if count == 1 else many}"


def item_name(kind: str) -> str:
    return ITEM_NAMES.get(kind, (kind,))[0]


def run_message(run: SyncRun) -> str:
    """What a sync did (or will do, queued), in a sentence."""
    if run.status == SyncRun.Status.QUEUED:
        return (f"The sync with version {run.to_version} is large, so it runs in the background; this page "
                "shows how far it is.")
    if run.from_version == run.to_version:
        return f"Your fork is already on the source's latest version ({run.to_version}): nothing to sync."
    text = (f"Synced with version {run.to_version}: {plural(run.applied, 'change')} applied automatically, "
            f"{run.kept:,} kept, {plural(run.conflict_count, 'conflict')}.")
    if run.conflict_count:
        text += " Resolve " + ("it" if run.conflict_count == 1 else "them") + " below."
    if run.continued:
        text += f" And the author continued the story: {plural(run.continued, 'new turn')}."
    return text


def undo_message(record: ForkRecord, run: SyncRun) -> str:
    what = "its turns" if record.kind == AssetKind.STORY else f"the {ASSET_NAMES[record.kind][0]}'s items"
    return f"The last sync is undone: your fork is back on version {run.from_version}, {what} as they were."


def fork_message(record: ForkRecord, listing: Listing) -> str:
    """What a fork of a story, or a chapter set or character taken into a story, made."""
    if record.kind == AssetKind.STORY:
        return f"Your fork of “{record.source_title}” is ready: play on from turn {record.at_turn}."
    what = (f"The chapters of “{record.source_title}” are" if record.kind == AssetKind.CHAPTERS
            else f"{listing.character_name or record.source_title} is")
    return f"{what} now in your story “{record.story.title}”."


def item_label(kind: str, key: str) -> str:
    """``Turn 7``, ``Lore book “Places”``, ``Lore entry 2 of “Places”``."""
    if kind == Kind.LOREENTRY:
        book, position = entry_key(key)
        return f"Lore entry {position} of “{book}”"
    if kind == Kind.LOREBOOK:
        return f"Lore book “{key}”"
    return f"{item_name(kind).capitalize()} {key}"


# What a sync does to an item (``sync_plan.plan_items``): in the preview, and in its results.
PLANNED_CHANGES = {"update": ("will update", "Updated"), "add": ("will add", "Added"),
                   "removed": ("the author removed it; yours stays", "Removed by the author, yours kept"),
                   "conflict": ("conflict: you and the author both changed it", "Conflicts")}


def item_named(kind: str, key: str, payload: dict | None) -> str:
    """``Chapter 3 ‘The Lamp’``, ``Lore entry ‘Glade’``, ``Character ‘Orla’``: an item's label with the name
    a player knows it by (a chapter's title, a lore entry's comment or keys)."""
    payload = payload or {}
    if kind == Kind.CHAPTER and payload.get("title"):
        return f"Chapter {key} ‘{payload['title']}’"
    if kind == Kind.LOREENTRY:
        name = payload.get("comment") or ", ".join(payload.get("keys") or [])
        return f"Lore entry ‘{name}’" if name else item_label(kind, key)
    if kind == Kind.CHARACTER:
        return f"Character ‘{key}’"
    if kind == Kind.KNOWLEDGE and (payload.get("fact") or payload.get("source_ref")):
        return f"Fact ‘{(payload.get('fact') or payload['source_ref'])[:60]}’"  # a mirrored one: its entry or character
    return item_label(kind, key)


def planned_item(kind: str, key: str, change: str, payload: dict | None) -> dict:
    return {"kind": kind, "key": key, "change": change, "label": item_named(kind, key, payload)}


def items_grouped(items: list[dict]) -> list[dict]:
    """A sync's named items by what happened to them, as its results read: ``[{"change", "heading", "labels"}]``."""
    return [{"change": change, "heading": PLANNED_CHANGES[change][1],
             "labels": [item["label"] for item in items if item["change"] == change]}
            for change in PLANNED_CHANGES if any(item["change"] == change for item in items)]


def item_fields_compared(before: dict | None, after: dict | None):
    """Two versions of a snapshot item (a turn, chapter, lore entry or character) field by field."""
    return fields_compared(before, after, labels=FIELD_LABELS, skip=("number", "key"))


def conflict_label(conflict: SyncConflict) -> str:
    """The conflict's item named as the sync's preview and results name it (``planned_item``: the fork's side,
    else the source's), so the heading on the sync page reads the same words."""
    return item_named(conflict.kind, conflict.key, conflict.fork_data or conflict.source_data)


def version_compared(diffs: list[dict], version: int) -> list[dict]:
    """A version's changed items, each with its label and its changed fields side by side (``diffs`` from
    ``selectors.version_diffs``)."""
    return [{"label": item_label(diff["kind"], diff["key"]), "change": diff["change"],
             "html": side_by_side_html([TextComparison(**field) for field in diff["fields"]],
                                       before_label=f"Version {version - 1}", after_label=f"Version {version}")}
            for diff in diffs]


def resolved_message(conflict: SyncConflict) -> str:
    """What resolving ``conflict`` with its ``choice`` did."""
    if conflict.kind == Kind.TURN:
        return RESOLVED[conflict.choice].format(n=conflict.turn_number)
    template = RESOLVED_WORLD[conflict.choice]
    return (template[conflict.kind] if isinstance(template, dict) else template).format(label=conflict_label(conflict))


def conflict_described(conflict: SyncConflict) -> SyncConflict:
    """The conflict with what its page shows: its label, what *Keep both* does, and its three sides (before,
    the source's, mine), the source's and mine each as it reads with the words it added to the before marked
    (``core.compare``'s side-by-side after column).
    A world item shows the fields that differ, as readable lines (the ones all three share are named once)."""
    conflict.label, conflict.both = conflict_label(conflict), BOTH.get(conflict.kind, "")
    conflict.noun = item_name(conflict.kind)
    if conflict.kind == Kind.TURN:
        conflict.base_html = conflict.base_text
        conflict.source_html = TextComparison("", conflict.base_text, conflict.source_text).side_by_side()[1]
        conflict.fork_html = TextComparison("", conflict.base_text, conflict.fork_text).side_by_side()[1]
        return conflict
    sides = [conflict.base_data, conflict.source_data, conflict.fork_data]
    fields = list(dict.fromkeys(field for side in sides if side for field in side))
    base, source, mine = ({field: (side or {}).get(field) for field in fields} for side in sides)
    theirs, yours = item_fields_compared(base, source), item_fields_compared(base, mine)  # aligned: same fields
    differ = [index for index, (source_field, my_field) in enumerate(zip(theirs, yours, strict=True))
              if len({source_field.before, source_field.after, my_field.after}) > 1]
    conflict.same = [field.label.lower() for index, field in enumerate(theirs) if index not in differ]
    conflict.rows = [None if side is None else rows for side, rows in zip(sides, [
        [(theirs[index].label, conditional_escape(theirs[index].before)) for index in differ],
        [(theirs[index].label, theirs[index].side_by_side()[1]) for index in differ],
        [(yours[index].label, yours[index].side_by_side()[1]) for index in differ]], strict=True)]
    return conflict
