"""Import and export of a story's chapters and lore by format name (one registry).

The chapters issue brings ``chapter_text``; the lorebook formats register here as well.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from . import chapter_text, services

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
FORMATS = ("chapter_text",)


def detect(text: str) -> str | None:
    return "chapter_text" if "‹chapter-" in text or "<chapter-" in text else None


def lore_import(*, story_id, user_id, data: bytes, lore_format: str | None = None) -> dict:
    """Import a file into a story, all or nothing. Raises ``ValidationError`` with a clear message."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError({"file": [f"The file is {len(data):,} bytes; the limit is {MAX_UPLOAD_BYTES:,}."]})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError({"file": ["The file is not UTF-8 text."]}) from error
    lore_format = lore_format or detect(text)
    if lore_format not in FORMATS:
        raise ValidationError({"format": [f"Unknown or unsupported format {lore_format!r}; "
                                          f"supported: {', '.join(FORMATS)}." if lore_format else
                                          "Could not tell the file's format; name it with the format field."]})
    try:
        chapters = chapter_text.parse(text)
    except chapter_text.ChapterTextError as error:
        raise ValidationError({"file": [str(error)]}) from error
    created = services.chapters_import(story_id=story_id, user_id=user_id, chapters=chapters)
    return {"format": lore_format, "chapters": [chapter.number for chapter in created]}


def lore_export(*, story_id, lore_format: str) -> tuple[str, str]:
    """The story's content in a format: (text, content type)."""
    if lore_format not in FORMATS:
        raise ValidationError({"format": [f"Unknown format {lore_format!r}; supported: {', '.join(FORMATS)}."]})
    return chapter_text.write(services.chapters_export(story_id=story_id)), "text/plain; charset=utf-8"
