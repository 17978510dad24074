"""A story's lorebooks: saved from and read back into format-neutral documents, and the
entries that fire for a turn (one compiled matcher per book, cached per process).

Stories are known here only by id; the narrative core's import of a whole file (cast, story
fields) calls into this module, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import thread_time

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from ..models import Lorebook, LoreEntry, LoreSource
from . import limits as lore_limits
from .activation import BookMatcher, BookSettings, EntrySpec, regex_key_error
from .importers.document import Book, Entry, FormatError, fields_from_text, fields_text

ENTRY_ATTRIBUTES = ("keys", "secondary_keys", "selective_logic", "content", "comment", "constant", "order", "enabled",
                    "probability", "case_sensitive", "match_whole_words", "uid", "source_format",
                    "known_by", "reveal_when")
BOOK_ATTRIBUTES = ("name", "description", "scan_depth", "token_budget", "recursive_scanning", "max_recursion_depth",
                   "source_format")
MAX_SCAN_DEPTH = 20


def check_entry(entry: Entry, where) -> list[str]:
    """Values a file can carry but LUNA cannot use, or over the caps: an error naming the entry; warnings returned."""
    for field_name, problem in lore_limits.entry_problems(keys=entry.keys, secondary_keys=entry.secondary_keys,
                                                          content=entry.content):
        raise FormatError(problem, entry=where, field_name=field_name)
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
    regex_keys = lore_limits.regex_keys((entry.keys, entry.secondary_keys) for entry in book.entries)
    for problem in lore_limits.book_problems(name=book.name, entries=len(book.entries), regex_keys=len(regex_keys)):
        raise FormatError(problem)
    warnings = []
    for position, entry in enumerate(book.entries):
        warnings += check_entry(entry, entry.uid or position)
    return warnings


def story_limit_problems(*, story_id, books: int, entries: int, moving: Lorebook | None = None) -> list[str]:
    """The story's caps if ``books`` books holding ``entries`` entries joined its lore (``moving``: a book
    that is one of them, not counted where it is now). A book in its owner's library (no story) has none."""
    if story_id is None:
        return []
    held_books = Lorebook.objects.filter(story_id=story_id)
    held_entries = LoreEntry.objects.filter(story_id=story_id)
    if moving is not None:
        held_books, held_entries = held_books.exclude(pk=moving.pk), held_entries.exclude(lorebook_id=moving.pk)
    return lore_limits.story_problems(books=held_books.count() + books, entries=held_entries.count() + entries)


@transaction.atomic
def books_import(*, story_id, user_id, books: list[Book], source: LoreSource | None = None) -> list[Lorebook]:
    """Save books and their entries as they are; the caller has checked them (``check_book``) and
    locked the story, whose caps are checked here, before anything is written."""
    problems = story_limit_problems(story_id=story_id, books=len(books),
                                    entries=sum(len(book.entries) for book in books))
    if problems:
        raise ValidationError({"file": problems})
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
    the world write lore this way. Over the caps, ``ValidationError`` and nothing written."""
    problems = [f"Entry {position} of the book “{key}”, {field_name.replace('_', ' ')}: {problem}"
                for (key, position), fields in entries.items() if fields is not None
                for field_name, problem in lore_limits.entry_problems(
                    keys=fields.get("keys", []), secondary_keys=fields.get("secondary_keys", []),
                    content=fields.get("content", ""))]
    if problems:
        raise ValidationError(problems)
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
    added, touched, with_regex = [], set(), set()
    for (key, position), fields in entries.items():
        book = by_key.get(key)
        if book is None:
            continue  # its book is gone: the entry went with it
        touched.add(book.pk)
        if fields is None:
            LoreEntry.objects.filter(lorebook=book, position=position).delete()
            continue
        if lore_limits.regex_keys([(fields.get("keys", []), fields.get("secondary_keys", []))]):
            with_regex.add(book.pk)
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
    problems = _applied_problems(story_id=story_id, grown={book.lorebook_id for book in added},
                                 with_regex=with_regex)
    if problems:
        raise ValidationError(problems)  # rolls back this function's writes


def _applied_problems(*, story_id, grown: set[int], with_regex: set[int]) -> list[str]:
    """The caps after ``lore_apply``: the story's totals, and the books that gained entries or regex keys."""
    names = dict(Lorebook.objects.filter(pk__in=grown | with_regex).values_list("pk", "name"))
    sizes = dict(LoreEntry.objects.filter(lorebook__in=grown).values("lorebook").annotate(size=Count("id"))
                 .values_list("lorebook", "size"))
    keys: dict[int, list] = {pk: [] for pk in with_regex}
    for pk, written, secondary in LoreEntry.objects.filter(lorebook__in=with_regex).values_list(
            "lorebook_id", "keys", "secondary_keys"):
        keys[pk].append((written, secondary))
    problems = []
    for pk, name in names.items():
        problems += lore_limits.book_problems(name=name, entries=sizes.get(pk, 0),
                                              regex_keys=len(lore_limits.regex_keys(keys.get(pk, []))))
    return problems + story_limit_problems(story_id=story_id, books=0, entries=0)


