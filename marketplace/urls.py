from django.urls import path

from .views import assets, browse, publishing, story_panel, sync_pages

urlpatterns = [
    path("", browse.browse, name="marketplace"),
    path("mine/forks/", publishing.my_forks, name="marketplace-forks"),
    path("mine/published/", publishing.my_published, name="marketplace-published"),
    path("publish/<uuid:story_id>/", publishing.publish, name="marketplace-publish"),
    path("branch/<uuid:story_id>/", story_panel.branch, name="marketplace-branch"),
    path("story/<uuid:story_id>/", story_panel.story_panel, name="marketplace-story"),
    # Loaded by the core story page with htmx (the core never imports the marketplace).
    path("fragments/story/<uuid:story_id>/", story_panel.story_fragment, name="marketplace-story-fragment"),
    # Loaded by the core's My stories page with htmx: the update badges.
    path("fragments/updates/", story_panel.story_updates_fragment, name="marketplace-updates-fragment"),
    path("forks/<uuid:fork_id>/sync/", sync_pages.sync_page, name="marketplace-sync"),
    path("forks/<uuid:fork_id>/sync/preview/", sync_pages.sync_preview, name="marketplace-sync-preview"),
    path("forks/<uuid:fork_id>/sync/undo/", sync_pages.sync_undo, name="marketplace-sync-undo"),
    # Polled by the sync page (htmx) while a sync runs in the background.
    path("forks/<uuid:fork_id>/sync/progress/", sync_pages.sync_progress, name="marketplace-sync-progress"),
    path("forks/<uuid:fork_id>/conflicts/<int:conflict_id>/resolve/", sync_pages.sync_resolve,
         name="marketplace-sync-resolve"),
    path("<uuid:listing_id>/", assets.asset, name="marketplace-asset"),
    path("<uuid:listing_id>/cover/", assets.cover, name="marketplace-cover"),
    path("<uuid:listing_id>/fork/", assets.fork, name="marketplace-fork"),
    path("<uuid:listing_id>/like/", assets.like, name="marketplace-like"),
    path("<uuid:listing_id>/report/", assets.report, name="marketplace-report"),
    path("<uuid:listing_id>/unpublish/", assets.unpublish, name="marketplace-unpublish"),
]
