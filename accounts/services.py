"""Account writes: sign-up, e-mail verification, passwords and revocation, API tokens, export and deletion."""

from __future__ import annotations

import logging

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import password_changed, validate_password
from django.core import serializers, signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from .models import Usage, User, UserOwnedModel
from .rls import MODERATORS_GROUP, acting_as
from .task_outbox import queue_after_commit
from .tasks import email_send
from .tokens import EpochRefreshToken, epoch_matches

logger = logging.getLogger("luna.accounts")

VERIFY_SALT = "accounts.email-verification"


SIGNUP_SENT = "Check your e-mail to continue: we sent a message to the address you gave."


def user_register(*, username: str, email: str, password: str, base_url: str) -> None:
    """Sign up: an account that can log in once the link sent to its e-mail address is opened.

    Says nothing about whether the address has an account already (docs/security.md): then
    nothing is created, the address's owner is told by e-mail that someone tried to sign up with
    it, and the caller sees what a new sign-up sees, after the same password hashing. Usernames
    are public handles (on published stories, in sharing), so a taken username is an error.

    Runs as ``luna``: uniqueness needs to see other accounts, which no user may.
    Raises ``ValidationError`` with field errors (username, password); nothing is created then.
    """
    email = User.objects.normalize_email(email).strip()
    username = username.strip()
    _lapsed_signups_remove(username=username, email=email)
    errors: dict[str, list[str]] = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["That username is taken."]
    try:
        validate_password(password, user=User(username=username, email=email))
    except ValidationError as error:
        errors["password"] = list(error.messages)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            if User.objects.filter(email__iexact=email).exists():
                raise _AddressTaken
            user = User.objects.create_user(username=username, email=email, password=password, is_active=False)
            Usage.objects.create(user=user)  # as the owner: the app role only reads usage
    except (_AddressTaken, IntegrityError) as taken:
        if User.objects.filter(username__iexact=username).exists():  # a concurrent sign-up took the name
            raise ValidationError({"username": ["That username is taken."]}) from taken
        make_password(password)  # the work a new account costs, so the time taken tells nothing either
        signup_attempt_email_send(email=email, base_url=base_url)
        return
    verification_email_send(user=user, base_url=base_url)


class _AddressTaken(Exception):
    pass


def _lapsed_signups_remove(*, username: str, email: str) -> None:
    """A sign-up never confirmed within the link's lifetime gives its username and address back,
    so no one can hold another person's address (or a name) by signing up with it."""
    lapsed = User.objects.filter(
        Q(username__iexact=username) | Q(email__iexact=email), is_active=False, email_verified_at=None,
        last_login=None, date_joined__lt=timezone.now() - settings.EMAIL_VERIFICATION_MAX_AGE)
    for user in lapsed:
        user_delete(user=user)


def signup_attempt_email_send(*, email: str, base_url: str) -> None:
    """Tell the owner of an address that has an account that someone tried to sign up with it."""
    user = User.objects.get(email__iexact=email)
    root = base_url.rstrip("/")
    if user.is_active:
        what_now = (f"If it was you, log in as {user.username}: {root}{reverse('login')}\n"
                    f"Forgot your password? Choose a new one: {root}{reverse('password_reset')}\n\n"
                    "If it was not you, ignore this message: nothing has changed.")
    else:
        what_now = ("A sign-up with this address is waiting for its confirmation link (sent when it was made). "
                    "If that sign-up was not yours, ignore both messages: a sign-up that is not confirmed lapses "
                    f"after {settings.EMAIL_VERIFICATION_MAX_AGE.days} days and the address is free again.")
    email_message = {
        "subject": "Someone tried to sign up to LUNA-Narrates with your address",
        "message": f"Hello,\n\nSomeone, perhaps you, tried to create a LUNA-Narrates account with this e-mail "
        f"address, which has an account already.\n\n{what_now}",
        "recipient": user.email,
    }
    queue_after_commit(email_send, str(user.pk), email_message["subject"], email_message["message"],
                       email_message["recipient"])


