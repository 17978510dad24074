from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import InvalidToken

from . import services
from .models import User
from .quotas import MB, limits_for, usage_get


class RegisterInput(serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z", max_length=150,
        error_messages={"invalid": "Use letters, digits and @/./+/-/_ only."},
    )
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})


class SignUpOutput(serializers.Serializer):
    detail = serializers.CharField()


class QuotasOutput(serializers.Serializer):
    max_stories = serializers.IntegerField()
    max_images_per_story = serializers.IntegerField()
    storage_limit_mb = serializers.IntegerField()


class UsageOutput(serializers.Serializer):
    stories = serializers.IntegerField(source="story_count")
    storage_bytes = serializers.IntegerField()
    storage_mb = serializers.SerializerMethodField()
    images = serializers.IntegerField(source="image_count")

    def get_storage_mb(self, usage) -> float:
        return round(usage.storage_bytes / MB, 3)


class MeOutput(serializers.ModelSerializer):
    quotas = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()
    last_login_at = serializers.DateTimeField(source="last_login", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "tier", "quotas", "usage", "email_verified_at",
                  "subscription_expires_at", "last_login_at", "date_joined"]

    @extend_schema_field(QuotasOutput)
    def get_quotas(self, user):
        return QuotasOutput(limits_for(user).as_dict()).data

    @extend_schema_field(UsageOutput)
    def get_usage(self, user):
        return UsageOutput(usage_get(user)).data


class TokenRefreshInput(serializers.Serializer):
    """A refresh token in, a new access and refresh token out; the one given never works again."""

    refresh = serializers.CharField()
    access = serializers.CharField(read_only=True)

    def validate(self, attrs):
        try:
            return services.token_refresh(refresh=attrs["refresh"])
        except services.TokenRefused as error:
            raise InvalidToken(str(error)) from error
