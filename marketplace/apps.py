from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """Community listings of published stories, their activity and moderation, and forks."""

    name = "marketplace"
