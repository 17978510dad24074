"""Moderation in the admin: the queue of reports, and hiding or restoring published stories.

Moderators are staff in the ``moderators`` group (not superusers); their admin requests run
under RLS as the role ``luna_moderator``, whose policies add reports and hidden listings.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from . import services
from .models import Listing, Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["community", "reason", "status", "created_at"]
    list_select_related = ["community"]  # not the reporter: their account row is theirs alone (RLS)
    list_filter = ["status"]
    readonly_fields = ["community", "reason", "created_at"]
    fields = ["community", "reason", "status", "created_at"]
    actions = ["hide_assets", "dismiss"]
    ordering = ["status", "-created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Hide the reported stories")
    def hide_assets(self, request, queryset):
        for listing in Listing.objects.filter(pk__in=queryset.values("community")):
            _moderate(self, request, listing, hidden=True)

    @admin.action(description="Dismiss the reports")
    def dismiss(self, request, queryset):
        self.message_user(request, f"Dismissed {services.reports_dismiss(reports=queryset)} report(s).")


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "author_name", "licence", "rating", "hidden", "open_reports", "updated_at"]
    list_select_related = ["series"]
    list_filter = ["series__is_hidden", "kind", "licence", "rating"]
    search_fields = ["title", "description"]
    readonly_fields = ["title", "author_name", "description", "genre", "tags", "licence", "rating", "derived_from",
                       "published_at", "updated_at"]
    exclude = ["series", "author", "search", "derived_from_version"]
    actions = ["hide", "restore"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="Hidden")
    def hidden(self, listing):
        return listing.series.is_hidden

    @admin.display(description="Open reports")
    def open_reports(self, listing):
        return listing.reports.filter(status=Report.Status.OPEN).count()

    @admin.action(description="Hide: out of browse, no new forks (existing forks keep working)")
    def hide(self, request, queryset):
        for listing in queryset.select_related("series"):
            _moderate(self, request, listing, hidden=True)

    @admin.action(description="Restore")
    def restore(self, request, queryset):
        for listing in queryset.select_related("series"):
            _moderate(self, request, listing, hidden=False)


def _moderate(model_admin, request, listing, *, hidden: bool) -> None:
    try:
        services.listing_moderate(listing=listing, hidden=hidden)
    except PermissionDenied as error:
        model_admin.message_user(request, str(error), messages.ERROR)
    else:
        model_admin.message_user(request, f"“{listing.title}” is {'hidden' if hidden else 'restored'}.")
