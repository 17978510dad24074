"""Who knows what in Django admin (issue #20): an author writes a story's facts, who knows them and when they are
revealed; the same checks as the API (``chapters.knowledge.rules``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from ..knowledge import rules
from ..models import Knowledge


class KnowledgeForm(forms.ModelForm):
    class Meta:
        model = Knowledge
        fields = ["story", "fact", "known_by", "reveal_when", "revealed_at_turn", "revealed_by", "evidence_turn",
                  "source", "source_ref"]

    def clean(self):
        cleaned = super().clean()
        for field, check in (("fact", rules.fact_validate), ("known_by", rules.audience_validate),
                             ("reveal_when", rules.reveal_validate)):
            if field in cleaned:
                try:
                    cleaned[field] = check(cleaned[field])
                except rules.KnowledgeError as error:
                    self.add_error(field, str(error))
        return cleaned


@admin.register(Knowledge)
class KnowledgeAdmin(admin.ModelAdmin):
    form = KnowledgeForm
    list_display = ["__str__", "story", "known_by", "revealed_at_turn", "source"]
    list_filter = ["story", "source"]
    search_fields = ["fact"]
    list_per_page = 50

    def save_model(self, request, obj, form, change):
        obj.user_id = obj.story.user_id  # the story's owner owns its facts, whoever of its authors writes them
        obj.save()
