"""Character Card V2 (``card_v2``, spec ``chara_card_v2``): a character and its ``character_book``.

Follows the V2 specification (malfoyslastname/character-card-spec-v2). The character joins the
story's cast; the book becomes a lorebook. SillyTavern keeps its own entry settings under
``extensions`` (``selectiveLogic``, ``probability``, ``match_whole_words``…): they are read from
there and written back there. Many V2 cards repeat the character's fields at the top level
(the V1 layout): both copies are read and both are written.
"""

from __future__ import annotations

import copy

from ..activation import SELECTIVE_LOGIC
from . import knowledge_fields
from .document import (
    Book,
    Character,
    Entry,
    FormatError,
    LoreDocument,
    Written,
    bool_value,
    dump_json,
    keys_value,
    load_json,
    logic_from,
    lookup,
    number_value,
    object_of,
    overlay,
    text_value,
)

NAME = "card_v2"
LABEL = "Character Card V2"
SPEC, SPEC_VERSION = "chara_card_v2", "2.0"

CHARACTER_FIELDS = {
    "name": (("data.name", "name"), None),
    "description": (("data.description", "description"), None),
    "personality": (("data.personality", "personality"), None),
    "scenario": (("data.scenario", "scenario"), None),
    "first_message": (("data.first_mes", "first_mes"), None),
    "example_messages": (("data.mes_example", "mes_example"), None),
    "alternate_greetings": (("data.alternate_greetings",), None),
    "system_prompt": (("data.system_prompt",), None),
    "post_history_instructions": (("data.post_history_instructions",), None),
}

ENTRY_FIELDS = {
    "keys": (("keys", "key"), None),
    "secondary_keys": (("secondary_keys", "keysecondary"), None),
    "selective_logic": (("extensions.selectiveLogic", "selectiveLogic"), SELECTIVE_LOGIC.index),
    "content": (("content", "entry"), None),
    "comment": (("comment", "name"), None),
    "constant": (("constant",), None),
    "order": (("insertion_order", "order"), None),
    "enabled": (("enabled",), None),
    "probability": (("extensions.probability",), None),
    "case_sensitive": (("case_sensitive", "extensions.case_sensitive"), None),
    "match_whole_words": (("extensions.match_whole_words",), None),
}

BOOK_FIELDS = {
    "name": (("name",), None),
    "description": (("description",), None),
    "scan_depth": (("scan_depth",), None),
    "token_budget": (("token_budget",), None),
    "recursive_scanning": (("recursive_scanning",), None),
}

BOOK_PLACEHOLDER = "__luna_character_book__"  # where the book stands in the card, kept with the character


V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


def detect(value) -> bool:
    return isinstance(value, dict) and (value.get("spec") == SPEC or _is_v1(value))


def _is_v1(value: dict) -> bool:
    """A V1 card (TavernAI, before the V2 spec): the fields at the top level, no ``spec``."""
    return "spec" not in value and isinstance(value.get("name"), str) and "first_mes" in value


def _as_v2(card: dict) -> dict:
    """A V1 card read as V2 (as SillyTavern does); written back, it is a V2 card."""
    data = {field: card.get(field) or "" for field in V1_FIELDS}
    data.update({"creator_notes": "", "system_prompt": "", "post_history_instructions": "",
                 "alternate_greetings": [], "tags": [], "creator": "", "character_version": "",
                 "extensions": {key: value for key, value in card.items() if key not in V1_FIELDS}})
    return {"spec": SPEC, "spec_version": SPEC_VERSION, "data": data}


