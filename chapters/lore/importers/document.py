"""What a lore or world file carries, as plain typed values shared by every format.

Each format module reads its file into a ``LoreDocument`` and writes one back. Whatever a
format has that LUNA does not use stays in ``source_fields`` (the item's original JSON
object, keys in their original order), and writers start from it, so exporting to the
format a thing came from gives every field back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ... import json_limits
from ..activation import SELECTIVE_LOGIC


class FormatError(ValueError):
    """A file that cannot be imported; the message names the entry (uid or position) and the field."""

    def __init__(self, message: str, *, entry: str | int | None = None, field_name: str | None = None):
        where = []
        if entry is not None:
            where.append(f"entry {entry}")
        if field_name:
            where.append(f"field {field_name!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)




@dataclass
class Entry:
    keys: list[str]
    content: str
    secondary_keys: list[str] = field(default_factory=list)
    selective_logic: str = "AND_ANY"
    comment: str = ""
    constant: bool = False
    order: int = 100
    enabled: bool = True
    probability: int = 100
    case_sensitive: bool = False
    match_whole_words: bool = False
    uid: str = ""
    source_format: str = ""
    source_fields: dict = field(default_factory=dict)
    known_by: list[str] = field(default_factory=list)  # who knows it (issue #20); empty: everyone
    reveal_when: dict = field(default_factory=dict)


@dataclass
class Book:
    name: str
    entries: list[Entry] = field(default_factory=list)
    description: str = ""
    scan_depth: int = 2
    token_budget: int = 400
    recursive_scanning: bool = False
    max_recursion_depth: int = 3
    source_format: str = ""
    source_fields: dict = field(default_factory=dict)


@dataclass
class Character:
    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_message: str = ""
    example_messages: str = ""
    alternate_greetings: list[str] = field(default_factory=list)
    system_prompt: str = ""
    post_history_instructions: str = ""
    is_player: bool = False
    source_format: str = ""
    source_fields: dict = field(default_factory=dict)
    factions: list[str] = field(default_factory=list)  # who knows what (issue #20)
    known_by: list[str] = field(default_factory=list)
    reveal_when: dict = field(default_factory=dict)


@dataclass
class StoryInfo:
    """What a world file says about the story itself (Infinite Worlds, a card's scenario)."""

    title: str = ""
    premise: str = ""
    setting: str = ""
    memory: str = ""
    authors_note: str = ""
    opening: str = ""
    state: dict = field(default_factory=dict)
    source_format: str = ""
    source_fields: dict = field(default_factory=dict)


@dataclass
class Secret:
    """A fact the file keeps from someone (issue #20), as a Knowledge row: ``ref`` names the file's object it
    is of (``trackedItems/<id>``), so export writes its ``known_by`` back onto that object."""

    fact: str
    known_by: list[str]
    ref: str
    reveal_when: dict = field(default_factory=dict)


@dataclass
class LoreDocument:
    books: list[Book] = field(default_factory=list)
    characters: list[Character] = field(default_factory=list)
    chapters: list[dict] = field(default_factory=list)  # as chapters.chapter_text parses them
    story: StoryInfo | None = None
    secrets: list[Secret] = field(default_factory=list)

    def entry_count(self) -> int:
        return sum(len(book.entries) for book in self.books)


@dataclass
class Written:
    """A document written in a format, and what the format could not carry."""

    text: str
    dropped: list[str] = field(default_factory=list)


def load_json(text: str, what: str):
    """JSON with objects as ordered dicts (duplicate keys: the last wins, as in JavaScript)."""
    try:
        return json_limits.loads(text)
    except json.JSONDecodeError as error:
        raise FormatError(f"the {what} is not valid JSON ({error.msg} at line {error.lineno}, "
                          f"column {error.colno}).") from error
    except json_limits.UntrustedInputError as error:
        raise FormatError(str(error)) from error


def dump_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def fields_text(fields: dict) -> str:
    """``source_fields`` as stored: JSON text, because jsonb would reorder the keys."""
    return json.dumps(fields, ensure_ascii=False) if fields else ""


def fields_from_text(text: str) -> dict:
    return json.loads(text) if text else {}


# Readers of untrusted JSON: each names the entry and the field it rejects. A name may be a
# dotted path into nested objects ("extensions.selectiveLogic"); the first name present wins.

def lookup(obj: dict, names: tuple[str, ...]):
    """(name, value) of the first of ``names`` the object has with a value other than null."""
    for name in names:
        node = obj
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return name, node
    return None, None


def text_value(obj: dict, names: tuple[str, ...], *, entry=None, default: str = "") -> str:
    name, value = lookup(obj, names)
    if name is None:
        return default
    if not isinstance(value, str):
        raise FormatError(f"must be text, not {type(value).__name__}.", entry=entry, field_name=name)
    return value


def keys_value(obj: dict, names: tuple[str, ...], *, entry=None) -> list[str]:
    name, value = lookup(obj, names)
    if name is None:
        return []
    if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
        raise FormatError("must be a list of strings.", entry=entry, field_name=name)
    return list(value)


def number_value(obj: dict, names: tuple[str, ...], *, entry=None, default: int) -> int:
    name, value = lookup(obj, names)
    if name is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise FormatError(f"must be a number, not {value!r}.", entry=entry, field_name=name)
    return int(value)


def bool_value(obj: dict, names: tuple[str, ...], *, default: bool) -> bool:
    name, value = lookup(obj, names)
    return default if name is None else bool(value)


def set_value(obj: dict, names: tuple[str, ...], value) -> None:
    """Write ``value`` under every one of ``names`` the object has (mixed naming stays consistent),
    or, when it has none, under the first, creating nested objects on the way."""
    present = [name for name in names if _has(obj, name)]
    for name in present or names[:1]:
        *parents, last = name.split(".")
        node = obj
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[last] = value


def _has(obj: dict, name: str) -> bool:
    node = obj
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def overlay(target: dict, current, original, fields: dict[str, tuple[tuple[str, ...], object]]) -> dict:
    """Write into ``target`` (a copy of the source object) only the fields whose value LUNA changed.

    ``fields`` maps an attribute to (the format's names for it, a function from LUNA's value to the
    format's). Unchanged fields keep their source spelling, nulls and all, so a round trip is exact.
    """
    for attribute, (names, encode) in fields.items():
        value = getattr(current, attribute)
        if original is None or value != getattr(original, attribute):
            set_value(target, names, encode(value) if encode else value)
    return target


def object_of(value, what: str, *, entry=None) -> dict:
    if not isinstance(value, dict):
        raise FormatError(f"must be a JSON object, not {type(value).__name__}.", entry=entry, field_name=what)
    return value


def logic_from(value, *, entry) -> str:
    if isinstance(value, str) and value.upper() in SELECTIVE_LOGIC:
        return value.upper()
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(SELECTIVE_LOGIC):
        return SELECTIVE_LOGIC[value]
    raise FormatError(f"must be 0-3 (AND_ANY, NOT_ALL, NOT_ANY, AND_ALL), not {value!r}.", entry=entry,
                      field_name="selectiveLogic")
