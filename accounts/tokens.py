"""The API's JWTs carry the account's ``auth_epoch``; a token from an older epoch is refused.

A password change or "log out everywhere" raises the epoch (accounts/services.py), which ends every
access and refresh token issued before it without listing them anywhere. Refresh tokens also work once
(``services.token_refresh``): each refresh blacklists the token it was given and returns a new one.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

EPOCH_CLAIM = "auth_epoch"


class EpochAccessToken(AccessToken):
    @classmethod
    def for_user(cls, user) -> EpochAccessToken:
        token = super().for_user(user)
        token[EPOCH_CLAIM] = user.auth_epoch
        return token


class EpochRefreshToken(RefreshToken):
    """A refresh token with the epoch, recorded as outstanding so it can be blacklisted when used."""

    access_token_class = EpochAccessToken  # copies the epoch claim with the others

    @classmethod
    def for_user(cls, user) -> EpochRefreshToken:
        # simplejwt's own for_user records the token before a subclass could add a claim to it.
        token = cls()
        token[api_settings.USER_ID_CLAIM] = str(getattr(user, api_settings.USER_ID_FIELD))
        token[EPOCH_CLAIM] = user.auth_epoch
        OutstandingToken.objects.create(
            user=user, jti=token[api_settings.JTI_CLAIM], token=str(token), created_at=token.current_time,
            expires_at=datetime_from_epoch(token["exp"]))
        return token


def epoch_matches(token, user) -> bool:
    return token.get(EPOCH_CLAIM) == user.auth_epoch


class TokenObtainSerializer(TokenObtainPairSerializer):
    token_class = EpochRefreshToken


class EpochJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer authentication, refusing tokens issued before the account's last revocation."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if not epoch_matches(validated_token, user):
            raise AuthenticationFailed(_("This token was revoked; log in again."), code="token_revoked")
        return user


class EpochJWTScheme(SimpleJWTScheme):
    """The OpenAPI schema's bearer scheme (``jwtAuth``) for our authentication class too."""

    target_class = EpochJWTAuthentication
