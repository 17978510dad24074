"""Chapter suggestions in Django admin: the Dreamer's next chapters, read and accepted (never written here)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from .. import services
from ..models import ChapterSuggestion


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
