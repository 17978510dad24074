"""SillyTavern World Info (``st_worldinfo``): ``{"entries": {"<uid>": {...}}}``.

Field names and defaults follow SillyTavern's ``public/scripts/world-info.js``
(``newWorldInfoEntryTemplate``; ``selectiveLogic`` 0 AND_ANY, 1 NOT_ALL, 2 NOT_ANY, 3 AND_ALL).
Scan depth, budget and recursion are SillyTavern's global settings, not the file's, so a
book takes LUNA's defaults. Files exported by other tools mix spellings (``key``/``keys``,
``content``/``entry``); all are read, and written back under the spelling the file used.
"""

from __future__ import annotations

import copy
import dataclasses

from ...knowledge import rules as knowledge_rules
from ..activation import SELECTIVE_LOGIC
from . import card_v2, knowledge_fields
from .document import (
    Book,
    Entry,
    FormatError,
    LoreDocument,
    Written,
    bool_value,
    dump_json,
    keys_value,
    load_json,
    logic_from,
    number_value,
    object_of,
    overlay,
    text_value,
)

NAME = "st_worldinfo"
LABEL = "SillyTavern World Info"

KEYS, SECONDARY, CONTENT, COMMENT = ("key", "keys"), ("keysecondary", "secondary_keys"), ("content", "entry"), (
    "comment", "name")

ENTRY_TEMPLATE = {
    "uid": 0, "key": [], "keysecondary": [], "comment": "", "content": "", "constant": False, "vectorized": False,
    "selective": True, "selectiveLogic": 0, "addMemo": True, "order": 100, "position": 0, "disable": False,
    "excludeRecursion": False, "preventRecursion": False, "delayUntilRecursion": False, "probability": 100,
    "useProbability": True, "depth": 4, "group": "", "groupOverride": False, "groupWeight": 100, "scanDepth": None,
    "caseSensitive": None, "matchWholeWords": None, "useGroupScoring": None, "automationId": "", "role": None,
    "sticky": 0, "cooldown": 0, "delay": 0, "displayIndex": 0,
}

FIELDS = {
    "keys": (KEYS, None),
    "secondary_keys": (SECONDARY, None),
    "selective_logic": (("selectiveLogic",), SELECTIVE_LOGIC.index),
    "content": (CONTENT, None),
    "comment": (COMMENT, None),
    "constant": (("constant",), None),
    "order": (("order", "insertion_order"), None),
    "enabled": (("disable",), lambda enabled: not enabled),
    "probability": (("probability",), None),
    "case_sensitive": (("caseSensitive",), None),
    "match_whole_words": (("matchWholeWords",), None),
}


def detect(value) -> bool:
    if not isinstance(value, dict) or "spec" in value or value.get("kind") == "memory":
        return False
    entries = value.get("entries")
    # A standalone character book (chub.ai and others export lorebooks so) reads as World Info too.
    return isinstance(entries, dict) or (isinstance(entries, list) and bool(entries) and all(
        isinstance(e, dict) and ("keys" in e or "key" in e) and "content" in e and "contextConfig" not in e
        for e in entries))


def known_by_from_filter(obj: dict, *, uid: str) -> list[str]:
    """SillyTavern's per-entry ``characterFilter`` as ``known_by``: an include filter's names and tags
    (``faction:<tag>``) know the entry. An exclude filter ("everyone but …") has no ``known_by`` form: the entry
    stays everyone's in LUNA and the filter stays in its own fields, written back on export."""
    found = obj.get("characterFilter")
    if found is None:
        return []
    found = object_of(found, "characterFilter", entry=uid)
    names = keys_value(found, ("names",), entry=uid)
    tags = keys_value(found, ("tags",), entry=uid)
    if found.get("isExclude"):
        return []
    try:
        return knowledge_rules.audience_validate(names + [f"{knowledge_rules.FACTION}{tag}" for tag in tags])
    except knowledge_rules.KnowledgeError as error:
        raise FormatError(str(error), entry=uid, field_name="characterFilter") from error


def filter_from_known_by(known_by: list[str]) -> dict:
    """``known_by`` as an include ``characterFilter`` (``player`` and ``nobody`` go as names: SillyTavern
    matches no character by them, and they read back the same)."""
    tags = [who[len(knowledge_rules.FACTION):] for who in known_by if who.casefold().startswith(knowledge_rules.FACTION)]
    names = [who for who in known_by if not who.casefold().startswith(knowledge_rules.FACTION)]
    return {"isExclude": False, "names": names, "tags": tags}


def _knowledge(obj: dict, *, uid: str) -> dict:
    """``known_by``/``reveal_when``: LUNA's own (``extensions.luna``) where the file has them, else the filter's."""
    values = knowledge_fields.read(obj.get("extensions"), knowledge_fields.ENTRY_FIELDS, entry=uid)
    if "known_by" not in values:
        values["known_by"] = known_by_from_filter(obj, uid=uid)
    return values


