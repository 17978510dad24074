from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from marketplace import api as marketplace_api
from marketplace.models import AssetKind
from marketplace.views import landing
from narrative_pipeline import api as story_api
from narrative_pipeline import chapter_api, knowledge_api, lore_api
from narrative_pipeline import views as story_views

from . import views as site_views
from .metrics import metrics_view
from .security import API_DOCS_POLICY, content_security_policy


def marketplace_api_routes(plural: str, kind: str) -> list:
    """The same verbs for published stories, chapter sets and characters. Stories keep their route
    names (``api-marketplace-stories``, ``api-marketplace-fork``, …); the others add the kind."""
    suffix = "" if kind == AssetKind.STORY else f"-{plural}"
    listing = f"marketplace/{plural}/<uuid:listing_id>/"
    views = [("", marketplace_api.ListingListApi, f"api-marketplace-{plural}"),
             (listing, marketplace_api.ListingDetailApi, "api-marketplace-story" if not suffix else
              f"api-marketplace{suffix}-detail"),
             (f"{listing}versions/", marketplace_api.ListingVersionsApi, f"api-marketplace-versions{suffix}"),
             # {id} here is the user's own story (publish it, its chapters or a character of it).
             (f"marketplace/{plural}/<uuid:story_id>/publish/", marketplace_api.PublishApi,
              f"api-marketplace-publish{suffix}"),
             (f"{listing}fork/", marketplace_api.ForkApi if kind == AssetKind.STORY else marketplace_api.TakeApi,
              f"api-marketplace-fork{suffix}"),
             (f"{listing}like/", marketplace_api.LikeApi, f"api-marketplace-like{suffix}"),
             (f"{listing}report/", marketplace_api.ReportApi, f"api-marketplace-report{suffix}"),
             (f"{listing}download/", marketplace_api.DownloadApi, f"api-marketplace-download{suffix}")]
    return [path(route or f"marketplace/{plural}/", view.as_view(kind=kind), name=name) for route, view, name in views]


