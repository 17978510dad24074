from django.urls import path

from . import views

urlpatterns = [
    path("", views.story_list, name="story-list"),
    path("new/", views.story_new, name="story-new"),
    path("<uuid:story_id>/", views.story_detail, name="story-detail"),
    path("<uuid:story_id>/play/", views.story_play, name="story-play"),
    path("<uuid:story_id>/notes/", views.story_notes, name="story-notes"),
    path("<uuid:story_id>/state/", views.story_state, name="story-state"),
    path("<uuid:story_id>/undo/", views.turn_undo, name="turn-undo"),
    path("<uuid:story_id>/redo/", views.turn_redo, name="turn-redo"),
    path("<uuid:story_id>/costs/", views.story_costs, name="story-costs"),
    path("<uuid:story_id>/models/", views.story_models, name="story-models"),
    path("<uuid:story_id>/models/test/", views.story_models_test, name="story-models-test"),
    path("<uuid:story_id>/export/", views.story_export, name="story-export"),
    path("<uuid:story_id>/delete/", views.story_delete, name="story-delete"),
    path("<uuid:story_id>/chapters/<int:number>/start/", views.chapter_start, name="chapter-start"),
    path("<uuid:story_id>/suggestions/<int:suggestion_id>/<str:decision>/", views.suggestion_decide,
         name="suggestion-decide"),
    path("<uuid:story_id>/turns/<int:number>/", views.turn_detail, name="turn-detail"),
    path("<uuid:story_id>/turns/<int:number>/reroll/", views.turn_reroll, name="turn-reroll"),
    path("<uuid:story_id>/turns/<int:number>/retry/", views.turn_retry, name="turn-retry"),
    path("<uuid:story_id>/turns/<int:number>/edit/", views.turn_edit, name="turn-edit"),
    path("<uuid:story_id>/turns/<int:number>/text/", views.turn_text, name="turn-text"),
    path("<uuid:story_id>/turns/<int:number>/choose/", views.turn_choose, name="turn-choose"),
]
