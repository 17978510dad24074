from django.apps import AppConfig


class NarrativePipelineConfig(AppConfig):
    name = "narrative_pipeline"
    verbose_name = "Stories"
