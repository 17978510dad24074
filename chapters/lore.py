"""A story's lorebooks: saved from and read back into format-neutral documents, and the
entries that fire for a turn (one compiled matcher per book, cached per process).

Stories are known here only by id; the narrative core's import of a whole file (cast, story
fields) calls into this module, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .activation import BookMatcher, BookSettings, EntrySpec, regex_key_error
from .importers.document import Book, Entry, FormatError, fields_from_text, fields_text
from .models import Lorebook, LoreEntry, LoreSource

ENTRY_ATTRIBUTES = ("keys", "secondary_keys", "selective_logic", "content", "comment", "constant", "order", "enabled",
                    "probability", "case_sensitive", "match_whole_words", "uid", "source_format")
BOOK_ATTRIBUTES = ("name", "description", "scan_depth", "token_budget", "recursive_scanning", "max_recursion_depth",
                   "source_format")
MAX_SCAN_DEPTH = 20


def check_entry(entry: Entry, where) -> list[str]:
    """Values a file can carry but LUNA cannot use: an error naming the entry; warnings returned."""
    if not 0 <= entry.probability <= 100:
        raise FormatError(f"must be between 0 and 100, not {entry.probability}.", entry=where,
                          field_name="probability")
    if not -2**31 <= entry.order < 2**31:
        raise FormatError(f"is out of range ({entry.order}).", entry=where, field_name="order")
    return [f"entry {where}: key {key!r}: {problem}" for key in entry.keys + entry.secondary_keys
            if (problem := regex_key_error(key))]


def check_book(book: Book) -> list[str]:
    for attribute in ("scan_depth", "token_budget", "max_recursion_depth"):
        if getattr(book, attribute) < 0:
            raise FormatError(f"the book's {attribute.replace('_', ' ')} cannot be negative.")
    warnings = []
    for position, entry in enumerate(book.entries):
        warnings += check_entry(entry, entry.uid or position)
    return warnings


@transaction.atomic
def books_import(*, story_id, user_id, books: list[Book], source: LoreSource | None = None) -> list[Lorebook]:
    """Save books and their entries as they are; the caller has checked them (``check_book``)."""
    saved = []
    for book in books:
        row = Lorebook.objects.create(
            user_id=user_id, story_id=story_id, source=source, source_fields=fields_text(book.source_fields),
            scan_depth=min(book.scan_depth, MAX_SCAN_DEPTH),
            **{attribute: getattr(book, attribute) for attribute in BOOK_ATTRIBUTES if attribute != "scan_depth"})
        LoreEntry.objects.bulk_create([
            LoreEntry(user_id=user_id, lorebook=row, story_id=story_id, position=position,
                      source_fields=fields_text(entry.source_fields),
                      **{attribute: getattr(entry, attribute) for attribute in ENTRY_ATTRIBUTES})
            for position, entry in enumerate(book.entries)], batch_size=500)
        saved.append(row)
    return saved


def book_keys(names: list[str]) -> list[str]:
    """Each book's key in its story, in order: its name, numbered from the second book of the same
    name ("Places (2)"). A sync matches a fork's books with its source's by these keys, so removing
    or reordering a book moves no other book's entries."""
    keys, taken = [], set()
    for name in names:
        key, copy = name, 1
        while key in taken:
            copy += 1
            key = f"{name} ({copy})"
        taken.add(key)
        keys.append(key)
    return keys


def story_lore(*, story_id) -> list[tuple[str, Book, list[int]]]:
    """The story's books in order, each with its key (``book_keys``) and its entries' positions.
    Read as values, not model rows: a sync reads a whole world, thousands of entries."""
    books = list(Lorebook.objects.filter(story_id=story_id).order_by("created_at", "id").values(
        "id", "source_fields", *BOOK_ATTRIBUTES))
    entries: dict[int, list[dict]] = {book["id"]: [] for book in books}
    for entry in LoreEntry.objects.filter(lorebook__in=list(entries)).order_by("lorebook", "position").values(
            "lorebook_id", "position", "source_fields", *ENTRY_ATTRIBUTES):
        entries[entry.pop("lorebook_id")].append(entry)
    lore = []
    for key, book in zip(book_keys([book["name"] for book in books]), books, strict=True):
        rows = entries[book.pop("id")]
        positions = [row.pop("position") for row in rows]
        lore.append((key, Book(entries=[Entry(**_parsed(row)) for row in rows], **_parsed(book)), positions))
    return lore


def _parsed(values: dict) -> dict:
    return {**values, "source_fields": fields_from_text(values["source_fields"])}


