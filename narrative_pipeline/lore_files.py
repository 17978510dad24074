"""A story's lore and world files: import (all or nothing), preview, export, and new stories
straight from a card or a world.

The formats are read and written by ``chapters.lore.importers``; this module puts what a file
carries in its place: story fields and cast here in the core, lorebooks and chapters through
the chapters app. Each import keeps the file as it came (``LoreSource``), so exporting
unchanged content in the same format gives the same bytes back.
"""

from __future__ import annotations

from dataclasses import asdict, replace

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpResponse

from accounts.rls import acting_as
from chapters import services as chapter_services
from chapters.knowledge import services as knowledge_services
from chapters.lore import importers
from chapters.lore import services as chapter_lore
from chapters.lore.importers import document as doc
from chapters.lore.macros import macros_filled
from chapters.models import Knowledge, Lorebook, LoreSource, StoryChapter

from . import quota_accounting
from .models import Character, Story
from .selectors import cast_names, character_names
from .services import character_names_check, state_merged, story_create, turn_opening

CHARACTER_ATTRIBUTES = ("name", "description", "personality", "scenario", "first_message", "example_messages",
                        "alternate_greetings", "system_prompt", "post_history_instructions", "is_player",
                        "source_format", "factions", "known_by", "reveal_when")
STORY_ATTRIBUTES = ("title", "premise", "setting", "memory", "authors_note")
CONTENT_TYPES = {"chapter_text": ("text/plain; charset=utf-8", "txt")}


def _invalid(error: importers.FormatError, field: str = "file") -> ValidationError:
    return ValidationError({field: [str(error)]})


def read(data: bytes, *, lore_format: str | None = None, filename: str = "", story: Story | None = None
         ) -> importers.Upload:
    """Parse and check an uploaded file without saving anything; ``ValidationError`` names the problem. The
    file's chapters are checked with ``story``'s own (read as the caller), which they may require."""
    try:
        upload = importers.read_upload(data, lore_format=lore_format or None, filename=filename)
        upload.warnings = [warning for book in upload.document.books for warning in chapter_lore.check_book(book)]
        if upload.document.chapters:
            existing = [] if story is None else [chapter_services.chapter_as_dict(chapter) for chapter
                                                 in StoryChapter.objects.filter(story=story)]
            chapter_services.check_set(existing + _chapters_numbered(upload, story))
    except importers.FormatError as error:
        raise _invalid(error, "format" if str(error).startswith("unknown format") else "file") from error
    return upload


def _chapters_numbered(upload: importers.Upload, story: Story | None) -> list[dict]:
    """The file's chapters as they will be saved into ``story``: ‹chapter-N› text keeps its numbers; other
    formats number theirs by position, after the story's own chapters."""
    chapters = upload.document.chapters
    if story is not None and upload.lore_format != "chapter_text":
        last = StoryChapter.objects.filter(story=story).aggregate(last=Max("number"))["last"]
        chapters = chapter_services.chapters_renumbered(chapters, last or 0)
    return [{"source": StoryChapter.Source.IMPORTED, **chapter} for chapter in chapters]


DUPLICATE_CHOICES = {"merge": "Merge into what is already here (a book gains the entries it lacks, a character "
                              "takes the file's fields and portrait)",
                     "skip": "Skip it",
                     "import": "Import anyway (a book's entries fire twice; a character comes in as a second one, "
                               "numbered)"}


def _characters_duplicated(story: Story, characters: list) -> dict[int, Character]:
    """The file's characters (by position) that one of the story's already is: the same name, case and outer
    spaces aside (``services.character_names_check``), so the player chooses what to do with each."""
    existing = {character.name.strip().casefold(): character for character in Character.objects.filter(story=story)}
    return {position: existing[character.name.strip().casefold()] for position, character in enumerate(characters)
            if character.name.strip().casefold() in existing}


def _name_numbered(name: str, taken: set[str]) -> str:
    """``name`` with the lowest free number after it, "Orla (2)", so a second Orla is told apart."""
    number = 2
    while f"{name} ({number})".casefold() in taken:
        number += 1
    return f"{name} ({number})"


