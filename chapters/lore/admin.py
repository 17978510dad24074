"""The lore admin: books and entries edited, moved and deleted through the lore services (caps, matchers)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from ..knowledge import rules as knowledge_rules
from ..models import Lorebook, LoreEntry
from . import services


class LorebookForm(forms.ModelForm):
    class Meta:
        model = Lorebook
        fields = ["story", "name", "description", "enabled", "scan_depth", "token_budget", "recursive_scanning",
                  "max_recursion_depth"]

    def clean(self):
        cleaned = super().clean()
        if "story" in cleaned:  # moving the book: within the caps of the story it goes to
            self.instance.story = cleaned["story"]
            for problem in services.lorebook_limit_problems(self.instance):
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
        services.lorebook_save(obj)

    def delete_model(self, request, obj):
        services.lorebook_delete(obj)

    def delete_queryset(self, request, queryset):
        for book in queryset:
            services.lorebook_delete(book)

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
                  "probability", "case_sensitive", "match_whole_words", "known_by", "reveal_when"]

    def clean(self):
        cleaned = super().clean()
        for field, check in (("known_by", knowledge_rules.audience_validate),
                             ("reveal_when", knowledge_rules.reveal_validate)):  # who knows it (issue #20)
            try:
                cleaned[field] = check(cleaned.get(field))
            except knowledge_rules.KnowledgeError as error:
                self.add_error(field, str(error))
        for field in ("keys", "secondary_keys"):
            value = cleaned.get(field)
            if value is not None and (not isinstance(value, list) or not all(isinstance(k, str) for k in value)):
                self.add_error(field, "A list of strings, e.g. [\"dragon\", \"/wyrms?/i\"].")
        if cleaned.get("probability") is not None and cleaned["probability"] > 100:
            self.add_error("probability", "At most 100.")
        if not self.errors:
            for field, problem in services.entry_limit_problems(
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
        services.entry_save(obj)  # the book's matcher is rebuilt on the next turn

    def delete_model(self, request, obj):
        services.entry_delete(obj)  # it stops firing on the next turn

    def delete_queryset(self, request, queryset):
        for entry in queryset:
            services.entry_delete(entry)