def read_entry(obj, *, position: int, fmt: str = NAME) -> Entry:
    obj = object_of(obj, "entries", entry=position)
    uid = obj.get("id", position)
    where = uid if isinstance(uid, (int, str)) and not isinstance(uid, bool) else position
    logic = lookup(obj, ("extensions.selectiveLogic", "selectiveLogic"))[1]
    use_probability = bool_value(obj, ("extensions.useProbability",), default=True)
    keys = keys_value(obj, ("keys", "key"), entry=where)
    case_sensitive = bool_value(obj, ("case_sensitive", "extensions.case_sensitive"), default=False)
    if fmt != NAME and bool_value(obj, ("use_regex",), default=False):
        # V3: every key is a pattern; LUNA writes a regex key as /pattern/flags.
        flags = "" if case_sensitive else "i"
        keys = [f"/{key}/{flags}" if key else key for key in keys]
    return Entry(
        keys=keys,
        secondary_keys=keys_value(obj, ("secondary_keys", "keysecondary"), entry=where),
        selective_logic="AND_ANY" if logic is None else logic_from(logic, entry=where),
        content=text_value(obj, ("content", "entry"), entry=where),
        comment=text_value(obj, ("comment", "name"), entry=where),
        constant=bool_value(obj, ("constant",), default=False),
        order=number_value(obj, ("insertion_order", "order"), entry=where, default=100),
        enabled=bool_value(obj, ("enabled",), default=True),
        probability=number_value(obj, ("extensions.probability",), entry=where, default=100) if use_probability
        else 100,
        case_sensitive=case_sensitive,
        match_whole_words=bool_value(obj, ("extensions.match_whole_words",), default=False),
        uid=str(where), source_format=fmt, source_fields=obj,
        **knowledge_fields.read(obj.get("extensions"), knowledge_fields.ENTRY_FIELDS, entry=where),
    )


def read_book(obj, *, fmt: str, default_name: str) -> Book:
    obj = object_of(obj, "character_book")
    entries = obj.get("entries", [])
    if not isinstance(entries, list):
        raise FormatError("must be a list of entries.", field_name="character_book.entries")
    return Book(
        name=text_value(obj, ("name",)) or default_name,
        description=text_value(obj, ("description",)),
        scan_depth=number_value(obj, ("scan_depth",), default=2),
        token_budget=number_value(obj, ("token_budget",), default=400),
        recursive_scanning=bool_value(obj, ("recursive_scanning",), default=False),
        entries=[read_entry(entry, position=index, fmt=fmt) for index, entry in enumerate(entries)],
        source_format=fmt,
        source_fields={key: (None if key == "entries" else value) for key, value in obj.items()},
    )


def read_character(card: dict, *, fmt: str) -> Character:
    data = object_of(card.get("data"), "data")
    greetings = data.get("alternate_greetings") or []
    if not isinstance(greetings, list) or not all(isinstance(g, str) for g in greetings):
        raise FormatError("must be a list of strings.", field_name="data.alternate_greetings")
    fields = copy.deepcopy(card)
    if "character_book" in fields["data"]:
        fields["data"]["character_book"] = BOOK_PLACEHOLDER
    values = {attribute: text_value(card, names) for attribute, (names, _) in CHARACTER_FIELDS.items()
              if attribute != "alternate_greetings"}
    if not values["name"].strip():
        raise FormatError("the character has no name.", field_name="data.name")
    return Character(**values, alternate_greetings=list(greetings), source_format=fmt, source_fields=fields,
                     **knowledge_fields.read(data.get("extensions"), knowledge_fields.CHARACTER_FIELDS))


def read(value, *, fmt: str = NAME) -> LoreDocument:
    card = object_of(value, "card")
    if fmt == NAME and _is_v1(card):
        card = _as_v2(card)
    character = read_character(card, fmt=fmt)
    book = card["data"].get("character_book")
    books = [read_book(book, fmt=fmt, default_name=f"{character.name}'s lore")] if book else []
    return LoreDocument(books=books, characters=[character])


def parse(text: str, *, name: str = "") -> LoreDocument:
    return read(load_json(text, "character card"))


def is_card(fmt: str) -> bool:
    return fmt in (NAME, "card_v3")


