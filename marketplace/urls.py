from django.urls import path

from . import views

urlpatterns = [
    path("", views.browse, name="marketplace"),
    path("mine/forks/", views.my_forks, name="marketplace-forks"),
    path("mine/published/", views.my_published, name="marketplace-published"),
    path("publish/<uuid:story_id>/", views.publish, name="marketplace-publish"),
    path("branch/<uuid:story_id>/", views.branch, name="marketplace-branch"),
    path("story/<uuid:story_id>/", views.story_panel, name="marketplace-story"),
    # Loaded by the core story page with htmx (the core never imports the marketplace).
    path("fragments/story/<uuid:story_id>/", views.story_fragment, name="marketplace-story-fragment"),
    path("forks/<uuid:fork_id>/sync/", views.sync_page, name="marketplace-sync"),
    path("forks/<uuid:fork_id>/sync/undo/", views.sync_undo, name="marketplace-sync-undo"),
    # Polled by the sync page (htmx) while a sync runs in the background.
    path("forks/<uuid:fork_id>/sync/progress/", views.sync_progress, name="marketplace-sync-progress"),
    path("forks/<uuid:fork_id>/conflicts/<int:conflict_id>/resolve/", views.sync_resolve,
         name="marketplace-sync-resolve"),
    path("<uuid:listing_id>/", views.asset, name="marketplace-asset"),
    path("<uuid:listing_id>/fork/", views.fork, name="marketplace-fork"),
    path("<uuid:listing_id>/like/", views.like, name="marketplace-like"),
    path("<uuid:listing_id>/report/", views.report, name="marketplace-report"),
    path("<uuid:listing_id>/unpublish/", views.unpublish, name="marketplace-unpublish"),
]
