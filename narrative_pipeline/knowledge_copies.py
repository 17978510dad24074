"""A story's knowledge (issue #20) as snapshot items, so every copy keeps who knows what.

A fact's item key is what names it in any copy of the story: a mirrored fact (a lore entry's or a
character's, ``chapters.knowledge.services.MIRRORED``) is keyed by its source's item key ("book/position", a
character's name), any other by its folded text, as ``knowledge_learn`` tells facts apart. Copies and syncs
write the facts after the lore and cast, so a mirrored fact takes its text and audience from its source in
the copy (it never leaks through a stale copy of them).

A fact's reveal belongs to the story that played it: a copy made at turn N keeps the reveals of turns up to N
(``as_of``); a sync merges only what the author wrote (``authored``) and never changes a fork's reveals.
"""

from __future__ import annotations

import hashlib

from chapters.knowledge import rules
from chapters.knowledge.services import MIRRORED
from chapters.lore.services import book_keys
from chapters.models import Knowledge, Lorebook, LoreEntry

from .agents.points_of_view import about
from .models import Character, Story

Source = Knowledge.Source
PLAYED_FIELDS = ("revealed_at_turn", "revealed_by", "learned_at")  # the story's play, not the author's writing
# Versions stored before issue #20 have none of these: they read as the defaults (everyone knows).
ITEM_DEFAULTS = {"loreentry": {"known_by": [], "reveal_when": {}},
                 "character": {"factions": [], "known_by": [], "reveal_when": {}}}
MIRRORED_FIELDS = ("fact", "known_by", "reveal_when")  # a mirrored fact's, read from its source


def _entry_keys(story_id) -> dict[int, str]:
    """Each lore entry's id -> its item key ("book/position")."""
    books = list(Lorebook.objects.filter(story_id=story_id).order_by("created_at", "id").values_list("id", "name"))
    by_book = dict(zip([pk for pk, _ in books], book_keys([name for _, name in books]), strict=True))
    return {pk: f"{by_book[book]}/{position}" for pk, book, position in LoreEntry.objects.filter(
        lorebook__in=list(by_book)).values_list("pk", "lorebook_id", "position")}


def fact_key(source: str, ref: str, fact: str) -> str:
    if source in MIRRORED:
        return f"{source}:{ref}"[:300]
    return "fact:" + hashlib.sha256(rules.fold(fact).encode()).hexdigest()[:24]


def knowledge_items(story: Story) -> dict[str, tuple[int, dict]]:
    """The story's facts: key -> (order, payload); a mirrored fact's ``source_ref`` is its source's item key."""
    ref_key = _ref_keys(story)
    items = {}
    for index, row in enumerate(Knowledge.objects.filter(story=story).order_by("id").values(
            "fact", "known_by", "reveal_when", "revealed_at_turn", "revealed_by", "evidence_turn", "source",
            "source_ref", "learned_at")):
        if row["source"] in MIRRORED:
            row["source_ref"] = ref_key(row["source"], row["source_ref"])
            if row["source_ref"] is None:
                continue  # its source is gone: the next turn's mirror removes it
        items[fact_key(row["source"], row["source_ref"], row["fact"])] = (index, row)
    return items


def as_of(payload: dict, turn: int) -> dict | None:
    """The fact as it stood after turn ``turn``: unrevealed if its reveal came later, none if a later turn
    taught it, unknown to those a later turn taught it. A reveal by hand before any turn (turn 0) stands. Who
    learned it when (``learned_at``) goes along: a copy keeps turn numbers, so its undo can unlearn it."""
    if payload.get("source") == Source.TURN and (payload.get("evidence_turn") or 0) > turn:
        return None
    learned_at = payload.get("learned_at") or {}
    later = {who for who, learned in learned_at.items() if learned > turn}
    if later:
        payload = {**payload, "known_by": [who for who in payload["known_by"] if who not in later],
                   "learned_at": {who: learned for who, learned in learned_at.items() if who not in later}}
    if (payload.get("revealed_at_turn") or 0) > turn:
        return {**payload, "revealed_at_turn": None, "revealed_by": ""}
    return payload


