from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from .forms import AdminPasswordChangeForm
from .models import Usage, User

# Every account's refresh tokens: no request role may read them, superusers' included (migration 0005).
admin.site.unregister(OutstandingToken)
admin.site.unregister(BlacklistedToken)


class UsageInline(admin.StackedInline):
    model = Usage
    can_delete = False
    readonly_fields = ["story_count", "storage_bytes", "image_count", "updated_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "tier", "is_staff", "email_verified_at", "date_joined"]
    list_filter = ["tier", "is_staff", "is_superuser", "is_active", "groups"]
    fieldsets = DjangoUserAdmin.fieldsets + (
        ("Tier and quotas", {"fields": ["tier", "subscription_expires_at", "max_stories",
                                        "max_images_per_story", "storage_limit_mb", "email_verified_at"]}),
    )
    inlines = [UsageInline]
    change_password_form = AdminPasswordChangeForm
