"""System checks (``manage.py check``, run when the app starts): mistakes in the operator's settings are
said at start, in words, not at a player's first turn."""

from django.core import checks

from .llm.connections import connections_check


@checks.register(checks.Tags.compatibility)
def model_connections_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    return [checks.Error(problem, hint="See docs/models.md, “Connections”.", id="narrative_pipeline.E001")
            for problem in connections_check()]