def verification_token(user: User) -> str:
    return signing.dumps({"user": str(user.pk), "email": user.email}, salt=VERIFY_SALT)


def verification_email_send(*, user: User, base_url: str) -> None:
    link = base_url.rstrip("/") + reverse("verify-email", args=[verification_token(user)])
    email = {
        "subject": "Confirm your e-mail address for LUNA-Narrates",
        "message": f"Hello {user.username},\n\nConfirm your e-mail address by opening this link:\n{link}\n\n"
        "If you did not sign up, ignore this message.",
        "recipient": user.email,
    }
    queue_after_commit(email_send, str(user.pk), email["subject"], email["message"], email["recipient"])


def user_verify_email(*, token: str) -> User:
    """Mark the address in ``token`` verified. Raises ``ValidationError`` for a bad or old link."""
    max_age = settings.EMAIL_VERIFICATION_MAX_AGE.total_seconds()
    try:
        payload = signing.loads(token, salt=VERIFY_SALT, max_age=max_age)
    except signing.SignatureExpired as error:
        raise ValidationError("This confirmation link has expired; ask for a new one on your profile.") from error
    except signing.BadSignature as error:
        raise ValidationError("This confirmation link is not valid.") from error
    user = User.objects.filter(pk=payload["user"], email=payload["email"]).first()
    if user is None:
        raise ValidationError("This confirmation link is for an address that is no longer on an account.")
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        fields = ["email_verified_at"]
        if not user.is_active and user.last_login is None:  # a new sign-up, never an account someone closed
            user.is_active = True
            fields.append("is_active")
        user.save(update_fields=fields)
    return user


def user_logout_everywhere(*, user: User) -> None:
    """End every session and every API token of the account, by raising its ``auth_epoch``.

    Tokens carry the epoch they were issued in (accounts/tokens.py) and the session hash mixes it in
    (``User.get_session_auth_hash``), so neither needs to be found and deleted one by one.
    """
    with acting_as(user):
        # Only auth_epoch is written: the app role may update a few columns of its own row, no more.
        User.objects.filter(pk=user.pk).update(auth_epoch=F("auth_epoch") + 1)
        user.refresh_from_db(fields=["auth_epoch"])
    logger.info("account %s logged out everywhere (epoch %s)", user.pk, user.auth_epoch)


def user_password_change(*, user: User, password: str | None) -> None:
    """Set the account's password (``None``: no password log-in at all) and end its sessions and tokens.

    Every way of changing a password goes through here: the profile's form, the reset link, the admin.
    The caller keeps its own session with ``update_session_auth_hash``, as Django's views do.
    """
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    with acting_as(user):
        User.objects.filter(pk=user.pk).update(password=user.password, auth_epoch=F("auth_epoch") + 1)
        user.refresh_from_db(fields=["auth_epoch"])
    if password is not None:
        password_changed(password, user)
    user._password = None  # what Model.save() would clear; nothing is left to report to the validators
    logger.info("account %s changed its password (epoch %s)", user.pk, user.auth_epoch)


class TokenRefused(Exception):
    """A refresh token that is not (or no longer) good for a new pair; the API answers 401."""


def token_refresh(*, refresh: str) -> dict[str, str]:
    """A new access and refresh token for ``refresh``, which never works again (rotation with blacklisting).

    Runs as the table owner (the request is anonymous): the token tables are no user's to read. The
    outstanding row is locked, so two requests racing with one token get one new pair between them.
    Raises ``TokenError`` for a bad, expired or blacklisted token, ``TokenRefused`` for one that is unknown,
    revoked (an older epoch) or of an inactive account.
    """
    with transaction.atomic():
        token = EpochRefreshToken(refresh)  # signature, expiry, type and blacklist
        outstanding = (OutstandingToken.objects.select_for_update().order_by()  # its default order joins the user
                       .filter(jti=token[api_settings.JTI_CLAIM]).first())
        if outstanding is None:
            raise TokenRefused("This refresh token was never issued here.")
        if BlacklistedToken.objects.filter(token=outstanding).exists():  # used while we waited for the lock
            raise TokenRefused("This refresh token was used already; log in again.")
        user = User.objects.filter(pk=token.get(api_settings.USER_ID_CLAIM), is_active=True).first()
        if user is None or not epoch_matches(token, user):
            raise TokenRefused("This refresh token was revoked; log in again.")
        BlacklistedToken.objects.create(token=outstanding)
        fresh = EpochRefreshToken.for_user(user)
    return {"access": str(fresh.access_token), "refresh": str(fresh)}


