from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import api as accounts_api
from accounts import views as accounts_views
from narrative_pipeline import api as story_api
from narrative_pipeline import views as story_views

api_patterns = [
    path("auth/register/", accounts_api.RegisterApi.as_view(), name="api-register"),
    path("auth/token/", TokenObtainPairView.as_view(), name="api-token"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="api-token-refresh"),
    path("me/", accounts_api.MeApi.as_view(), name="api-me"),
    path("me/export/", accounts_api.MeExportApi.as_view(), name="api-me-export"),
    path("stories/", story_api.StoryListApi.as_view(), name="api-stories"),
    path("stories/<uuid:story_id>/", story_api.StoryDetailApi.as_view(), name="api-story"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("", accounts_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("stories/<uuid:story_id>/", story_views.story_detail, name="story-detail"),
    path("api/", include(api_patterns)),
    path("admin/", admin.site.urls),
]

handler404 = "luna_site.views.not_found"
handler500 = "luna_site.views.server_error"
