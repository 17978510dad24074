from django.apps import AppConfig


class ChaptersConfig(AppConfig):
    """Chapters and lorebooks: filled by the chapters and lorebook issues."""

    name = "chapters"
