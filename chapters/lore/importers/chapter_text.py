"""The ``‹chapter-N›`` chapter format (``chapter_text``, DESIGN §4) as one of the lore formats."""

from __future__ import annotations

from ... import chapter_markup
from .document import FormatError, LoreDocument, Written

NAME = "chapter_text"
LABEL = "Chapters (‹chapter-N› text)"


def detect(text) -> bool:
    return isinstance(text, str) and ("‹chapter-" in text or "<chapter-" in text)


def parse(text: str, *, name: str = "") -> LoreDocument:
    try:
        return LoreDocument(chapters=chapter_markup.parse(text))
    except chapter_markup.ChapterTextError as error:
        raise FormatError(str(error)) from error


def write(document: LoreDocument) -> Written:
    dropped = []
    if document.entry_count():
        dropped.append(f"{document.entry_count()} lore entries: chapter text holds chapters only")
    if document.characters:
        dropped.append(f"{len(document.characters)} character(s): chapter text holds chapters only")
    return Written(chapter_markup.write(document.chapters), dropped)