api_patterns = [
    path("auth/register/", accounts_api.RegisterApi.as_view(), name="api-register"),
    path("auth/token/", accounts_api.TokenObtainApi.as_view(), name="api-token"),
    path("auth/token/refresh/", accounts_api.TokenRefreshApi.as_view(), name="api-token-refresh"),
    path("auth/logout-all/", accounts_api.LogoutEverywhereApi.as_view(), name="api-logout-all"),
    path("me/", accounts_api.MeApi.as_view(), name="api-me"),
    path("me/export/", accounts_api.MeExportApi.as_view(), name="api-me-export"),
    path("me/models/", story_api.ModelsApi.as_view(), name="api-me-models"),
    path("me/budget/", story_api.AccountBudgetApi.as_view(), name="api-me-budget"),  # #21 budgets
    path("me/models/test/", story_api.ModelsTestApi.as_view(), name="api-me-models-test"),
    path("stories/", story_api.StoryListApi.as_view(), name="api-stories"),
    path("stories/<uuid:story_id>/", story_api.StoryDetailApi.as_view(), name="api-story"),
    path("stories/<uuid:story_id>/characters/", story_api.CharacterListApi.as_view(), name="api-characters"),
    path("stories/<uuid:story_id>/turns/", story_api.TurnListApi.as_view(), name="api-turns"),
    path("stories/<uuid:story_id>/turns/stream/", story_api.TurnStreamApi.as_view(), name="api-turns-stream"),
    path("stories/<uuid:story_id>/turns/last/", story_api.TurnUndoApi.as_view(), name="api-turn-undo"),
    path("stories/<uuid:story_id>/turns/<int:number>/", story_api.TurnDetailApi.as_view(), name="api-turn"),
    path("stories/<uuid:story_id>/turns/<int:number>/retry/", story_api.TurnRetryApi.as_view(), name="api-turn-retry"),
    path("stories/<uuid:story_id>/turns/<int:number>/reroll/", story_api.TurnRerollApi.as_view(),
         name="api-turn-reroll"),
    path("stories/<uuid:story_id>/turns/<int:number>/edit/", story_api.TurnEditApi.as_view(), name="api-turn-edit"),
    path("stories/<uuid:story_id>/turns/<int:number>/stop/", story_api.TurnStopApi.as_view(), name="api-turn-stop"),
    path("stories/<uuid:story_id>/turns/redo/", story_api.TurnRedoApi.as_view(), name="api-turn-redo"),
    path("stories/<uuid:story_id>/turns/<int:number>/choose/", story_api.TurnChooseApi.as_view(),
         name="api-turn-choose"),
    path("stories/<uuid:story_id>/turns/<int:number>/replay/", story_api.TurnReplayApi.as_view(), name="api-turn-replay"),
    path("stories/<uuid:story_id>/turns/<int:number>/replays/<int:replay_id>/keep/", story_api.ReplayKeepApi.as_view(),
         name="api-replay-keep"),
    path("stories/<uuid:story_id>/turns/<int:number>/replays/<int:replay_id>/branch/",
         story_api.ReplayBranchApi.as_view(), name="api-replay-branch"),
    path("stories/<uuid:story_id>/arcs/", story_api.ArcListApi.as_view(), name="api-arcs"),
    path("stories/<uuid:story_id>/costs/", story_api.CostsApi.as_view(), name="api-costs"),
    path("stories/<uuid:story_id>/budget/", story_api.StoryBudgetApi.as_view(), name="api-story-budget"),  # #21
    path("stories/<uuid:story_id>/export/", story_api.ExportApi.as_view(), name="api-export"),
    path("stories/<uuid:story_id>/chapters/", chapter_api.ChapterListApi.as_view(), name="api-chapters"),
    path("stories/<uuid:story_id>/chapters/preview/", chapter_api.ChapterPreviewApi.as_view(),
         name="api-chapters-preview"),
    path("stories/<uuid:story_id>/chapters/<int:number>/", chapter_api.ChapterDetailApi.as_view(), name="api-chapter"),
    path("stories/<uuid:story_id>/chapters/<int:number>/versions/", chapter_api.ChapterVersionsApi.as_view(),
         name="api-chapter-versions"),
    path("stories/<uuid:story_id>/chapters/<int:number>/divergence/", chapter_api.ChapterDivergenceApi.as_view(),
         name="api-chapter-divergence"),
    path("stories/<uuid:story_id>/chapters/<int:number>/start/", chapter_api.ChapterStartApi.as_view(),
         name="api-chapter-start"),
    # Who knows what (issue #20)
    path("stories/<uuid:story_id>/knowledge/", knowledge_api.KnowledgeListApi.as_view(), name="api-knowledge"),
    path("stories/<uuid:story_id>/knowledge/<int:knowledge_id>/", knowledge_api.KnowledgeDetailApi.as_view(),
         name="api-knowledge-detail"),
    path("stories/import/", story_api.StoryImportApi.as_view(), name="api-story-import"),
    path("stories/<uuid:story_id>/lore/import/", story_api.LoreImportApi.as_view(), name="api-lore-import"),
    # Not `format`: DRF reserves that name (DESIGN §6).
    path("stories/<uuid:story_id>/lore/export/<str:lore_format>/", story_api.LoreExportApi.as_view(),
         name="api-lore-export"),
    # #19 lore in play: the player's entries and key tester
    path("stories/<uuid:story_id>/lore/entries/", lore_api.LoreEntryListApi.as_view(), name="api-lore-entries"),
    path("stories/<uuid:story_id>/lore/entries/<int:entry_id>/", lore_api.LoreEntryApi.as_view(),
         name="api-lore-entry"),
    path("stories/<uuid:story_id>/lore/test/", lore_api.LoreTestApi.as_view(), name="api-lore-test"),
    path("stories/<uuid:story_id>/branch/", marketplace_api.BranchApi.as_view(), name="api-story-branch"),
    *marketplace_api_routes("stories", AssetKind.STORY),
    *marketplace_api_routes("chapters", AssetKind.CHAPTERS),
    *marketplace_api_routes("characters", AssetKind.CHARACTER),
    path("forks/", marketplace_api.ForkListApi.as_view(), name="api-forks"),
    path("forks/<uuid:fork_id>/sync/", marketplace_api.SyncApi.as_view(), name="api-fork-sync"),
    path("forks/<uuid:fork_id>/sync/preview/", marketplace_api.SyncPreviewApi.as_view(), name="api-fork-sync-preview"),
    path("forks/<uuid:fork_id>/sync/undo/", marketplace_api.SyncUndoApi.as_view(), name="api-fork-sync-undo"),
    path("forks/<uuid:fork_id>/conflicts/", marketplace_api.ConflictListApi.as_view(), name="api-fork-conflicts"),
    path("forks/<uuid:fork_id>/conflicts/<int:conflict_id>/resolve/", marketplace_api.ConflictResolveApi.as_view(),
         name="api-fork-conflict-resolve"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", content_security_policy(API_DOCS_POLICY)(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
         name="api-docs"),
]

urlpatterns = [
    path("", landing.home, name="home"),
    path("healthz", site_views.healthz, name="healthz"),
    path("readyz", site_views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    # Lazy: with hashed static names the manifest is read on the first request, not when the URLs load
    # (`manage.py check` runs before `collectstatic`).
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=True)),
    path("accounts/profile/", site_views.profile, name="profile"),  # the account and its stories
    path("accounts/budget/", story_views.account_budget, name="account-budget"),  # #21 budgets
    path("accounts/", include("accounts.urls")),
    path("stories/", include("narrative_pipeline.urls")),
    path("models/", story_views.models_page, name="models"),
    path("models/test/", story_views.models_test, name="models-test"),
    path("marketplace/", include("marketplace.urls")),
    path("api/", include(api_patterns)),
    # The listings' admin pages were at the model's old name (``CommunityStory``): old links still lead there.
    re_path(r"^admin/marketplace/communitystory/(?P<rest>.*)$",
            RedirectView.as_view(url="/admin/marketplace/listing/%(rest)s", permanent=True, query_string=True)),
    path("admin/", admin.site.urls),
]

handler404 = "luna_site.views.not_found"
handler500 = "luna_site.views.server_error"
