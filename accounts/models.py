import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac


class Tier(models.TextChoices):
    FREE = "free", "Free"
    PRO = "pro", "Pro"
    PREMIUM = "premium", "Premium"


class User(AbstractUser):
    """An account. Quota fields left blank take the tier's limits (accounts/quotas.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", unique=True)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.FREE)
    max_stories = models.PositiveIntegerField(null=True, blank=True, help_text="Blank: the tier's limit.")
    max_images_per_story = models.PositiveIntegerField(null=True, blank=True, help_text="Blank: the tier's limit.")
    storage_limit_mb = models.PositiveIntegerField(null=True, blank=True, help_text="Blank: the tier's limit.")
    # The player's own monthly model budget: it only ever lowers the tier's (narrative_pipeline/budgets.py).
    monthly_budget_usd = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True,
                                             help_text="Blank: the tier's monthly budget.")
    subscription_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this, the account has the free tier's limits."
    )
    # The vision's column name; Django's auth keeps calling the field last_login.
    last_login = models.DateTimeField("last login", null=True, blank=True, db_column="last_login_at")
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # Raised by a password change or "log out everywhere": tokens and sessions carry the epoch
    # they were issued in and stop working once it moves on.
    auth_epoch = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["username"]

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "password" in update_fields:
            # A new password hash raises auth_epoch in the database (accounts 0004's trigger), also when
            # Django makes the hash again with new parameters at a log-in: read it back, so the session
            # and the tokens that log-in goes on to make carry the epoch the database now holds.
            self.refresh_from_db(fields=["auth_epoch"])

    # A session is good while this hash is: Django's HMAC of the password hash, with the epoch mixed in,
    # so raising the epoch ends every session as a password change does.
    def get_session_auth_hash(self) -> str:
        return self._epoch_session_hash(secret=None)

    def get_session_auth_fallback_hash(self):
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._epoch_session_hash(secret=secret)

    def _epoch_session_hash(self, *, secret: str | None) -> str:
        return salted_hmac("accounts.User.get_session_auth_hash", f"{self.password}:{self.auth_epoch}",
                           secret=secret, algorithm="sha256").hexdigest()

    @property
    def last_login_at(self):
        return self.last_login

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class UserOwnedModel(models.Model):
    """Base for rows that belong to one user; the migration must add ``UserOwnedTable``.

    ``DO_NOTHING`` because the database cascades (``ON DELETE CASCADE``, set by
    ``UserOwnedTable``): Django's Python cascade cannot see rows RLS hides.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+")

    class Meta:
        abstract = True


class Usage(UserOwnedModel):
    """What a user has used: one row per user, locked while a create checks its quota."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, primary_key=True, related_name="usage"
    )
    story_count = models.PositiveIntegerField(default=0)
    storage_bytes = models.BigIntegerField(default=0)
    image_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"usage of {self.user_id}"


class OutboxTask(models.Model):
    """A Celery task to send, written in the transaction whose rows it reads (``accounts/task_outbox.py``):
    committed with them, deleted only once the broker has taken it, so a Redis outage delays it, never loses it.

    In accounts, the lowest app with tables, so every app above may queue work; every task takes the
    acting user's id first, and a check constraint (migration 0006) holds ``args[0]`` to the row's owner.
    """

    # Not a UserOwnedModel: plumbing, not the user's data (no export); the database cascades the same way.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+")
    task_name = models.CharField(max_length=200)
    args = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.task_name}{tuple(self.args)}"