def preview(upload: importers.Upload, *, story: Story | None = None) -> dict:
    """What an import would create, for the confirmation step: with ``story``, also the file's books
    that duplicate one of the story's (``chapter_lore.books_duplicated``), for the player to choose."""
    document = upload.document
    duplicates = [] if story is None else chapter_lore.books_duplicated(story_id=story.pk, books=document.books)
    characters = {} if story is None else _characters_duplicated(story, document.characters)
    return {
        "duplicates": [asdict(duplicate) for duplicate in duplicates],
        "duplicate_characters": [{"name": document.characters[position].name, "existing_name": existing.name}
                                 for position, existing in characters.items()],
        "format": upload.lore_format, "label": importers.FORMATS[upload.lore_format].LABEL,
        "story": asdict(document.story) if document.story else None,
        "books": [{"name": book.name, "entries": [{"title": entry.comment, "keys": entry.keys,
                                                    "constant": entry.constant, "content": entry.content[:300]}
                                                   for entry in book.entries]} for book in document.books],
        "characters": [{"name": c.name, "description": c.description[:300], "is_player": c.is_player}
                       for c in document.characters],
        "chapters": [{"number": c["number"], "title": c["title"]} for c in document.chapters],
        "warnings": getattr(upload, "warnings", []),
    }


def _summary(upload, books, characters, chapters) -> dict:
    return {"format": upload.lore_format,
            "lorebooks": [{"id": book.pk, "name": book.name, "entries": book.entries.count()} for book in books],
            "characters": [character.name for character in characters],
            "chapters": [chapter.number for chapter in chapters],
            "warnings": getattr(upload, "warnings", [])}


def import_file(*, user, story: Story, data: bytes, lore_format: str | None = None, filename: str = "",
                duplicates: str = "import") -> dict:
    """Import a file into a story: all of it, or (on any error) nothing, the story's lore untouched.
    A book or a character that duplicates one of the story's is merged into it, skipped or imported anyway
    (``duplicates``: a key of ``DUPLICATE_CHOICES``; a character imported anyway takes a numbered name)."""
    if duplicates not in DUPLICATE_CHOICES:
        raise ValidationError({"duplicates": [f"Choose one of {', '.join(DUPLICATE_CHOICES)}."]})
    with acting_as(user), transaction.atomic():
        story = Story.objects.select_for_update().get(pk=story.pk)
        upload = read(data, lore_format=lore_format, filename=filename, story=story)
        found = [] if duplicates == "import" else chapter_lore.books_duplicated(story_id=story.pk,
                                                                               books=upload.document.books)
        doubled = {duplicate.position: duplicate for duplicate in found}
        books = upload.document.books
        upload.document.books = [book for position, book in enumerate(books) if position not in doubled]
        characters, merged_characters, renamed = upload.document.characters, [], {}
        same_names = _characters_duplicated(story, characters)
        if duplicates == "import":
            taken = character_names(story=story) | {c.name.strip().casefold() for c in characters}
            for position in same_names:
                new_name = _name_numbered(characters[position].name.strip(), taken)
                taken.add(new_name.casefold())
                renamed[characters[position].name] = new_name
                characters[position] = replace(characters[position], name=new_name)
        else:
            merged_characters = [(same_names[position], characters[position]) for position in same_names
                                 if duplicates == "merge"]
            upload.document.characters = [c for position, c in enumerate(characters) if position not in same_names]
        summary = _save(user=user, story=story, upload=upload, filename=filename, fill_story=False,
                        merged_characters=merged_characters)
        summary["merged"] = {duplicate.existing_name: chapter_lore.book_entries_merge(
            lorebook=Lorebook.objects.get(pk=duplicate.existing_id), book=books[duplicate.position])
            for duplicate in found if duplicates == "merge"}
        summary["skipped_books"] = [duplicate.name for duplicate in found if duplicates == "skip"]
        summary["skipped_characters"] = [existing.name for existing in same_names.values() if duplicates == "skip"]
        summary["renamed_characters"] = renamed
        return summary


def _character_merge(character: Character, card: doc.Character, *, portrait: LoreSource | None) -> None:
    """The file's character onto the story's one of the same name: each field the file fills replaces the
    story's; the name and whether it is the player stay; a card's image becomes the portrait."""
    changed = [attribute for attribute in CHARACTER_ATTRIBUTES if attribute not in ("name", "is_player")
               and getattr(card, attribute) and getattr(card, attribute) != getattr(character, attribute)]
    for attribute in changed:
        setattr(character, attribute, getattr(card, attribute))
    if card.source_fields:
        character.source_fields = doc.fields_text(card.source_fields)
        changed.append("source_fields")
    if portrait is not None and not character.is_player:
        character.portrait_source = portrait
        changed.append("portrait_source")
    if changed:
        character.save(update_fields=changed)


