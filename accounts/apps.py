from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_groups(sender, using, **kwargs):
    # After every app's post_migrate: the last call sees every app's permissions.
    from .services import authors_group, moderators_group

    authors_group()
    moderators_group()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        post_migrate.connect(_ensure_groups, dispatch_uid="accounts.ensure_groups")
