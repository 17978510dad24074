"""Beats in the seed's shape, ``{"beat", "priority"}``, in the chapters of open and resolved sync conflicts."""

from django.db import migrations

from chapters.migrations._beats_v1 import rename_beats

PLACES = [("marketplace_syncconflict", column, ("suggested_beats",), "AND kind = 'chapter'")
          for column in ("base_data", "source_data", "fork_data")]


def forwards(apps, schema_editor):
    rename_beats(schema_editor, PLACES, "description", "beat")


def backwards(apps, schema_editor):
    rename_beats(schema_editor, PLACES, "beat", "description")


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0008_listing_forkrecord"), ("narrative_pipeline", "0011_beats_in_seed_shape")]

    operations = [migrations.RunPython(forwards, backwards)]