def read_entry(obj: dict, *, uid: str) -> Entry:
    obj = object_of(obj, "entries", entry=uid)
    logic = obj.get("selectiveLogic")
    use_probability = bool_value(obj, ("useProbability",), default=True)
    return Entry(
        keys=keys_value(obj, KEYS, entry=uid),
        secondary_keys=keys_value(obj, SECONDARY, entry=uid),
        selective_logic="AND_ANY" if logic is None else logic_from(logic, entry=uid),
        content=text_value(obj, CONTENT, entry=uid),
        comment=text_value(obj, COMMENT, entry=uid),
        constant=bool_value(obj, ("constant",), default=False),
        order=number_value(obj, ("order", "insertion_order"), entry=uid, default=100),
        enabled=not bool_value(obj, ("disable",), default=False),
        probability=number_value(obj, ("probability",), entry=uid, default=100) if use_probability else 100,
        case_sensitive=bool_value(obj, ("caseSensitive",), default=False),
        match_whole_words=bool_value(obj, ("matchWholeWords",), default=False),
        uid=uid, source_format=NAME, source_fields=obj, **_knowledge(obj, uid=uid),
    )


def read(value, *, name: str = "") -> LoreDocument:
    value = object_of(value, "document")
    if isinstance(value["entries"], list):  # a character book: its entries are shaped as a V2 card's
        book = card_v2.read_book(value, fmt=card_v2.NAME, default_name=name or "World Info")
        book.source_format, book.source_fields["entries"] = NAME, []  # [] : written back as a list
        return LoreDocument(books=[book])
    # The entry's key in ``entries`` is its uid (SillyTavern keeps the two equal).
    entries = [read_entry(obj, uid=key) for key, obj in value["entries"].items()]
    book_fields = {field: (None if field == "entries" else field_value) for field, field_value in value.items()}
    book_name = value.get("name") if isinstance(value.get("name"), str) else ""
    return LoreDocument(books=[Book(name=book_name or name or "World Info", entries=entries, source_format=NAME,
                                    source_fields=book_fields)])


def parse(text: str, *, name: str = "") -> LoreDocument:
    return read(load_json(text, "World Info file"), name=name)


def write_entry(entry: Entry, uid) -> dict:
    """One entry as SillyTavern writes it: from its own fields where it came from SillyTavern."""
    if entry.source_format == NAME and entry.source_fields:
        target = copy.deepcopy(entry.source_fields)
        original = read_entry(copy.deepcopy(entry.source_fields), uid=str(uid))
    else:
        target, original = {**copy.deepcopy(ENTRY_TEMPLATE), "uid": uid, "displayIndex": uid}, None
    overlay(target, entry, original, FIELDS)
    if original is not None and entry.probability != original.probability and "useProbability" in target:
        target["useProbability"] = True
    if entry.known_by != (original.known_by if original is not None else []):  # an exclude filter stays as it was
        if entry.known_by:
            target["characterFilter"] = filter_from_known_by(entry.known_by)
        else:
            target.pop("characterFilter", None)
    # extensions.luna repeats known_by only where the filter cannot say it (or the file had it there already)
    said_by_filter = known_by_from_filter(target, uid=str(uid)) == entry.known_by and "known_by" not in (
        knowledge_fields.read(entry.source_fields.get("extensions"), ("known_by",), entry=uid)
        if entry.source_format == NAME else {})
    knowledge_fields.write(target, dataclasses.replace(entry, known_by=[]) if said_by_filter else entry,
                           knowledge_fields.ENTRY_FIELDS)
    return target


def write(document: LoreDocument) -> Written:
    books = document.books
    first = next((book for book in books if book.source_format == NAME), None)
    top = copy.deepcopy(first.source_fields) if first else {"entries": None}
    if "name" in top and first is not None and first.name != top["name"]:
        top["name"] = first.name
    if top.get("entries") == []:  # a character book came in: it goes back out as one
        return Written(dump_json(card_v2.book_object(document, first)), _dropped(document, character_book=True))
    entries, taken = {}, set()
    for book in books:
        for entry in book.entries:
            uid = entry.uid if entry.uid and entry.uid not in taken else None
            if uid is None:  # a new entry, or one from another book with the same uid
                uid = str(max((int(u) for u in taken if u.lstrip("-").isdigit()), default=-1) + 1)
                obj = write_entry(entry, int(uid))
                obj["uid"] = int(uid)
            else:
                obj = write_entry(entry, int(uid) if uid.lstrip("-").isdigit() else uid)
            taken.add(uid)
            entries[uid] = obj
    top["entries"] = entries
    dropped = _dropped(document)
    return Written(dump_json(top), dropped)


def _dropped(document: LoreDocument, *, character_book: bool = False) -> list[str]:
    dropped = []
    if document.characters:
        dropped.append(f"{len(document.characters)} character(s): World Info has no cast")
    if document.chapters:
        dropped.append(f"{len(document.chapters)} chapter(s): World Info has no chapters")
    if len(document.books) > 1:
        dropped.append(f"{len(document.books)} books merged into one; their names and settings are not kept")
    foreign = sum(1 for book in document.books for entry in book.entries
                  if entry.source_fields and entry.source_format != ("card_v2" if character_book else NAME))
    if foreign:
        dropped.append(f"{foreign} entries' own fields from other formats (kept in LUNA, not in this file)")
    return dropped
