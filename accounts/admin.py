from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import Usage, User


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
