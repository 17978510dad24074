from django.contrib import admin

from .models import Story


@admin.register(Story)
class StoryAdmin(admin.ModelAdmin):
    list_display = ["title", "genre", "updated_at"]
    search_fields = ["title", "premise"]
