"""The player's lore pages: a story from a file, the story's lorebooks (read, edit, disable, import another
file, test keys) and the cast's portraits. Thin: forms, then ``lore_files`` / ``chapters.lore.services`` /
selectors. A file waits in the cache between its preview and its import, keyed by the user."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.quotas import QuotaExceeded
from accounts.throttles import rate_limited
from chapters.lore import importers
from chapters.lore import services as chapter_lore
from chapters.models import LoreEntry

from . import lore_files, selectors
from .forms import LoreEntryForm, LoreFileForm, LoreTestForm

PENDING_UPLOAD_SECONDS = 30 * 60


def _pending_key(request, token: str) -> str:
    return f"player-lore-upload:{request.user.pk}:{token}"


def upload_pending(request, upload, *, story=None, title: str = "") -> tuple[str, dict]:
    """Read an uploaded file (``ValidationError`` if it is bad, nothing kept); keep it for the confirmation
    step. Returns the token naming it and the preview of what it would create. Without ``story`` the file
    starts a new story: a file of lore alone is then named by ``title``, else by the file's name."""
    try:
        importers.check_size(upload.size)  # before reading it
    except importers.FormatError as error:
        raise ValidationError({"file": [str(error)]}) from error
    pending = {"data": upload.read(), "filename": upload.name}
    parsed = lore_files.read(**pending, story=story)
    if story is None:
        lore_only = not parsed.document.characters and parsed.document.story is None
        pending["lore_only_title"] = (title or upload.name.rsplit(".", 1)[0])[:200] if lore_only else ""
    token = secrets.token_urlsafe(16)
    cache.set(_pending_key(request, token), pending, PENDING_UPLOAD_SECONDS)
    return token, {**lore_files.preview(parsed, story=story), "new_title": pending.get("lore_only_title", "")}


def upload_taken(request, token: str) -> dict | None:
    return cache.get(_pending_key(request, token)) if token else None


def upload_done(request, token: str) -> None:
    cache.delete(_pending_key(request, token))


def _lore_url(story_id, anchor: str = "") -> str:
    return reverse("story-lore", args=[story_id]) + anchor


def _lore_page(request, story, *, file_form=None, test_form=None, tested=None, preview=None, token="", status=200):
    return render(request, "narrative_pipeline/story_lore.html", {
        "story": story, "books": selectors.story_lorebooks(story=story),
        "file_form": file_form or LoreFileForm(), "test_form": test_form or LoreTestForm(), "tested": tested,
        "preview": preview, "token": token, "duplicate_choices": lore_files.DUPLICATE_CHOICES,
    }, status=status)


@login_required
def story_lore(request, story_id):
    """The story's books and entries, the key tester (``?action=…``) and the import form."""
    story = selectors.story_get(user=request.user, story_id=story_id)
    test_form, tested = LoreTestForm(request.GET or None), None
    if test_form.is_bound and test_form.is_valid():
        tested = selectors.lore_tested(story=story, action=test_form.cleaned_data["action"])
    return _lore_page(request, story, test_form=test_form, tested=tested)


@login_required
@require_POST
@rate_limited("imports")
def story_lore_import(request, story_id):
    """Step 1: a file, shown as a preview (with its duplicate books); step 2: the token and the player's choice
    for duplicates, imported all or nothing."""
    story = selectors.story_get(user=request.user, story_id=story_id)
    token = request.POST.get("token", "")
    if token:
        pending = upload_taken(request, token)
        if pending is None:
            messages.error(request, "That upload has expired; choose the file again.")
            return redirect(_lore_url(story.pk, "#lore-import"))
        try:
            result = lore_files.import_file(user=request.user, story=story, **pending,
                                            duplicates=request.POST.get("duplicates", "import"))
        except (ValidationError, QuotaExceeded) as error:
            messages.error(request, "; ".join(getattr(error, "messages", None) or [str(error)]))
            return redirect(_lore_url(story.pk, "#lore-import"))
        upload_done(request, token)
        messages.success(request, _import_summary(pending["filename"], result))
        return redirect(_lore_url(story.pk))
    form = LoreFileForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            token, preview = upload_pending(request, form.cleaned_data["file"], story=story)
        except ValidationError as error:
            form.add_error("file", "; ".join(error.messages))
        else:
            return _lore_page(request, story, preview=preview, token=token)
    return _lore_page(request, story, file_form=form, status=400)


def _import_summary(filename: str, result: dict) -> str:
    entries = sum(book["entries"] for book in result["lorebooks"])
    parts = [f"Imported {filename}: {entries} lore entr{'y' if entries == 1 else 'ies'} in "
             f"{len(result['lorebooks'])} book(s), {len(result['characters'])} character(s)"]
    parts += [f"merged {added} new entr{'y' if added == 1 else 'ies'} into “{name}”"
              for name, added in result.get("merged", {}).items()]
    parts += [f"skipped “{name}” (already here)" for name in result.get("skipped_books", [])]
    parts += [f"updated the character “{name}” from the file" for name in result.get("merged_characters", [])]
    parts += [f"kept the character “{name}” as it was" for name in result.get("skipped_characters", [])]
    parts += [f"added a second “{name}” as “{new_name}”"
              for name, new_name in result.get("renamed_characters", {}).items()]
    return "; ".join(parts) + "."


def _entry(request, story_id, entry_id) -> tuple:
    story = selectors.story_get(user=request.user, story_id=story_id)
    return story, get_object_or_404(LoreEntry.objects.select_related("lorebook"), story=story, pk=entry_id)


@login_required
def lore_entry_edit(request, story_id, entry_id):
    story, entry = _entry(request, story_id, entry_id)
    form = LoreEntryForm(request.POST or None, initial={
        "comment": entry.comment, "keys": ", ".join(entry.keys), "content": entry.content, "enabled": entry.enabled})
    if request.method == "POST" and form.is_valid():
        try:
            chapter_lore.entry_update(entry=entry, changes=form.cleaned_data)
        except (ValidationError, importers.FormatError) as error:
            form.add_error(None, "; ".join(getattr(error, "messages", None) or [str(error)]))
        else:
            messages.success(request, f"Saved “{entry.comment or ', '.join(entry.keys) or 'the entry'}”.")
            return redirect(_lore_url(story.pk, f"#entry-{entry.pk}"))
    return render(request, "narrative_pipeline/lore_entry.html", {"story": story, "entry": entry, "form": form},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def lore_entry_toggle(request, story_id, entry_id):
    story, entry = _entry(request, story_id, entry_id)
    chapter_lore.entry_update(entry=entry, changes={"enabled": not entry.enabled})
    messages.info(request, f"“{entry.comment or ', '.join(entry.keys)}” is {'on' if entry.enabled else 'off'}.")
    return redirect(_lore_url(story.pk, f"#entry-{entry.pk}"))


@login_required
def character_portrait(request, story_id, character_id):
    """A character's portrait (its card's PNG): the story's owner only, through RLS like every read."""
    story = selectors.story_get(user=request.user, story_id=story_id)
    image = selectors.character_portrait(story=story, character_id=character_id)
    if image is None:
        raise Http404
    response = HttpResponse(image, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