def write_entry(entry: Entry, position: int, fmt: str) -> dict:
    if is_card(entry.source_format) and entry.source_fields:
        target = copy.deepcopy(entry.source_fields)
        original = read_entry(copy.deepcopy(entry.source_fields), position=position, fmt=entry.source_format)
        regex_keys = entry.source_format != NAME and bool(target.get("use_regex"))
    else:
        target = {"keys": [], "content": "", "extensions": {}, "enabled": True, "insertion_order": 100,
                  "case_sensitive": False, "name": "", "priority": 10, "id": position, "comment": "",
                  "selective": True, "secondary_keys": [], "constant": False, "position": "before_char"}
        original, regex_keys = None, False
    overlay(target, entry, original, ENTRY_FIELDS)
    knowledge_fields.write(target, entry, knowledge_fields.ENTRY_FIELDS)
    if regex_keys and (original is None or entry.keys != original.keys):
        target["keys"] = [_pattern_of(key) for key in entry.keys]
    if original is not None and entry.probability != original.probability:
        target.setdefault("extensions", {})["useProbability"] = True
    return target


def _pattern_of(key: str) -> str:
    """/pattern/flags back to the bare pattern a V3 ``use_regex`` entry holds."""
    if len(key) > 1 and key.startswith("/") and "/" in key[1:]:
        return key[1:key.rindex("/")]
    return key


def write(document: LoreDocument, *, fmt: str = NAME, spec: str = SPEC, spec_version: str = SPEC_VERSION) -> Written:
    dropped = []
    characters = document.characters
    character = next((c for c in characters if is_card(c.source_format)), None) or next(
        (c for c in characters if not c.is_player), None) or (characters[0] if characters else None)
    if character is None:
        raise FormatError("a character card needs a character; the story has no cast.")
    if len(characters) > 1:
        dropped.append(f"{len(characters) - 1} other character(s): a card holds one")
    if is_card(character.source_format) and character.source_fields:
        card = copy.deepcopy(character.source_fields)
        original = read_character(_without_placeholder(copy.deepcopy(card)), fmt=character.source_format)
    else:
        card = {"spec": spec, "spec_version": spec_version, "data": {
            "name": "", "description": "", "personality": "", "scenario": "", "first_mes": "", "mes_example": "",
            "creator_notes": "", "system_prompt": "", "post_history_instructions": "", "alternate_greetings": [],
            "tags": [], "creator": "", "character_version": "", "extensions": {}}}
        original = None
    card["spec"], card["spec_version"] = spec, card.get("spec_version") if card.get("spec") == spec else spec_version
    overlay(card, character, original, CHARACTER_FIELDS)
    knowledge_fields.write(card["data"], character, knowledge_fields.CHARACTER_FIELDS)
    book = _write_book(document, fmt)
    data = card["data"]
    if book is not None:
        data["character_book"] = book
    elif data.get("character_book") == BOOK_PLACEHOLDER:
        del data["character_book"]
    if len(document.books) > 1:
        dropped.append(f"{len(document.books)} books merged into one character book")
    if document.chapters:
        dropped.append(f"{len(document.chapters)} chapter(s): a character card has no chapters")
    return Written(dump_json(card), dropped)


def _without_placeholder(card: dict) -> dict:
    if card.get("data", {}).get("character_book") == BOOK_PLACEHOLDER:
        del card["data"]["character_book"]
    return card


def _write_book(document: LoreDocument, fmt: str) -> dict | None:
    if not document.books:
        return None
    return book_object(document, next((book for book in document.books if is_card(book.source_format)), None), fmt)


def book_object(document: LoreDocument, first: Book | None, fmt: str = NAME) -> dict:
    """A ``character_book`` of all the document's entries, from ``first``'s own fields where given."""
    if first is not None:
        target = copy.deepcopy(first.source_fields)
        original = Book(name=text_value(target, ("name",)) or first.name, description=text_value(target, (
            "description",)), scan_depth=number_value(target, ("scan_depth",), default=2),
            token_budget=number_value(target, ("token_budget",), default=400),
            recursive_scanning=bool_value(target, ("recursive_scanning",), default=False))
        if "name" not in target:
            original.name = first.name  # a default name, never written
    else:
        first, target, original = document.books[0], {"name": "", "extensions": {}, "entries": None}, None
    overlay(target, first, original, BOOK_FIELDS)
    entries = [entry for book in document.books for entry in book.entries]
    target["entries"] = [write_entry(entry, index, fmt) for index, entry in enumerate(entries)]
    return target
