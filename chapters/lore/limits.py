"""How much lore a story may hold: the caps every write of lore is checked against.

A turn's key matching grows with the regex keys it searches and the texts it scans, and each book is
compiled into a matcher from all of its entries, so unbounded books let one user burn the server's CPU
(200 regex keys once made a turn take 10 s; a 100,000-entry book, 4 s a turn). Each rule is written here
once, as a function returning the problems found (empty within the caps), each message naming the limit
and the figures. Every path that writes lore asks them: imports of every format (``lore.check_book``,
``lore.books_import``), the admin's forms and saves (``lore.entry_limit_problems``,
``lore.story_limit_problems``), and the copies of a published world (``lore.lore_apply``: syncs, their undo,
forks). The limits are settings (``LORE_MAX_*``), read on each call so tests and operators can change them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings

from .activation import is_regex_key


@dataclass(frozen=True)
class LoreLimits:
    entries_per_book: int
    books_per_story: int
    entries_per_story: int
    key_length: int
    keys_per_entry: int      # primary and secondary keys together
    regex_keys_per_book: int  # different regex keys: the same key in many entries is compiled and searched once
    content_length: int      # characters


def limits() -> LoreLimits:
    return LoreLimits(
        entries_per_book=settings.LORE_MAX_ENTRIES_PER_BOOK, books_per_story=settings.LORE_MAX_BOOKS_PER_STORY,
        entries_per_story=settings.LORE_MAX_ENTRIES_PER_STORY, key_length=settings.LORE_MAX_KEY_LENGTH,
        keys_per_entry=settings.LORE_MAX_KEYS_PER_ENTRY, regex_keys_per_book=settings.LORE_MAX_REGEX_KEYS_PER_BOOK,
        content_length=settings.LORE_MAX_CONTENT_LENGTH)


def entry_problems(*, keys: Sequence[str], secondary_keys: Sequence[str], content: str) -> list[tuple[str, str]]:
    """One entry's problems as (field, message); the message reads after "entry 12, field 'keys': "."""
    caps = limits()
    problems = []
    count = len(keys) + len(secondary_keys)
    if count > caps.keys_per_entry:
        problems.append(("keys", f"{count:,} keys (primary and secondary together); the limit is "
                                 f"{caps.keys_per_entry:,} keys per entry."))
    for field, written in (("keys", keys), ("secondary_keys", secondary_keys)):
        too_long = next((key for key in written if len(key) > caps.key_length), None)
        if too_long is not None:
            problems.append((field, f"a key of {len(too_long):,} characters ({too_long[:30]!r}…); the limit is "
                                    f"{caps.key_length:,} characters per key."))
    if len(content) > caps.content_length:
        problems.append(("content", f"{len(content):,} characters; the limit is {caps.content_length:,} "
                                    "characters per entry."))
    return problems


def regex_keys(entries: Iterable[tuple[Sequence[str], Sequence[str]]]) -> set[str]:
    """The different regex keys of a book's entries, each given as (keys, secondary keys)."""
    return {key for keys, secondary in entries for key in (*keys, *secondary) if is_regex_key(key)}


def book_problems(*, name: str, entries: int, regex_keys: int) -> list[str]:
    caps = limits()
    problems = []
    if entries > caps.entries_per_book:
        problems.append(f"The book “{name}” has {entries:,} entries; the limit is {caps.entries_per_book:,} "
                        "entries per book.")
    if regex_keys > caps.regex_keys_per_book:
        problems.append(f"The book “{name}” has {regex_keys:,} different regex keys; the limit is "
                        f"{caps.regex_keys_per_book:,} regex keys per book.")
    return problems


def story_problems(*, books: int, entries: int) -> list[str]:
    """The story's totals, counted as they would be after the write."""
    caps = limits()
    problems = []
    if books > caps.books_per_story:
        problems.append(f"The story would hold {books:,} lorebooks; the limit is {caps.books_per_story:,} "
                        "books per story.")
    if entries > caps.entries_per_story:
        problems.append(f"The story would hold {entries:,} lore entries; the limit is "
                        f"{caps.entries_per_story:,} entries per story.")
    return problems
