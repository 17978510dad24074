from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """Community listings, forks and sync: filled by the marketplace issues."""

    name = "marketplace"
