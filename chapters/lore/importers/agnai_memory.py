"""Agnai memory books (``agnai_memory``): ``{"kind": "memory", "name", "description", "entries":
[{"name", "entry", "keywords", "priority", "weight", "enabled"}]}`` (agnaistic/agnai,
``AppSchema.MemoryBook``). ``priority`` is the entry's order; ``weight`` and ids are kept verbatim."""

from __future__ import annotations

from . import list_book
from .document import LoreDocument, Written

NAME = "agnai_memory"
LABEL = "Agnai memory book"

SHAPE = list_book.Shape(
    name=NAME, label=LABEL,
    fields={
        "keys": (("keywords", "keys"), "keys", None),
        "content": (("entry", "content"), "text", ""),
        "comment": (("name",), "text", ""),
        "order": (("priority",), "number", 0),
        "enabled": (("enabled",), "bool", True),
    },
    entry_template={"name": "", "entry": "", "keywords": [], "priority": 0, "weight": 0, "enabled": True},
    book_template={"kind": "memory", "name": "", "description": "", "entries": None},
    id_names=("id", "_id"),
    unsupported=("secondary_keys", "constant", "probability", "case_sensitive", "match_whole_words"),
)


def detect(value) -> bool:
    if not isinstance(value, dict):
        return False
    entries = value.get("entries")
    return value.get("kind") == "memory" or (
        isinstance(entries, list) and any(isinstance(e, dict) and "keywords" in e and "entry" in e for e in entries))


def parse(text: str, *, name: str = "") -> LoreDocument:
    return list_book.read(SHAPE, text, name=name)


def write(document: LoreDocument) -> Written:
    return list_book.write(SHAPE, document)
