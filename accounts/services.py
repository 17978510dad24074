"""Account writes: sign-up, e-mail verification, export and deletion."""

from __future__ import annotations

import logging

from django.apps import apps
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import serializers, signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from .models import Usage, User, UserOwnedModel
from .rls import acting_as
from .tasks import email_send

logger = logging.getLogger("luna.accounts")

VERIFY_SALT = "accounts.email-verification"


def user_register(*, username: str, email: str, password: str) -> User:
    """Create an account (active at once; the e-mail is verified by a link sent to it).

    Runs as ``luna``: uniqueness needs to see other accounts, which no user may.
    Raises ``ValidationError`` with field errors; nothing is created then.
    """
    email = User.objects.normalize_email(email).strip()
    username = username.strip()
    errors: dict[str, list[str]] = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["That username is taken."]
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["An account with that e-mail address exists already."]
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        errors["password"] = list(error.messages)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            Usage.objects.create(user=user)  # as the owner: the app role only reads usage
    except IntegrityError as error:  # a concurrent sign-up took the name between check and insert
        raise ValidationError({"username": ["That username or e-mail address is taken."]}) from error
    return user


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
    transaction.on_commit(lambda: email_send.delay(**email))


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
        user.save(update_fields=["email_verified_at"])
    return user


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
                 "delete_lorebook", "view_loreentry", "change_loreentry", "delete_loreentry"],
    "narrative_pipeline": ["view_story", "change_story", "view_character", "add_character", "change_character"],
}


def authors_group():
    """The ``authors`` group with what chapter authors may do in the admin (created when missing;
    after every ``migrate``, so ``luna_become_author()`` finds it)."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name="authors")
    wanted = Permission.objects.filter(
        content_type__app_label__in=AUTHOR_PERMISSIONS,
        codename__in=[code for codes in AUTHOR_PERMISSIONS.values() for code in codes])
    group.permissions.add(*wanted)
    return group


MODERATOR_PERMISSIONS = {"marketplace": ["view_communitystory", "view_report", "change_report"]}


def moderators_group():
    """The ``moderators`` group: staff who see reports and hide or restore published stories."""
    from django.contrib.auth.models import Group, Permission

    from .rls import MODERATORS_GROUP

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