def _save(*, user, story: Story, upload: importers.Upload, filename: str, fill_story: bool,
          merged_characters: list[tuple[Character, doc.Character]] = ()) -> dict:
    document = upload.document
    size = len(upload.text.encode()) + len(upload.image or b"")
    quota_accounting.story_add(user=user, story=story, delta=size)
    applied = _apply_story_info(story, document.story, fill_story=fill_story)
    source = LoreSource.objects.create(user_id=story.user_id, story=story, lore_format=upload.lore_format,
                                       filename=filename[:255], text=upload.text, image=upload.image,
                                       story_fields=applied)
    character_names_check(story=story, names=[character.name for character in document.characters], field="file")
    portrait = source if upload.image and upload.lore_format in importers.CARD_FORMATS else None
    for character, card in merged_characters:
        _character_merge(character, card, portrait=portrait)
    characters = [Character.objects.create(
        user_id=story.user_id, story=story, source_fields=doc.fields_text(character.source_fields),
        portrait_source=portrait if not character.is_player else None,
        **{attribute: getattr(character, attribute) for attribute in CHARACTER_ATTRIBUTES})
        for character in document.characters]
    books = chapter_lore.books_import(story_id=story.pk, user_id=story.user_id, books=document.books, source=source)
    for secret in document.secrets:  # a file's own visibility flags (issue #20), ref'd for export
        knowledge_services.knowledge_add(story_id=story.pk, user_id=story.user_id, fact=secret.fact,
                                         known_by=secret.known_by, reveal_when=secret.reveal_when,
                                         source=Knowledge.Source.FLAG,
                                         source_ref=f"{upload.lore_format}:{secret.ref}")
    chapters = []
    if document.chapters:
        try:
            with transaction.atomic():
                chapters = chapter_services.chapters_import(story_id=story.pk, user_id=story.user_id,
                                                            chapters=_chapters_numbered(upload, story))
        except IntegrityError as error:
            raise ValidationError({"file": ["A chapter number in the file is already taken in this story."]}) \
                from error
    summary = _summary(upload, books, characters, chapters)
    summary["merged_characters"] = [character.name for character, _ in merged_characters]
    return summary


def _apply_story_info(story: Story, info: doc.StoryInfo | None, *, fill_story: bool) -> list[str]:
    """A world's fields onto the story: all of them for a new story, only the empty ones otherwise.
    Returns the fields it filled; the others stay the world's own, for export."""
    if info is None:
        return []
    changed = []
    for attribute in STORY_ATTRIBUTES:
        value = getattr(info, attribute)
        if value and (fill_story or not getattr(story, attribute)):
            setattr(story, attribute, value[:200] if attribute == "title" else value)
            changed.append(attribute)
    if info.state.get("tracked"):
        story.state = state_merged(story.state, {"tracked": {**info.state["tracked"],
                                                             **story.state.get("tracked", {})}})
        changed.append("state")
    if changed:
        story.save(update_fields=changed)
    return [attribute for attribute in changed if attribute != "state"]


def story_from_file(*, user, data: bytes, lore_format: str | None = None, filename: str = "",
                    lore_only_title: str = "") -> Story:
    """A new story from a character card or a world: the card's character (or the world's cast),
    its lore and chapters, and the first message (or the world's background) as turn 1. A file of lore
    alone (World Info, a NovelAI or Agnai book) starts a story only given ``lore_only_title``."""
    upload = read(data, lore_format=lore_format, filename=filename)
    document = upload.document
    if not document.characters and document.story is None and lore_only_title.strip():
        document.story = doc.StoryInfo(title=lore_only_title.strip())
    elif not document.characters and document.story is None:
        raise ValidationError({"file": [f"A {importers.FORMATS[upload.lore_format].LABEL} holds no character "
                                        "or world to start a story from; import it into a story instead."]})
    info = document.story or doc.StoryInfo()
    # The card's character, or the world's first non-player character (else its player character).
    lead = next((c for c in document.characters if not c.is_player), None) or next(iter(document.characters), None)
    title = info.title or (lead.name if lead else "") or "Imported story"
    opening = (lead.first_message if lead and lead.first_message else "") or info.setting
    with transaction.atomic():
        story = story_create(user=user, title=title[:200], premise=info.premise or (lead.scenario if lead else ""))
        with acting_as(user):
            story = Story.objects.select_for_update().get(pk=story.pk)
            _save(user=user, story=story, upload=upload, filename=filename, fill_story=True)
        with acting_as(user):  # the player reads the greeting and the premise with the cast's names
            names = cast_names(story=story)
            premise = macros_filled(story.premise, **names)
            if premise != story.premise:
                story.premise = premise
                story.save(update_fields=["premise"])
        if opening.strip():
            turn_opening(user=user, story=story, prose=macros_filled(opening, **names))
    return story