def merged_view(kind: str, payload: dict | None) -> dict | None:
    """An item as a sync compares and merges it: a fact as ``authored``; a lore entry or character stored
    before its who-knows-what fields existed, with their defaults (so an old version is not a change)."""
    if payload is None:
        return None
    if kind == "knowledge":
        return authored(payload)
    return {**ITEM_DEFAULTS[kind], **payload} if kind in ITEM_DEFAULTS else payload


def authored(payload: dict | None) -> dict | None:
    """What a sync compares and merges of a fact: what its author wrote, not the story's reveal of it
    (nor, for a mirrored fact, what its lore entry or character carries and merges)."""
    if payload is None:
        return None
    dropped = PLAYED_FIELDS + (MIRRORED_FIELDS if payload.get("source") in MIRRORED else ())
    return {field: value for field, value in payload.items() if field not in dropped}


def knowledge_apply(*, story: Story, facts: dict[str, dict | None]) -> None:
    """Make the story's facts read as ``facts`` says (key -> payload, ``None`` removes one). A fact the
    story has keeps its reveal and who learned it when; a new one takes the payload's. Run after the lore and
    cast are written."""
    if not facts:
        return
    ref_key = _ref_keys(story)
    current = {fact_key(row.source, ref_key(row.source, row.source_ref) or "", row.fact): row
               for row in Knowledge.objects.filter(story=story)}
    entries = {key: pk for pk, key in _entry_keys(story.pk).items()}
    cast = {row.name: row for row in Character.objects.filter(story=story)}
    for key, payload in facts.items():
        row = current.get(key)
        if payload is None:
            if row is not None:
                row.delete()
            continue
        values = {field: payload[field] for field in ("fact", "known_by", "reveal_when", "evidence_turn", "source",
                                                      "source_ref") if field in payload}
        if payload.get("source") in MIRRORED:
            mirrored = _mirrored(payload, entries, cast)
            if mirrored is None or not mirrored["fact"].strip():
                continue  # its entry or character is not in this story (or says nothing)
            values.update(mirrored)
        if row is None:
            Knowledge.objects.create(story=story, user_id=story.user_id, **values,  # turn 0: revealed from the start
                                     revealed_at_turn=payload.get("revealed_at_turn"),
                                     revealed_by=payload.get("revealed_by") or "",
                                     learned_at=payload.get("learned_at") or {})
        else:
            for field, value in values.items():
                setattr(row, field, value)
            row.save()


def _ref_keys(story: Story):
    """(source, stored ref) -> the item key of a mirrored fact's lore entry or character (None: it is gone)."""
    entries = _entry_keys(story.pk)
    names = {str(pk): name for pk, name in Character.objects.filter(story=story).values_list("pk", "name")}

    def ref_key(source: str, ref: str) -> str | None:
        if source == Source.LORE_ENTRY:
            return entries.get(int(ref)) if ref.isdigit() else None
        return names.get(ref) if source == Source.CHARACTER else ref
    return ref_key


def _mirrored(payload: dict, entries: dict[str, int], cast: dict[str, Character]) -> dict | None:
    """A mirrored fact's text, audience, reveal condition and stored ref, read from its source in the story."""
    if payload["source"] == Source.LORE_ENTRY:
        pk = entries.get(payload["source_ref"])
        entry = LoreEntry.objects.filter(pk=pk).only("content", "known_by", "reveal_when").first() if pk else None
        if entry is None:
            return None
        text, known_by, reveal_when, ref = entry.content, entry.known_by, entry.reveal_when, str(entry.pk)
    else:
        character = cast.get(payload["source_ref"])
        if character is None:
            return None
        text, known_by, reveal_when = about(character.description, character.personality), character.known_by, \
            character.reveal_when
        ref = str(character.pk)
    return {"fact": text[: rules.MAX_FACT_CHARS], "known_by": known_by, "reveal_when": reveal_when, "source_ref": ref}
