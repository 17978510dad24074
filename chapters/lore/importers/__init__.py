"""Lore and world formats: one module per format, one registry, detection from the content.

Each format module has ``NAME``, ``LABEL``, ``detect(value)`` (on parsed JSON), ``parse(text)``
returning a ``LoreDocument`` and ``write(document)`` returning ``Written`` (text plus what the
format could not carry).
"""

from __future__ import annotations

import json

from ... import json_limits
from . import agnai_memory, card_v2, card_v3, chapter_text, iw_world, novelai_lorebook, png, st_worldinfo
from .document import FormatError, LoreDocument, Written

FORMATS = {module.NAME: module for module in (
    chapter_text, st_worldinfo, card_v2, card_v3, iw_world, novelai_lorebook, agnai_memory)}
CARD_FORMATS = (card_v2.NAME, card_v3.NAME)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024

__all__ = ["FORMATS", "CARD_FORMATS", "FormatError", "LoreDocument", "Written", "Upload", "read_upload", "write"]


class Upload:
    """A file as uploaded: its document text (a PNG's card JSON), its format, and the PNG itself."""

    def __init__(self, *, text: str, lore_format: str, image: bytes | None, document: LoreDocument):
        self.text, self.lore_format, self.image, self.document = text, lore_format, image, document


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FormatError(f"the file is neither a PNG nor UTF-8 text (bad byte at {error.start}).") from error


def detect(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            value = json_limits.loads(text)
        except json.JSONDecodeError as error:
            raise FormatError(f"the file is not valid JSON ({error.msg} at line {error.lineno}, "
                              f"column {error.colno}).") from error
        except json_limits.UntrustedInputError as error:
            raise FormatError(str(error)) from error
        for name, module in FORMATS.items():
            if name != chapter_text.NAME and module.detect(value):
                return name
        raise FormatError("this JSON is none of the known formats; name the format "
                          f"({', '.join(FORMATS)}).")
    if chapter_text.detect(text):
        return chapter_text.NAME
    raise FormatError("the file is not JSON, a PNG card or ‹chapter-N› text.")


def check_size(size: int) -> None:
    """Refuse a file over the limit (callers with an upload check its size before reading it)."""
    if size > MAX_UPLOAD_BYTES:
        raise FormatError(f"the file is {size:,} bytes; the limit is {MAX_UPLOAD_BYTES:,}.")


def read_upload(data: bytes, *, lore_format: str | None = None, filename: str = "") -> Upload:
    """Parse an uploaded file, all or nothing; raises ``FormatError`` naming what is wrong."""
    check_size(len(data))
    if lore_format is not None and lore_format not in FORMATS:
        raise FormatError(f"unknown format {lore_format!r}; the formats are {', '.join(FORMATS)}.")
    image = None
    if png.is_png(data):
        if lore_format not in (None, *CARD_FORMATS):
            raise FormatError(f"a PNG image can only be a character card, not {lore_format}.")
        image, text = data, png.card_text(data)
    else:
        text = _decoded(data)
    try:  # PostgreSQL refuses NUL in text: a 500 unless refused here, for every format
        json_limits.check_text(text, "the file")
    except json_limits.UntrustedInputError as error:
        raise FormatError(str(error)) from error
    found = detect(text)
    if lore_format is not None and found != lore_format:
        raise FormatError(f"the file is not {lore_format}: it looks like {found}.")
    lore_format = lore_format or found
    stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return Upload(text=text, lore_format=lore_format, image=image,
                  document=FORMATS[lore_format].parse(text, name=stem))


def write(document: LoreDocument, lore_format: str) -> Written:
    if lore_format not in FORMATS:
        raise FormatError(f"unknown format {lore_format!r}; the formats are {', '.join(FORMATS)}.")
    return FORMATS[lore_format].write(document)
