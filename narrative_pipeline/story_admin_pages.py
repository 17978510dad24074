"""The chapter pages of the story admin: preview the chapters in a state, import a file into the story,
download its lore. They live with the stories because a whole story is read from and written to a file
here (``lore_files``); the story admin adds them with ``story_admin_urls``."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from accounts.throttles import rate_limited
from chapters.lore import importers
from core.contracts import StoryState

from . import lore_files, selectors
from .services import can_change_story


class LoreUploadForm(forms.Form):
    file = forms.FileField(help_text="A SillyTavern World Info file, a character card (JSON or PNG), a NovelAI "
                                     "lorebook, an Agnai memory book, an Infinite Worlds world or ‹chapter-N› text.")
    lore_format = forms.ChoiceField(label="Format", required=False, help_text="Detected from the content when left "
                                                                              "out.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lore_format"].choices = [("", "Detect")] + [(name, f"{module.LABEL} ({name})") for name, module
                                                                 in importers.FORMATS.items()]


PENDING_UPLOAD_SECONDS = 30 * 60


def _pending_key(request, token: str) -> str:
    return f"lore-upload:{request.user.pk}:{token}"


def chapters_upload_view(model_admin, request, story_id):
    """Upload a file into a story in two steps: a preview of what it will create, then the import
    (all or nothing, the failing entry and field named). Between the two the file waits in the cache."""
    story = get_object_or_404(model_admin.get_queryset(request), pk=story_id)
    if not can_change_story(request.user, story):
        raise Http404
    form = LoreUploadForm(request.POST or None, request.FILES or None)
    context = {**model_admin.admin_site.each_context(request), "story": story, "opts": model_admin.model._meta,
               "title": f"Import a file into “{story.title}”", "formats": importers.FORMATS}
    token = request.POST.get("token", "")
    if request.method == "POST" and token:
        pending = cache.get(_pending_key(request, token))
        if pending is None:
            messages.error(request, "That upload has expired; choose the file again.")
            return redirect("admin:story-chapters-upload", story.pk)
        try:
            result = lore_files.import_file(user=request.user, story=story, **pending)
        except ValidationError as error:  # shown above a fresh upload form (an unbound form takes no errors)
            form = LoreUploadForm()
            messages.error(request, "; ".join(error.messages))
        else:
            cache.delete(_pending_key(request, token))
            entries = sum(book["entries"] for book in result["lorebooks"])
            messages.success(request, f"Imported {pending['filename']} ({result['format']}) into “{story.title}”: "
                                      f"{entries} lore entries, {len(result['characters'])} character(s), "
                                      f"chapters {result['chapters'] or 'none'}.")
            return redirect("admin:narrative_pipeline_story_change", story.pk)
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            importers.check_size(upload.size)  # before reading it
        except importers.FormatError as error:
            form.add_error("file", str(error))
        else:
            pending = {"data": upload.read(), "lore_format": form.cleaned_data["lore_format"] or None,
                       "filename": upload.name}
            try:
                parsed = lore_files.read(**pending, story=story)
            except ValidationError as error:
                form.add_error("file", "; ".join(error.messages))
            else:
                token = secrets.token_urlsafe(16)
                cache.set(_pending_key(request, token), pending, PENDING_UPLOAD_SECONDS)
                context.update(preview=lore_files.preview(parsed), token=token, filename=upload.name,
                               title=f"Import {upload.name} into “{story.title}”?")
                return render(request, "admin/chapters/upload_preview.html", context)
    context["form"] = form
    return render(request, "admin/chapters/upload.html", context)


def chapters_download_view(model_admin, request, story_id):
    """The story's lore, cast and chapters in a format (``?lore_format=…``, ``&container=png`` for a card)."""
    story = get_object_or_404(model_admin.get_queryset(request), pk=story_id)
    try:
        return lore_files.export_response(story=story, lore_format=request.GET.get("lore_format", "chapter_text"),
                                          container=request.GET.get("container", ""))
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
        return redirect("admin:story-chapters-upload", story.pk)


class PreviewForm(forms.Form):
    location = forms.CharField(required=False, max_length=200)
    present_characters = forms.CharField(required=False, max_length=2_000, help_text="Separate with commas.")
    inventory = forms.CharField(required=False, max_length=2_000, help_text="Separate with commas.")
    flags = forms.CharField(required=False, max_length=2_000, help_text="Separate with commas.")
    turn = forms.IntegerField(required=False, min_value=0)

    def state(self, story_state: dict) -> StoryState:
        data = self.cleaned_data
        return StoryState(location=data["location"], **{
            key: [part.strip() for part in data[key].split(",") if part.strip()]
            for key in ("present_characters", "inventory", "flags")}) if self.is_bound else StoryState(**story_state)


def chapters_preview_view(model_admin, request, story_id):
    """Given a state (the story's own, or one typed in): which chapters are available, which would
    activate, their divergence and tier, and what the Strategist would see."""
    story = get_object_or_404(model_admin.get_queryset(request), pk=story_id)
    next_turn = selectors.turn_number_next(story=story)
    initial = {"location": story.state.get("location", ""), "turn": next_turn, **{
        key: ", ".join(story.state.get(key, [])) for key in ("present_characters", "inventory", "flags")}}
    form = PreviewForm(request.POST or None, initial=initial)
    state = form.state(story.state) if form.is_bound and form.is_valid() else StoryState(**story.state)
    turn = (form.cleaned_data.get("turn") if form.is_bound and form.is_valid() else None) or next_turn
    views, brief = selectors.chapters_preview(story=story, state=state, turn_number=turn)
    context = {**model_admin.admin_site.each_context(request), "form": form, "story": story, "views": views,
               "brief": brief, "turn": turn, "title": f"Preview the chapters of “{story.title}”",
               "opts": model_admin.model._meta}
    return render(request, "admin/chapters/preview.html", context)


def story_admin_urls(model_admin) -> list:
    """The chapter pages the story admin adds to its own: preview, upload, download."""
    wrap = model_admin.admin_site.admin_view
    return [
        path("<uuid:story_id>/chapters/preview/", wrap(lambda request, story_id: chapters_preview_view(
            model_admin, request, story_id)), name="story-chapters-preview"),
        path("<uuid:story_id>/chapters/upload/", wrap(rate_limited("imports")(
            lambda request, story_id: chapters_upload_view(model_admin, request, story_id))),
             name="story-chapters-upload"),
        path("<uuid:story_id>/chapters/download/", wrap(lambda request, story_id: chapters_download_view(
            model_admin, request, story_id)), name="story-chapters-download"),
    ]
