"""The authors' chapter editor in Django admin: configuration over the chapter services and selectors
(the list, its reordering actions, the version history, analytics, the prerequisite graph, the story's inline).
The editor's forms, fields or ‹chapter-N› text, are in ``chapter_form``."""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.compare import TextComparison, readable, side_by_side_html
from core.permissions import may_change

from .. import chapter_markup, selectors, services
from ..models import ChapterVersion, StoryChapter
from ..prerequisite_graph import graph_layout
from ..triggers import CONDITION_LABELS
from .chapter_form import ChapterForm, ChapterTextForm, condition_rows

FIELDSETS = [
    (None, {"fields": ["story", "number", "title", "description", "summary"]}),
    ("When it starts", {"fields": condition_rows(), "description": (
        "Leave a condition empty when it does not matter. Healing may relax a condition, never a critical one.")}),
    ("Order", {"fields": ["required_previous_chapters", "blocked_by"]}),
    ("What happens", {"fields": ["narrative_instructions", "suggested_beats"]}),
    ("Healing and players", {"fields": ["allow_divergence", "min_similarity_threshold", "visibility",
                                        "start_early"]}),
    ("Versions", {"fields": ["history", "analytics"]}),
]
TEXT_FIELDSETS = [(None, {"fields": ["story", "chapter_text"]}), ("Versions", {"fields": ["history", "analytics"]})]


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def editing_as_text(request) -> bool:
    """The editor's text mode: the same page with ``?as=text``."""
    return request.GET.get("as") == "text"


def _version_comparisons(before: ChapterVersion, after: ChapterVersion) -> list[TextComparison]:
    """The fields a version keeps, as lines to compare: a beat a line (``[high] text``), a condition a line
    (``Location: Old Bridge, North Gate``)."""
    return [TextComparison("Title", before.title, after.title),
            TextComparison("Conditions", readable(before.trigger_conditions, CONDITION_LABELS),
                           readable(after.trigger_conditions, CONDITION_LABELS)),
            TextComparison("Beats", readable(before.suggested_beats), readable(after.suggested_beats)),
            TextComparison("Narrative instructions", before.narrative_instructions, after.narrative_instructions)]


@admin.register(StoryChapter)
class StoryChapterAdmin(admin.ModelAdmin):
    form = ChapterForm
    list_display = ["number", "title", "story", "visibility", "source", "current_version"]
    list_display_links = ["number", "title"]
    list_filter = ["story", "visibility", "source"]
    ordering = ["story", "number"]
    search_fields = ["title", "summary"]
    readonly_fields = ["history", "analytics"]
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

    def get_fieldsets(self, request, obj=None):
        # Readers who may not change the chapter see it whole, as text (the fields' inputs are the form's).
        read_only = obj is not None and not self.has_change_permission(request, obj)
        return TEXT_FIELDSETS if editing_as_text(request) or read_only else FIELDSETS

    @admin.display(description="Chapter as text")
    def chapter_text(self, chapter):
        return format_html("<pre>{}</pre>", chapter_markup.write([{**services.chapter_as_dict(chapter),
                                                                   "secrets": services.chapter_secrets(chapter=chapter)}]))

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ChapterTextForm if editing_as_text(request) else ChapterForm
        form = super().get_form(request, obj, change, **kwargs)
        form.request_user = request.user
        return form

    def get_changeform_initial_data(self, request):
        """A chapter added from the story's chapter list (or with ``?story=ID``) starts in that story."""
        initial = super().get_changeform_initial_data(request)
        story = QueryDict(request.GET.get("_changelist_filters", "")).get("story__id__exact")
        if story and "story" not in initial:
            initial["story"] = story
        return initial

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "editing_as_text": editing_as_text(request)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_change(request.user, obj.story))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or may_change(request.user, obj.story))

    @admin.display(description="version")
    def current_version(self, chapter):
        return chapter.versions.count()

    @admin.display(description="Analytics")
    def analytics(self, chapter):
        if not chapter.pk:
            return "—"
        return format_html('<a href="{}?chapter={}">How players met this chapter</a> · '
                           '<a href="{}?story={}">every chapter of the story</a>',
                           reverse("admin:chapters-analytics"), chapter.pk, reverse("admin:chapters-analytics"),
                           chapter.story_id)

    @admin.display(description="Version history")
    def history(self, chapter):
        versions = selectors.chapter_versions(chapter=chapter)
        if not versions:
            return "No versions yet."
        rows = format_html_join("", "<li>v{} · {} · {}: {}</li>", (
            (v.number, v.created_by, v.created_at.strftime("%Y-%m-%d %H:%M"), v.reason) for v in versions))
        diffs = format_html_join("", "<h4>v{} → v{}</h4>{}", (
            (before.number, after.number, side_by_side_html(_version_comparisons(before, after),
                                                             before_label=f"v{before.number}",
                                                             after_label=f"v{after.number}"))
            for before, after in zip(versions, versions[1:], strict=False)))
        return format_html("<ul>{}</ul>{}", rows, diffs)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("analytics/", wrap(self.analytics_view), name="chapters-analytics"),
                path("graph/<uuid:story_id>/", wrap(self.graph_view), name="chapters-graph"),
                *super().get_urls()]

    def graph_view(self, request, story_id):
        """The prerequisite graph of a story's chapters: what each requires, blocks and unlocks."""
        chapters = list(self.get_queryset(request).filter(story_id=story_id).select_related("alternate_of", "story")
                        .order_by("number"))
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
        graph = graph_layout([{"pk": c.pk, "number": c.number, "title": c.title, "required_previous_chapters":
                               c.required_previous_chapters, "blocked_by": c.blocked_by,
                               "alternate_of": c.alternate_of.number if c.alternate_of else None} for c in chapters])
        context = {**self.admin_site.each_context(request), "rows": rows, "problem": problem, "graph": graph,
                   "story": chapters[0].story, "title": f"Chapters of “{chapters[0].story.title}”: prerequisites",
                   "opts": self.model._meta}
        return render(request, "admin/chapters/graph.html", context)

    def analytics_view(self, request):
        """Every chapter of the user's stories; ``?story=`` narrows to one story, ``?chapter=`` to one chapter."""
        chapter, story_id = None, request.GET.get("story", "")
        if request.GET.get("chapter"):
            chapter = self.get_object(request, request.GET["chapter"])
            if chapter is None:
                raise Http404
        elif story_id and not _is_uuid(story_id):
            raise Http404
        of_story = self.get_queryset(request).filter(story_id=story_id).select_related("story").first() \
            if story_id else None
        story = of_story.story if of_story else None
        rows = selectors.chapter_analytics(user_id=request.user.pk, story_id=story_id or None,
                                           chapter_id=chapter.pk if chapter else None)
        chart = {"titles": [row["title"] for row in rows], "natural": [row["natural"] for row in rows],
                 "adapted": [row["adapted"] for row in rows], "alternate": [row["alternate"] for row in rows],
                 "open": [row["open"] for row in rows]}
        title = (f"Analytics of chapter {chapter.number}, “{chapter.title}”" if chapter
                 else f"Chapter analytics of “{story.title}”" if story else "Chapter analytics")
        context = {**self.admin_site.each_context(request), "rows": rows, "chart": chart, "title": title,
                   "narrowed": bool(story_id or chapter), "opts": self.model._meta}
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
        if change:
            services.chapter_update(chapter=obj, **form.changed_chapter_fields())
        else:
            story = form.cleaned_data["story"]
            created = services.chapter_create(story_id=story.pk, user_id=story.user_id, **form.chapter_fields())
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


