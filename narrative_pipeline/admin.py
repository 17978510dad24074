from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import AgentCall, Character, Story, Turn


class CharacterInline(admin.TabularInline):
    model = Character
    extra = 0
    fields = ["name", "description", "personality", "is_player"]


@admin.register(Story)
class StoryAdmin(admin.ModelAdmin):
    list_display = ["title", "genre", "updated_at"]
    search_fields = ["title", "premise"]
    fields = ["title", "premise", "genre", "setting", "memory", "authors_note", "state", "llm_overrides", "chapters"]
    inlines = [CharacterInline]

    readonly_fields = ["chapters"]

    def has_add_permission(self, request):
        return False  # stories are created by their players (quota, storage), not here

    def get_urls(self):
        from chapters.admin import story_admin_urls

        return story_admin_urls(self) + super().get_urls()

    @admin.display(description="Chapters")
    def chapters(self, story):
        return format_html(
            '<a href="{}?story__id__exact={}">Edit chapters</a> · <a href="{}">Upload chapters</a> · '
            '<a href="{}">Download chapters</a>', reverse("admin:chapters_storychapter_changelist"), story.pk,
            reverse("admin:story-chapters-upload", args=[story.pk]),
            reverse("admin:story-chapters-download", args=[story.pk]))

    def save_formset(self, request, form, formset, change):
        for character in formset.save(commit=False):
            character.user_id = form.instance.user_id
            character.save()
        for deleted in formset.deleted_objects:
            deleted.delete()


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ["story", "number", "status", "created_at"]
    list_filter = ["status"]
    readonly_fields = ["story", "number", "action", "prose", "status", "error", "alternatives", "briefing",
                       "template", "retrieved_turns", "state_before", "created_at", "completed_at"]
    exclude = ["idempotency_key", "storage_bytes"]

    def has_add_permission(self, request):
        return False


@admin.register(AgentCall)
class AgentCallAdmin(admin.ModelAdmin):
    list_display = ["story", "agent", "provider", "model", "prompt_tokens", "completion_tokens", "cost_usd",
                    "latency_ms", "status", "created_at"]
    list_filter = ["agent", "provider", "status"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