def _document(story: Story) -> doc.LoreDocument:
    """The story's content as a format-neutral document (lorebooks, cast, chapters, world fields)."""
    characters = [doc.Character(source_fields=doc.fields_from_text(row.source_fields),
                                **{attribute: getattr(row, attribute) for attribute in CHARACTER_ATTRIBUTES})
                  for row in Character.objects.filter(story=story).order_by("created_at", "id")]
    world = LoreSource.objects.filter(story=story, lore_format="iw_world").order_by("-created_at").first()
    info = doc.StoryInfo(**{attribute: getattr(story, attribute) for attribute in STORY_ATTRIBUTES},
                         state={"tracked": story.state["tracked"]} if story.state.get("tracked") else {})
    if world is not None:
        imported = importers.FORMATS["iw_world"].parse(world.text).story
        info.source_format, info.source_fields = imported.source_format, imported.source_fields
        for attribute in STORY_ATTRIBUTES:  # a field the story already had stays the world's own
            if attribute not in world.story_fields:
                setattr(info, attribute, getattr(imported, attribute))
    secrets = [doc.Secret(fact=row.fact, known_by=row.known_by, reveal_when=row.reveal_when,
                          ref=row.source_ref.split(":", 1)[1])
               for row in Knowledge.objects.filter(story=story, source=Knowledge.Source.FLAG,
                                                   source_ref__contains=":").order_by("id")]
    return doc.LoreDocument(books=chapter_lore.story_books(story_id=story.pk), characters=characters,
                            chapters=chapter_services.chapters_export(story_id=story.pk), story=info,
                            secrets=secrets)


def export_response(*, story: Story, lore_format: str, container: str = "") -> HttpResponse:
    """The export as a download; the ``Luna-Dropped`` header lists what the format could not carry."""
    body, content_type, filename, dropped = export_file(story=story, lore_format=lore_format, container=container)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if dropped:  # headers are ASCII
        response["Luna-Dropped"] = "; ".join(dropped).encode("ascii", "replace").decode("ascii")
    return response


def export_file(*, story: Story, lore_format: str, container: str = "") -> tuple[bytes, str, str, list[str]]:
    """(file bytes, content type, file name, what the format could not carry).

    Unchanged content in the format it came from gives the imported file back byte for byte."""
    if lore_format not in importers.FORMATS:
        raise ValidationError({"format": [f"Unknown format {lore_format!r}; the formats are "
                                          f"{', '.join(importers.FORMATS)}."]})
    if container not in ("", "json", "png") or (container == "png" and lore_format not in importers.CARD_FORMATS):
        raise ValidationError({"container": ["container=png is for character cards (card_v2, card_v3) only."]})
    try:
        written = importers.write(_document(story), lore_format)
    except importers.FormatError as error:
        raise ValidationError({"format": [str(error)]}) from error
    source = LoreSource.objects.filter(story=story, lore_format=lore_format).order_by("-created_at").first()
    module = importers.FORMATS[lore_format]
    unchanged = source is not None and module.write(module.parse(source.text)).text == written.text
    text = source.text if unchanged else written.text
    image = bytes(source.image) if source is not None and source.image else None
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in story.title)[:60] or "story"
    if container == "png":
        keyword = "ccv3" if lore_format == "card_v3" else "chara"
        body = image if unchanged and image else importers.png.card_png(text, keyword=keyword, image=image)
        return body, "image/png", f"{stem}.png", written.dropped
    content_type, extension = CONTENT_TYPES.get(lore_format, ("application/json", "json"))
    return text.encode("utf-8"), content_type, f"{stem}.{lore_format}.{extension}", written.dropped
