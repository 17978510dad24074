"""The authors' chapter editor in Django admin: configuration over the chapter services."""

from __future__ import annotations

import difflib
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.forms import form_error_from
from core.permissions import may_change

from . import lore, services
from .models import ChapterSuggestion, ChapterVersion, Lorebook, LoreEntry, StoryChapter
from .selectors import chapter_analytics

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
        others = [services.chapter_as_dict(c) for c in StoryChapter.objects.filter(story=story).exclude(
            pk=self.instance.pk)]
        candidate = {field: cleaned.get(field) for field in EDITABLE if field != "story"}
        candidate["suggested_beats"] = candidate["suggested_beats"] or []
        try:
            services.check_set(others + [candidate])
        except ValidationError as error:
            form_error_from(self, error)
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
        rows = chapter_analytics(user_id=request.user.pk)
        chart = {"titles": [row["title"] for row in rows], "natural": [row["natural"] for row in rows],
                 "adapted": [row["adapted"] for row in rows], "alternate": [row["alternate"] for row in rows],
                 "open": [row["open"] for row in rows]}
        context = {**self.admin_site.each_context(request), "rows": rows, "chart": chart,
                   "title": "Chapter analytics", "opts": self.model._meta}
        return render(request, "admin/chapters/analytics.html", context)

    def save_model(self, request, obj, form, change):
        fields = {field: form.cleaned_data[field] for field in EDITABLE if field != "story"}
        if change:
            services.chapter_update(chapter=obj, **{f: fields[f] for f in form.changed_data if f in fields})
        else:
            created = services.chapter_create(story_id=form.cleaned_data["story"].pk,
                                              user_id=form.cleaned_data["story"].user_id, **fields)
            obj.pk = created.pk


@admin.register(ChapterSuggestion)
class ChapterSuggestionAdmin(admin.ModelAdmin):
    list_display = ["title", "story", "status", "created_turn", "created_at"]
    list_filter = ["status", "story"]
    readonly_fields = ["story", "title", "summary", "narrative_instructions", "suggested_beats", "trigger_conditions",
                       "created_turn", "status", "accepted_as"]
    actions = ["accept"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Accept as the story's next chapter")
    def accept(self, request, queryset):
        for suggestion in queryset:
            try:
                chapter = services.suggestion_accept(suggestion=suggestion)
            except ValidationError as error:
                self.message_user(request, "; ".join(error.messages), messages.ERROR)
            else:
                self.message_user(request, f"“{chapter.title}” is chapter {chapter.number} of “{suggestion.story}”.")


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


class LorebookForm(forms.ModelForm):
    class Meta:
        model = Lorebook
        fields = ["story", "name", "description", "enabled", "scan_depth", "token_budget", "recursive_scanning",
                  "max_recursion_depth"]

    def clean(self):
        cleaned = super().clean()
        if "story" in cleaned:  # moving the book: within the caps of the story it goes to
            self.instance.story = cleaned["story"]
            for problem in lore.lorebook_limit_problems(self.instance):
                self.add_error("story", problem)
        return cleaned


@admin.register(Lorebook)
class LorebookAdmin(admin.ModelAdmin):
    form = LorebookForm
    list_display = ["name", "story", "entry_count", "source_format", "enabled", "updated_at"]
    list_filter = ["source_format", "enabled"]
    search_fields = ["name", "description"]
    fields = ["story", "name", "description", "enabled", "scan_depth", "token_budget", "recursive_scanning",
              "max_recursion_depth", "source_format", "entries_link"]
    readonly_fields = ["source_format", "entries_link"]

    def has_add_permission(self, request):
        return False  # books come from a file (the story's "Import a file") or the API

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "story":  # the author's own stories; none keeps the book in their library
            kwargs["queryset"] = db_field.related_model.objects.filter(user_id=request.user.pk)
            kwargs["help_text"] = "Leave empty to keep the book in your library for reuse (it then fires nowhere)."
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        lore.lorebook_save(obj)

    @admin.display(description="Entries")
    def entry_count(self, book):
        return book.entries.count()

    @admin.display(description="Entries")
    def entries_link(self, book):
        return format_html('<a href="{}?lorebook__id__exact={}">{} entries</a>',
                           reverse("admin:chapters_loreentry_changelist"), book.pk, book.entries.count())


class LoreEntryForm(forms.ModelForm):
    class Meta:
        model = LoreEntry
        fields = ["comment", "keys", "secondary_keys", "selective_logic", "content", "constant", "order", "enabled",
                  "probability", "case_sensitive", "match_whole_words"]

    def clean(self):
        cleaned = super().clean()
        for field in ("keys", "secondary_keys"):
            value = cleaned.get(field)
            if value is not None and (not isinstance(value, list) or not all(isinstance(k, str) for k in value)):
                self.add_error(field, "A list of strings, e.g. [\"dragon\", \"/wyrms?/i\"].")
        if cleaned.get("probability") is not None and cleaned["probability"] > 100:
            self.add_error("probability", "At most 100.")
        if not self.errors:
            for field, problem in lore.entry_limit_problems(
                    lorebook=self.instance.lorebook, entry_id=self.instance.pk, keys=cleaned.get("keys") or [],
                    secondary_keys=cleaned.get("secondary_keys") or [], content=cleaned.get("content") or ""):
                self.add_error(field, problem)
        return cleaned


@admin.register(LoreEntry)
class LoreEntryAdmin(admin.ModelAdmin):
    form = LoreEntryForm
    list_display = ["__str__", "lorebook", "keys", "constant", "order", "enabled"]
    list_filter = ["lorebook", "enabled", "constant"]
    search_fields = ["comment", "content"]
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        lore.entry_save(obj)  # the book's matcher is rebuilt on the next turn
