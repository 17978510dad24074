"""NovelAI lorebooks (``novelai_lorebook``, ``.lorebook`` files, ``lorebookVersion`` 5).

Keys are plain text or ``/regex/flags`` (NovelAI's own syntax, which LUNA shares); NovelAI
matches them case-insensitively. ``budgetPriority`` is the entry's order, ``forceActivation``
makes it always on. Context settings, bias groups and categories are kept verbatim.
"""

from __future__ import annotations

from . import list_book
from .document import LoreDocument, Written

NAME = "novelai_lorebook"
LABEL = "NovelAI lorebook"

SHAPE = list_book.Shape(
    name=NAME, label=LABEL,
    fields={
        "keys": (("keys",), "keys", None),
        "content": (("text",), "text", ""),
        "comment": (("displayName",), "text", ""),
        "constant": (("forceActivation",), "bool", False),
        "order": (("contextConfig.budgetPriority",), "number", 400),
        "enabled": (("enabled",), "bool", True),
    },
    entry_template={
        "text": "", "contextConfig": {"prefix": "", "suffix": "\n", "tokenBudget": 1, "reservedTokens": 0,
                                      "budgetPriority": 400, "trimDirection": "trimBottom",
                                      "insertionType": "newline", "maximumTrimType": "sentence",
                                      "insertionPosition": -1},
        "lastUpdatedAt": 0, "displayName": "", "keys": [], "searchRange": 1000, "enabled": True,
        "forceActivation": False, "keyRelative": False, "nonStoryActivatable": False,
    },
    book_template={"lorebookVersion": 5, "entries": None, "settings": {"orderByKeyLocations": False},
                   "categories": []},
    id_names=("id",),
    unsupported=("secondary_keys", "probability", "case_sensitive", "match_whole_words"),
)


def detect(value) -> bool:
    if not isinstance(value, dict):
        return False
    entries = value.get("entries")
    return "lorebookVersion" in value or (
        isinstance(entries, list) and any(isinstance(e, dict) and "contextConfig" in e for e in entries))


def parse(text: str, *, name: str = "") -> LoreDocument:
    return list_book.read(SHAPE, text, name=name)


def write(document: LoreDocument) -> Written:
    return list_book.write(SHAPE, document)
