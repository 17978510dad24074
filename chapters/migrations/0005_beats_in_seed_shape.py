"""Chapters' beats in the seed's shape: ``{"beat", "priority"}`` (was ``{"description", "priority"}``)."""

from django.db import migrations

from chapters.migrations._beats_v1 import rename_beats

PLACES = [("chapters_storychapter", "suggested_beats", (), ""),
          ("chapters_chapterversion", "suggested_beats", (), ""),
          ("chapters_chaptersuggestion", "suggested_beats", (), "")]


def forwards(apps, schema_editor):
    rename_beats(schema_editor, PLACES, "description", "beat")


def backwards(apps, schema_editor):
    rename_beats(schema_editor, PLACES, "beat", "description")


class Migration(migrations.Migration):
    dependencies = [("chapters", "0004_lorebooks")]

    operations = [migrations.RunPython(forwards, backwards)]
