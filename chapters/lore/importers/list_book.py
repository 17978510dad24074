"""Books written as ``{..., "entries": [ {...}, ... ]}`` with one entry shape per format
(NovelAI lorebooks, Agnai memory books): read and written from a table of field names.

Neither format has a field that keeps an entry from the player or from a character (their lore goes to
the AI alone, for every character), so an entry's ``known_by`` / ``reveal_when`` travel in a ``luna``
object beside its own fields (``knowledge_fields``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from . import knowledge_fields
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
    lookup,
    number_value,
    object_of,
    overlay,
    text_value,
)


@dataclass(frozen=True)
class Shape:
    """How one format spells an entry: LUNA attribute -> (the format's names, kind, default)."""

    name: str
    label: str
    fields: dict  # attribute -> (names, "keys" | "text" | "number" | "bool", default)
    entry_template: dict
    book_template: dict
    id_names: tuple[str, ...]
    unsupported: tuple[str, ...]  # LUNA attributes the format cannot hold, reported when dropped


def _read_entry(shape: Shape, obj, position: int) -> Entry:
    obj = object_of(obj, "entries", entry=position)
    _, uid = lookup(obj, shape.id_names)
    where = uid if isinstance(uid, (str, int)) and not isinstance(uid, bool) and uid != "" else position
    values = {}
    for attribute, (names, kind, default) in shape.fields.items():
        if kind == "keys":
            values[attribute] = keys_value(obj, names, entry=where)
        elif kind == "text":
            values[attribute] = text_value(obj, names, entry=where, default=default)
        elif kind == "number":
            values[attribute] = number_value(obj, names, entry=where, default=default)
        else:
            values[attribute] = bool_value(obj, names, default=default)
    values.update(knowledge_fields.read(obj, knowledge_fields.ENTRY_FIELDS, entry=where, where=""))
    return Entry(**values, uid=str(where), source_format=shape.name, source_fields=obj)


def read(shape: Shape, text: str, *, name: str = "") -> LoreDocument:
    value = object_of(load_json(text, f"{shape.label} file"), "document")
    entries = value.get("entries", [])
    if not isinstance(entries, list):
        raise FormatError("must be a list.", field_name="entries")
    book_name = value.get("name") if isinstance(value.get("name"), str) else ""
    description = value.get("description") if isinstance(value.get("description"), str) else ""
    book = Book(name=book_name or name or shape.label, description=description,
                entries=[_read_entry(shape, obj, index) for index, obj in enumerate(entries)],
                source_format=shape.name,
                source_fields={key: (None if key == "entries" else v) for key, v in value.items()})
    return LoreDocument(books=[book])


def write(shape: Shape, document: LoreDocument) -> Written:
    first = next((book for book in document.books if book.source_format == shape.name), None)
    top = copy.deepcopy(first.source_fields) if first else copy.deepcopy(shape.book_template)
    named = first or (document.books[0] if document.books else None)
    if named is not None:
        for attribute in ("name", "description"):
            if attribute in top and top[attribute] != getattr(named, attribute):
                top[attribute] = getattr(named, attribute)
    mapping = {attribute: (names, None) for attribute, (names, _, _) in shape.fields.items()}
    entries, dropped_values = [], {attribute: 0 for attribute in shape.unsupported}
    for position, entry in enumerate(entry for book in document.books for entry in book.entries):
        if entry.source_format == shape.name and entry.source_fields:
            target = copy.deepcopy(entry.source_fields)
            original = _read_entry(shape, copy.deepcopy(entry.source_fields), position)
        else:
            target, original = copy.deepcopy(shape.entry_template), None
        written = overlay(target, entry, original, mapping)
        knowledge_fields.write_beside(written, entry, knowledge_fields.ENTRY_FIELDS)
        entries.append(written)
        defaults = Entry(keys=[], content="")
        for attribute in shape.unsupported:
            if getattr(entry, attribute) != getattr(defaults, attribute):
                dropped_values[attribute] += 1
    top["entries"] = entries
    dropped = [f"{count} entries' {attribute.replace('_', ' ')} ({shape.label} has none)"
               for attribute, count in dropped_values.items() if count]
    if len(document.books) > 1:
        dropped.append(f"{len(document.books)} books merged into one")
    if document.characters:
        dropped.append(f"{len(document.characters)} character(s): {shape.label} has no cast")
    if document.chapters:
        dropped.append(f"{len(document.chapters)} chapter(s): {shape.label} has no chapters")
    return Written(dump_json(top), dropped)
