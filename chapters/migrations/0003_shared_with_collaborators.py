from django.db import migrations

from accounts.migrations._ddl_v1 import CollaboratorAccess


class Migration(migrations.Migration):
    """A story's co-authors read (and editors write) its chapters."""

    dependencies = [
        ("chapters", "0002_chapter_suggestions"),
        ("narrative_pipeline", "0003_story_collaborators"),
    ]

    operations = [
        CollaboratorAccess(table)
        for table in ("chapters_storychapter", "chapters_chapterprogress", "chapters_chapterversion",
                      "chapters_chapterdivergencelog", "chapters_chaptersuggestion")
    ]
