from django.apps import AppConfig


class NarrativePipelineConfig(AppConfig):
    name = "narrative_pipeline"
    verbose_name = "Stories"

    def ready(self):
        from . import checks  # noqa: F401 — registers the system checks (models are loaded only now)
