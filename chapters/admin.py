"""The authors' chapter editor in Django admin: configuration over the chapter services."""

from __future__ import annotations

import difflib
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from . import lore, services
from .models import ChapterVersion, StoryChapter

EDITABLE = ["story", "number", "title", "description", "summary", "required_previous_chapters", "blocked_by",
            "trigger_conditions", "critical", "narrative_instructions", "suggested_beats", "allow_divergence",
            "min_similarity_threshold", "visibility", "start_early"]


class ChapterForm(forms.ModelForm):
    class Meta:
        model = StoryChapter
        fields = EDITABLE

    def clean(self):
        """Check the chapter with the story's others: errors name the chapter and the field."""
        cleaned = super().clean()
        story = cleaned.get("story")
        if story is None or self.errors:
            return cleaned
        others = [services.chapter_as_dict(c) for c in StoryChapter.objects.filter(story=story).exclude(
            pk=self.instance.pk)]
        candidate = {field: cleaned.get(field) for field in EDITABLE if field != "story"}
        candidate["suggested_beats"] = candidate["suggested_beats"] or []
        try:
            services.check_set(others + [candidate])
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                for problem in problems:
                    self.add_error(field if field in self.fields else None, problem)
        return cleaned


def _version_text(version: ChapterVersion) -> list[str]:
    beats = [f"- [{beat.get('priority', 'medium')}] {beat['description']}" for beat in version.suggested_beats]
    return [f"title: {version.title}", f"conditions: {json.dumps(version.trigger_conditions, ensure_ascii=False)}",
            *beats, "", *version.narrative_instructions.splitlines()]


@admin.register(StoryChapter)
class StoryChapterAdmin(admin.ModelAdmin):
    form = ChapterForm
    list_display = ["number", "title", "story", "visibility", "source", "current_version"]
    list_display_links = ["number", "title"]
    list_filter = ["story", "visibility", "source"]
    ordering = ["story", "number"]
    search_fields = ["title", "summary"]
    readonly_fields = ["history"]

    @admin.display(description="version")
    def current_version(self, chapter):
        return chapter.versions.count()

    @admin.display(description="Version history")
    def history(self, chapter):
        versions = list(chapter.versions.order_by("number")) if chapter.pk else []
        if not versions:
            return "No versions yet."
        rows = format_html_join("", "<li>v{} · {} · {}: {}</li>", (
            (v.number, v.created_by, v.created_at.strftime("%Y-%m-%d %H:%M"), v.reason) for v in versions))
        diffs = "".join(
            difflib.HtmlDiff(wrapcolumn=70).make_table(  # HtmlDiff escapes the texts it shows
                _version_text(before), _version_text(after), f"v{before.number}", f"v{after.number}", context=True)
            for before, after in zip(versions, versions[1:], strict=False))
        return format_html("<ul>{}</ul>{}", rows, mark_safe(diffs))

    def save_model(self, request, obj, form, change):
        fields = {field: form.cleaned_data[field] for field in EDITABLE if field != "story"}
        if change:
            services.chapter_update(chapter=obj, **{f: fields[f] for f in form.changed_data if f in fields})
        else:
            created = services.chapter_create(story_id=form.cleaned_data["story"].pk,
                                              user_id=form.cleaned_data["story"].user_id, **fields)
            obj.pk = created.pk


class ChaptersUploadForm(forms.Form):
    file = forms.FileField(help_text="A ‹chapter-N› text file (see docs/chapter-format.md).")


def chapters_upload_view(model_admin, request, story_id):
    """Upload chapters into a story: all or nothing, the failing line named."""
    story = get_object_or_404(model_admin.get_queryset(request), pk=story_id)
    form = ChaptersUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = lore.lore_import(story_id=story.pk, user_id=story.user_id, data=form.cleaned_data["file"].read())
        except ValidationError as error:
            form.add_error("file", "; ".join(error.messages))
        else:
            messages.success(request, f"Imported chapters {result['chapters']} into “{story.title}”.")
            return redirect(reverse("admin:chapters_storychapter_changelist") + f"?story__id__exact={story.pk}")
    context = {**model_admin.admin_site.each_context(request), "form": form, "story": story,
               "title": f"Upload chapters into “{story.title}”", "opts": model_admin.model._meta}
    return render(request, "admin/chapters/upload.html", context)


def chapters_download_view(model_admin, request, story_id):
    story = get_object_or_404(model_admin.get_queryset(request), pk=story_id)
    text, content_type = lore.lore_export(story_id=story.pk, lore_format="chapter_text")
    response = HttpResponse(text, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="chapters-{story.pk}.txt"'
    return response


def story_admin_urls(model_admin) -> list:
    """Chapter upload and download, added to the story admin by the core (which knows no chapters)."""
    wrap = model_admin.admin_site.admin_view
    return [
        path("<uuid:story_id>/chapters/upload/", wrap(lambda request, story_id: chapters_upload_view(
            model_admin, request, story_id)), name="story-chapters-upload"),
        path("<uuid:story_id>/chapters/download/", wrap(lambda request, story_id: chapters_download_view(
            model_admin, request, story_id)), name="story-chapters-download"),
    ]