def story_books(*, story_id) -> list[Book]:
    return [book for _, book, _ in story_lore(story_id=story_id)]


@transaction.atomic
def lorebook_save(book: Lorebook) -> Lorebook:
    """Save a book's settings; moving it to another story (or to the owner's library, no story)
    moves its entries with it, within that story's caps."""
    problems = lorebook_limit_problems(book)
    if problems:
        raise ValidationError({"story": problems})
    book.save()
    book.entries.exclude(story_id=book.story_id).update(story_id=book.story_id)
    return book


def lorebook_limit_problems(book: Lorebook) -> list[str]:
    """The caps of the story a book is saved into, when it is new there (a book that stays is not counted again)."""
    if book.pk is None:
        return story_limit_problems(story_id=book.story_id, books=1, entries=0)
    if Lorebook.objects.filter(pk=book.pk, story_id=book.story_id).exists():
        return []
    return story_limit_problems(story_id=book.story_id, books=1, entries=book.entries.count(), moving=book)


def entry_limit_problems(*, lorebook: Lorebook, entry_id, keys: list[str], secondary_keys: list[str],
                         content: str) -> list[tuple[str | None, str]]:
    """An entry's caps as it would be saved into its book (``entry_id`` None: a new entry), as (field, message);
    the field is None for the book's and the story's caps."""
    problems: list[tuple[str | None, str]] = list(lore_limits.entry_problems(
        keys=keys, secondary_keys=secondary_keys, content=content))
    others = LoreEntry.objects.filter(lorebook=lorebook).exclude(pk=entry_id)
    mine = lore_limits.regex_keys([(keys, secondary_keys)])
    if mine:  # only a regex key of this entry can raise the book's count
        regex_keys = mine | lore_limits.regex_keys(others.values_list("keys", "secondary_keys"))
        problems += [(None, problem) for problem in lore_limits.book_problems(
            name=lorebook.name, entries=0, regex_keys=len(regex_keys))]
    if entry_id is None:
        problems += [(None, problem) for problem in lore_limits.book_problems(
            name=lorebook.name, entries=others.count() + 1, regex_keys=0)]
        problems += [(None, problem) for problem in story_limit_problems(
            story_id=lorebook.story_id, books=0, entries=1)]
    return problems


