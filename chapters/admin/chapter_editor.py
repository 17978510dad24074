"""The authors' chapter editor in Django admin: configuration over the chapter services and selectors
(the list, its reordering actions, the version history, analytics, the prerequisite graph, the story's inline)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.compare import TextComparison, comparisons_html
from core.forms import form_error_from
from core.permissions import may_change

from .. import selectors, services
from ..beats import beat_text
from ..models import ChapterVersion, StoryChapter

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
        if not may_change(self.request_user, story):
            self.add_error("story", "You may read this story but not change its chapters.")
            return cleaned
        others = [services.chapter_as_dict(c) for c in selectors.story_chapters(story_id=story.pk,
                                                                                excluding=self.instance.pk)]
        candidate = {field: cleaned.get(field) for field in EDITABLE if field != "story"}
        candidate["suggested_beats"] = candidate["suggested_beats"] or []
        try:
            services.check_set(others + [candidate])
        except ValidationError as error:
            form_error_from(self, error)
        return cleaned


def _version_comparisons(before: ChapterVersion, after: ChapterVersion) -> list[TextComparison]:
    def beats(version: ChapterVersion) -> str:
        return "\n".join(f"[{beat.get('priority', 'medium')}] {beat_text(beat)}"
                         for beat in version.suggested_beats)

    def conditions(version: ChapterVersion) -> str:
        return json.dumps(version.trigger_conditions, ensure_ascii=False)

    return [TextComparison("Title", before.title, after.title),
            TextComparison("Conditions", conditions(before), conditions(after)),
            TextComparison("Beats", beats(before), beats(after)),
            TextComparison("Narrative instructions", before.narrative_instructions, after.narrative_instructions)]


@admin.register(StoryChapter)
class StoryChapterAdmin(admin.ModelAdmin):
    form = ChapterForm
    list_display = ["number", "title", "story", "visibility", "source", "current_version"]
    list_display_links = ["number", "title"]
    list_filter = ["story", "visibility", "source"]
    ordering = ["story", "number"]
    search_fields = ["title", "summary"]
    readonly_fields = ["history"]
    actions = ["move_earlier", "move_later"]

    def _move(self, request, queryset, by):
        for chapter in queryset.order_by("number" if by < 0 else "-number"):
            if not may_change(request.user, chapter.story):
                self.message_user(request, f"You may not reorder “{chapter.story}”.", messages.ERROR)
                continue
            try:
                other = services.chapter_move(chapter=chapter, by=by)
            except ValidationError as error:
                self.message_user(request, "; ".join(error.messages), messages.ERROR)
                continue
            if other is None:
                self.message_user(request, f"Chapter {chapter.number} cannot move further.", messages.WARNING)
            else:
                self.message_user(request, f"“{chapter.title}” and “{other.title}” swapped places.")

    @admin.action(description="Move the selected chapters earlier")
    def move_earlier(self, request, queryset):
        self._move(request, queryset, -1)

    @admin.action(description="Move the selected chapters later")
    def move_later(self, request, queryset):
        self._move(request, queryset, +1)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.request_user = request.user
        return form

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_change(request.user, obj.story))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or may_change(request.user, obj.story))

    @admin.display(description="version")
    def current_version(self, chapter):
        return chapter.versions.count()

    @admin.display(description="Version history")
    def history(self, chapter):
        versions = selectors.chapter_versions(chapter=chapter)
        if not versions:
            return "No versions yet."
        rows = format_html_join("", "<li>v{} · {} · {}: {}</li>", (
            (v.number, v.created_by, v.created_at.strftime("%Y-%m-%d %H:%M"), v.reason) for v in versions))
        diffs = format_html_join("", "<h4>v{} → v{}</h4>{}", (
            (before.number, after.number, comparisons_html(_version_comparisons(before, after)))
            for before, after in zip(versions, versions[1:], strict=False)))
        return format_html("<ul>{}</ul>{}", rows, diffs)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("analytics/", wrap(self.analytics_view), name="chapters-analytics"),
                path("graph/<uuid:story_id>/", wrap(self.graph_view), name="chapters-graph"),
                *super().get_urls()]

    def graph_view(self, request, story_id):
        """The prerequisite graph of a story's chapters: what each requires, blocks and unlocks."""
        chapters = list(self.get_queryset(request).filter(story_id=story_id).order_by("number"))
        if not chapters:
            raise Http404
        rows = [{"chapter": c,
                 "unlocks": [o.number for o in chapters if c.number in o.required_previous_chapters],
                 "blocks": [o.number for o in chapters if c.number in o.blocked_by]} for c in chapters]
        try:
            services.check_set([services.chapter_as_dict(c) for c in chapters])
            problem = ""
        except ValidationError as error:
            problem = "; ".join(error.messages)
        context = {**self.admin_site.each_context(request), "rows": rows, "problem": problem,
                   "story": chapters[0].story, "title": f"Chapters of “{chapters[0].story.title}”: prerequisites",
                   "opts": self.model._meta}
        return render(request, "admin/chapters/graph.html", context)

    def analytics_view(self, request):
        rows = selectors.chapter_analytics(user_id=request.user.pk)
        chart = {"titles": [row["title"] for row in rows], "natural": [row["natural"] for row in rows],
                 "adapted": [row["adapted"] for row in rows], "alternate": [row["alternate"] for row in rows],
                 "open": [row["open"] for row in rows]}
        context = {**self.admin_site.each_context(request), "rows": rows, "chart": chart,
                   "title": "Chapter analytics", "opts": self.model._meta}
        return render(request, "admin/chapters/analytics.html", context)

    def get_deleted_objects(self, objs, request):
        """A chapter others depend on is shown as protected, which refuses the delete (one or many)."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        chosen = {chapter.pk for chapter in objs}
        for chapter in objs:
            dependants = selectors.chapter_dependants(chapter=chapter, excluding=chosen)
            if dependants:
                protected.append(f"Chapter {chapter.number} of “{chapter.story}”: chapter {dependants[0]} "
                                 "depends on it; change that one first.")
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request, obj):
        services.chapter_delete(chapter=obj)

    def delete_queryset(self, request, queryset):
        services.chapters_delete(chapters=list(queryset))

    def save_model(self, request, obj, form, change):
        fields = {field: form.cleaned_data[field] for field in EDITABLE if field != "story"}
        if change:
            services.chapter_update(chapter=obj, **{f: fields[f] for f in form.changed_data if f in fields})
        else:
            created = services.chapter_create(story_id=form.cleaned_data["story"].pk,
                                              user_id=form.cleaned_data["story"].user_id, **fields)
            obj.pk = created.pk


class ChapterInline(admin.TabularInline):
    """The story's chapters under the story: quick edits here, everything in the chapter editor."""

    model = StoryChapter
    extra = 0
    fields = ["number", "title", "visibility", "start_early", "allow_divergence", "editor"]
    readonly_fields = ["number", "editor"]  # reorder with the chapter list's actions: they keep prerequisites true
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # new chapters need conditions and beats: the chapter editor or a file

    @admin.display(description="")
    def editor(self, chapter):
        return format_html('<a href="{}">edit</a>', reverse("admin:chapters_storychapter_change", args=[chapter.pk]))


def chapter_inline_save(formset) -> None:
    """Saves of the inline go through the chapter services (checks, versions), as the editor's do."""
    # What the admin's change message reads, as formset.save() would have set it.
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for form in formset.forms:
        if form.instance.pk and form in formset.deleted_forms:
            services.chapter_delete(chapter=form.instance)
            formset.deleted_objects.append(form.instance)
        elif form.instance.pk and form.has_changed():
            changes = {field: form.cleaned_data[field] for field in form.changed_data}
            services.chapter_update(chapter=StoryChapter.objects.get(pk=form.instance.pk), **changes)
            formset.changed_objects.append((form.instance, form.changed_data))