def user_owned_models() -> list[type]:
    """Every model whose rows belong to one user, so export and checks miss none."""
    return [model for model in apps.get_models() if issubclass(model, UserOwnedModel)]


def user_export(*, user: User) -> dict:
    """All of the user's data as JSON-ready Python (no password hash)."""
    with acting_as(user):
        account = {
            "id": str(user.pk),
            "username": user.username,
            "email": user.email,
            "tier": user.tier,
            "date_joined": user.date_joined.isoformat(),
            "last_login_at": user.last_login.isoformat() if user.last_login else None,
            "email_verified_at": user.email_verified_at.isoformat() if user.email_verified_at else None,
        }
        data = {
            model._meta.label: serializers.serialize("python", model.objects.filter(user_id=user.pk))
            for model in user_owned_models()
        }
    for rows in data.values():
        for row in rows:
            row["pk"] = str(row["pk"])
            row["fields"] = {key: _jsonable(value) for key, value in row["fields"].items()}
    return {"format": "luna-narrates-export/1", "exported_at": timezone.now().isoformat(), "account": account,
            "data": data}


def _jsonable(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def user_delete(*, user: User) -> None:
    """Delete the account and, by the database's cascades, every private row it owns."""
    user_id = user.pk
    with acting_as(user), connection.cursor() as cursor:
        cursor.execute("SELECT luna_account_delete()")
    logger.info("account %s deleted", user_id)


AUTHOR_PERMISSIONS = {
    "chapters": ["view_storychapter", "add_storychapter", "change_storychapter", "delete_storychapter",
                 "view_chapterversion", "view_chapterdivergencelog", "view_chapterprogress",
                 "view_chaptersuggestion", "change_chaptersuggestion", "view_lorebook", "change_lorebook",
                 "delete_lorebook", "view_loreentry", "change_loreentry", "delete_loreentry",
                 "view_knowledge", "add_knowledge", "change_knowledge", "delete_knowledge"],
    "narrative_pipeline": ["view_story", "change_story", "view_character", "add_character", "change_character"],
}


def authors_group():
    """The ``authors`` group with what chapter authors may do in the admin (created when missing;
    after every ``migrate``, so ``luna_become_author()`` finds it)."""
    group, _ = Group.objects.get_or_create(name="authors")
    wanted = Permission.objects.filter(
        content_type__app_label__in=AUTHOR_PERMISSIONS,
        codename__in=[code for codes in AUTHOR_PERMISSIONS.values() for code in codes])
    group.permissions.add(*wanted)
    return group


MODERATOR_PERMISSIONS = {"marketplace": ["view_listing", "view_report", "change_report"]}


def moderators_group():
    """The ``moderators`` group: staff who see reports and hide or restore published stories."""
    group, _ = Group.objects.get_or_create(name=MODERATORS_GROUP)
    group.permissions.add(*Permission.objects.filter(
        content_type__app_label__in=MODERATOR_PERMISSIONS,
        codename__in=[code for codes in MODERATOR_PERMISSIONS.values() for code in codes]))
    return group


def user_become_moderator(*, user: User) -> None:
    """Make ``user`` a moderator: the operator's command, run as the table owner (no request may)."""
    user.groups.add(moderators_group())
    User.objects.filter(pk=user.pk).update(is_staff=True)
    user.is_staff = True


def user_become_author(*, user: User) -> None:
    """A player becomes an author: staff, in the ``authors`` group, still under RLS as themselves.

    Through the database's ``luna_become_author()``: the app role cannot write groups or staff flags."""
    with acting_as(user), connection.cursor() as cursor:
        cursor.execute("SELECT luna_become_author()")
    user.is_staff = True