@transaction.atomic
def entry_save(entry: LoreEntry) -> LoreEntry:
    """Save an entry within the caps; its book's matcher is rebuilt on the next turn (the book's
    ``updated_at`` moves)."""
    problems = entry_limit_problems(lorebook=entry.lorebook, entry_id=entry.pk, keys=entry.keys,
                                    secondary_keys=entry.secondary_keys, content=entry.content)
    if problems:
        by_field: dict[str, list[str]] = {}
        for field, problem in problems:
            by_field.setdefault(field or NON_FIELD_ERRORS, []).append(problem)
        raise ValidationError(by_field)
    check_entry(Entry(**{attribute: getattr(entry, attribute) for attribute in ENTRY_ATTRIBUTES}),
                entry.uid or entry.position)
    entry.save()
    Lorebook.objects.filter(pk=entry.lorebook_id).update(updated_at=timezone.now())
    return entry



PLAYER_EDITABLE = ("comment", "keys", "content", "enabled")


def entry_update(*, entry: LoreEntry, changes: dict) -> LoreEntry:
    """A player's edit of an entry (its title, keys, content, on/off), within the caps (``entry_save``)."""
    for attribute in PLAYER_EDITABLE:
        if attribute in changes:
            setattr(entry, attribute, changes[attribute])
    return entry_save(entry)


@transaction.atomic
def entry_delete(entry: LoreEntry) -> None:
    """Delete an entry; it stops firing on the next turn (its book's ``updated_at`` moves, so every process
    rebuilds the book's matcher)."""
    entry.delete()
    Lorebook.objects.filter(pk=entry.lorebook_id).update(updated_at=timezone.now())


@transaction.atomic
def lorebook_delete(book: Lorebook) -> None:
    """Delete a book with its entries; this process forgets its matcher (others never read a book that is gone)."""
    book_id = book.pk
    book.delete()
    _matchers.pop(book_id, None)


# Activation ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class FiredEntry:
    book: str
    entry_id: int
    title: str
    content: str
    reason: str


@dataclass(frozen=True)
class SkippedLore:
    """A book's entries this turn's matching could not check in time (its time budget, or a slow regex key)."""

    book: str
    entries: int
    titles: list[str]  # the first ``SKIPPED_TITLES`` of them, for the author to find


@dataclass(frozen=True)
class TurnLore:
    fired: list[FiredEntry]
    skipped: list[SkippedLore]
    cut: list[FiredEntry] = field(default_factory=list)  # matched, but over their book's token budget


SKIPPED_TITLES = 5
_matchers: dict[int, tuple[object, BookMatcher]] = {}  # book id -> (updated_at, matcher), per process


def _matcher(book: dict) -> BookMatcher:
    """The book's matcher, built (its regex keys compiled) once per version of the book and process."""
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


def lore_for_turn(*, story_id, action: str, recent: list[str], seed: str) -> TurnLore:
    """The entries that fire for this turn, book by book, each book within its own token budget, and
    the entries that could not be checked within the turn's time budget.

    ``recent`` holds the latest turns' text, newest first; a book scans the action and its
    ``scan_depth`` latest turns. Costs one small query per turn while the books are unchanged.
    Matching all the story's books gets ``LORE_TURN_BUDGET_MS`` together, counted once their matchers
    are built (a build happens once per version of a book); each book may use an equal share of what
    is left, so a slow book leaves the others their time. Time is the thread's CPU time, as the regex
    module counts its searches' timeouts: a busy server skips no more lore than an idle one.
    """
    books = list(Lorebook.objects.filter(story_id=story_id, enabled=True).values(
        "id", "name", "updated_at", "scan_depth", "token_budget", "recursive_scanning", "max_recursion_depth"))
    matchers = [_matcher(book) for book in books]
    deadline = thread_time() + settings.LORE_TURN_BUDGET_MS / 1000
    fired, skipped, cut = [], [], []
    for left, (book, matcher) in enumerate(zip(books, matchers, strict=True)):
        now = thread_time()
        texts = [action, *recent[: book["scan_depth"]]]
        result = matcher.activation(texts, seed=seed, deadline=now + max(0.0, deadline - now) / (len(books) - left))
        for hit in result.fired:
            fired.append(FiredEntry(book=book["name"], entry_id=hit.id, title=hit.comment, content=hit.content,
                                    reason=hit.reason))
        cut += [FiredEntry(book=book["name"], entry_id=hit.id, title=hit.comment, content=hit.content,
                           reason=hit.reason) for hit in result.cut]
        if result.skipped:
            skipped.append(SkippedLore(book=book["name"], entries=len(result.skipped),
                                       titles=[entry.comment for entry in result.skipped[:SKIPPED_TITLES]]))
    return TurnLore(fired=fired, skipped=skipped, cut=cut)


