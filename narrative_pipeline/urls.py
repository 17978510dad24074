from django.urls import path

from . import lore_views, views

urlpatterns = [
    path("", views.story_list, name="story-list"),
    path("new/", views.story_new, name="story-new"),
    path("<uuid:story_id>/", views.story_detail, name="story-detail"),
    path("<uuid:story_id>/play/", views.story_play, name="story-play"),
    path("<uuid:story_id>/notes/", views.story_notes, name="story-notes"),
    path("<uuid:story_id>/undo/", views.turn_undo, name="turn-undo"),
    path("<uuid:story_id>/costs/", views.story_costs, name="story-costs"),
    path("<uuid:story_id>/models/", views.story_models, name="story-models"),
    path("<uuid:story_id>/models/test/", views.story_models_test, name="story-models-test"),
    path("<uuid:story_id>/export/", views.story_export, name="story-export"),
    path("<uuid:story_id>/delete/", views.story_delete, name="story-delete"),
    path("<uuid:story_id>/chapters/<int:number>/start/", views.chapter_start, name="chapter-start"),
    path("<uuid:story_id>/suggestions/<int:suggestion_id>/<str:decision>/", views.suggestion_decide,
         name="suggestion-decide"),
    path("<uuid:story_id>/lore/", lore_views.story_lore, name="story-lore"),
    path("<uuid:story_id>/lore/import/", lore_views.story_lore_import, name="story-lore-import"),
    path("<uuid:story_id>/lore/entries/<int:entry_id>/", lore_views.lore_entry_edit, name="lore-entry-edit"),
    path("<uuid:story_id>/lore/entries/<int:entry_id>/toggle/", lore_views.lore_entry_toggle,
         name="lore-entry-toggle"),
    path("<uuid:story_id>/cast/<int:character_id>/portrait/", lore_views.character_portrait,
         name="character-portrait"),
    path("<uuid:story_id>/turns/<int:number>/", views.turn_detail, name="turn-detail"),
    path("<uuid:story_id>/turns/<int:number>/reroll/", views.turn_reroll, name="turn-reroll"),
    path("<uuid:story_id>/turns/<int:number>/retry/", views.turn_retry, name="turn-retry"),
    path("<uuid:story_id>/turns/<int:number>/edit/", views.turn_edit, name="turn-edit"),
    path("<uuid:story_id>/turns/<int:number>/text/", views.turn_text, name="turn-text"),
]