@transaction.atomic
def lore_apply(*, story_id, user_id, books: dict[str, dict | None], entries: dict[tuple[str, int], dict | None]):
    """Make the story's books (by key, ``book_keys``) and entries (by book key and position) read as
    given: the fields of a ``Book`` without its entries, of an ``Entry``, or ``None`` to remove one.
    New books go after the story's own, in the order given. A sync, its undo and a fork's copy of
    the world write lore this way."""
    rows = list(Lorebook.objects.select_for_update().filter(story_id=story_id).order_by("created_at", "id"))
    by_key = dict(zip(book_keys([row.name for row in rows]), rows, strict=True))
    for key, fields in books.items():
        if fields is None:
            continue  # removed last, so the keys above stay the story's
        values = {attribute: fields[attribute] for attribute in BOOK_ATTRIBUTES if attribute in fields}
        values["scan_depth"] = min(values.get("scan_depth", 2), MAX_SCAN_DEPTH)
        values["source_fields"] = fields_text(fields.get("source_fields") or {})
        if key in by_key:
            Lorebook.objects.filter(pk=by_key[key].pk).update(updated_at=timezone.now(), **values)
        else:
            by_key[key] = Lorebook.objects.create(user_id=user_id, story_id=story_id, **values)
    existing = set(LoreEntry.objects.filter(lorebook__in=by_key.values()).values_list("lorebook_id", "position"))
    added, touched = [], set()
    for (key, position), fields in entries.items():
        book = by_key.get(key)
        if book is None:
            continue  # its book is gone: the entry went with it
        touched.add(book.pk)
        if fields is None:
            LoreEntry.objects.filter(lorebook=book, position=position).delete()
            continue
        values = {attribute: fields[attribute] for attribute in ENTRY_ATTRIBUTES if attribute in fields}
        values["source_fields"] = fields_text(fields.get("source_fields") or {})
        if (book.pk, position) in existing:
            LoreEntry.objects.filter(lorebook=book, position=position).update(**values)
        else:
            added.append(LoreEntry(user_id=user_id, lorebook=book, story_id=story_id, position=position, **values))
    LoreEntry.objects.bulk_create(added, batch_size=500)
    Lorebook.objects.filter(pk__in=touched).update(updated_at=timezone.now())  # matchers rebuilt next turn
    Lorebook.objects.filter(pk__in=[by_key[key].pk for key, fields in books.items()
                                    if fields is None and key in by_key]).delete()


def story_books(*, story_id) -> list[Book]:
    return [book for _, book, _ in story_lore(story_id=story_id)]


@transaction.atomic
def lorebook_save(book: Lorebook) -> Lorebook:
    """Save a book's settings; moving it to another story (or to the owner's library, no story)
    moves its entries with it."""
    book.save()
    book.entries.exclude(story_id=book.story_id).update(story_id=book.story_id)
    return book


@transaction.atomic
def entry_save(entry: LoreEntry) -> LoreEntry:
    """Save an entry; its book's matcher is rebuilt on the next turn (the book's ``updated_at`` moves)."""
    check_entry(Entry(**{attribute: getattr(entry, attribute) for attribute in ENTRY_ATTRIBUTES}),
                entry.uid or entry.position)
    entry.save()
    Lorebook.objects.filter(pk=entry.lorebook_id).update(updated_at=timezone.now())
    return entry


# Activation ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class FiredEntry:
    book: str
    entry_id: int
    title: str
    content: str
    reason: str


_matchers: dict[int, tuple[object, BookMatcher]] = {}  # book id -> (updated_at, matcher), per process


def _matcher(book: dict) -> BookMatcher:
    cached = _matchers.get(book["id"])
    if cached and cached[0] == book["updated_at"]:
        return cached[1]
    specs = [EntrySpec(id=row["id"], keys=tuple(row["keys"]), content=row["content"],
                       secondary_keys=tuple(row["secondary_keys"]), selective_logic=row["selective_logic"],
                       comment=row["comment"] or ", ".join(key for key in row["keys"] if key.strip())[:200],
                       constant=row["constant"], order=row["order"], enabled=row["enabled"],
                       probability=row["probability"], case_sensitive=row["case_sensitive"],
                       match_whole_words=row["match_whole_words"])
             for row in LoreEntry.objects.filter(lorebook_id=book["id"], enabled=True).values(
                 "id", "keys", "content", "secondary_keys", "selective_logic", "comment", "constant", "order",
                 "enabled", "probability", "case_sensitive", "match_whole_words")]
    matcher = BookMatcher(specs, BookSettings(
        scan_depth=book["scan_depth"], token_budget=book["token_budget"],
        recursive_scanning=book["recursive_scanning"], max_recursion_depth=book["max_recursion_depth"]))
    _matchers[book["id"]] = (book["updated_at"], matcher)
    return matcher


def lore_for_turn(*, story_id, action: str, recent: list[str], seed: str) -> list[FiredEntry]:
    """The entries that fire for this turn, book by book, each book within its own budget.

    ``recent`` holds the latest turns' text, newest first; a book scans the action and its
    ``scan_depth`` latest turns. Costs one small query per turn while the books are unchanged.
    """
    fired = []
    for book in Lorebook.objects.filter(story_id=story_id, enabled=True).values(
            "id", "name", "updated_at", "scan_depth", "token_budget", "recursive_scanning", "max_recursion_depth"):
        texts = [action, *recent[: book["scan_depth"]]]
        for hit in _matcher(book).activate(texts, seed=seed):
            fired.append(FiredEntry(book=book["name"], entry_id=hit.id, title=hit.comment, content=hit.content,
                                    reason=hit.reason))
    return fired