# Duplicate books ------------------------------------------------------------------------------

DUPLICATE_SHARE = 0.8  # a book is a duplicate when this share of its entries is already in one of the story's books


def _entry_fingerprint(keys, content: str) -> tuple:
    return tuple(sorted(key.strip().casefold() for key in keys if key.strip())), " ".join(content.split())


@dataclass(frozen=True)
class DuplicateBook:
    """A book of a file whose entries are mostly already in a book of the story (a card's embedded book
    imported again as World Info, say): importing it as it is would fire everything twice."""

    position: int       # the book's place in the file
    name: str
    existing_id: int    # the story's book that already holds them
    existing_name: str
    shared: int         # how many of the file book's entries that book holds
    entries: int


def books_duplicated(*, story_id, books: list[Book]) -> list[DuplicateBook]:
    """The file's books that duplicate one of the story's books (``DUPLICATE_SHARE`` of their entries)."""
    held: dict[int, set[tuple]] = {}
    names = dict(Lorebook.objects.filter(story_id=story_id).values_list("id", "name"))
    for book_id, keys, content in LoreEntry.objects.filter(story_id=story_id).values_list(
            "lorebook_id", "keys", "content"):
        held.setdefault(book_id, set()).add(_entry_fingerprint(keys, content))
    duplicates = []
    for position, book in enumerate(books):
        mine = {_entry_fingerprint(entry.keys, entry.content) for entry in book.entries}
        if not mine:
            continue
        best = max(held.items(), key=lambda item: (len(mine & item[1]), -item[0]), default=None)
        if best is not None and len(mine & best[1]) >= DUPLICATE_SHARE * len(mine):
            duplicates.append(DuplicateBook(position=position, name=book.name, existing_id=best[0],
                                            existing_name=names[best[0]], shared=len(mine & best[1]),
                                            entries=len(mine)))
    return duplicates


@transaction.atomic
def book_entries_merge(*, lorebook: Lorebook, book: Book) -> int:
    """Add to ``lorebook`` the entries of ``book`` it does not hold yet (same keys and content); returns how many."""
    held = {_entry_fingerprint(keys, content) for keys, content in lorebook.entries.values_list("keys", "content")}
    new = [entry for entry in book.entries if _entry_fingerprint(entry.keys, entry.content) not in held]
    if not new:
        return 0
    problems = story_limit_problems(story_id=lorebook.story_id, books=0, entries=len(new))
    regex_keys = lore_limits.regex_keys([(entry.keys, entry.secondary_keys) for entry in new]
                                        + list(lorebook.entries.values_list("keys", "secondary_keys")))
    problems += lore_limits.book_problems(name=lorebook.name, entries=lorebook.entries.count() + len(new),
                                          regex_keys=len(regex_keys))
    if problems:
        raise ValidationError({"file": problems})
    start = (lorebook.entries.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    LoreEntry.objects.bulk_create([
        LoreEntry(user_id=lorebook.user_id, lorebook=lorebook, story_id=lorebook.story_id, position=start + offset,
                  source_fields=fields_text(entry.source_fields),
                  **{attribute: getattr(entry, attribute) for attribute in ENTRY_ATTRIBUTES})
        for offset, entry in enumerate(new)], batch_size=500)
    Lorebook.objects.filter(pk=lorebook.pk).update(updated_at=timezone.now())
    return len(new)
