"""Beats in the seed's shape, ``{"beat", "priority"}``, in what turns and snapshots kept: a turn's plan
and the chapter in its briefing, and the chapters of published versions."""

from django.db import migrations

from chapters.migrations._beats_v1 import rename_beats

PLACES = [("narrative_pipeline_turn", "template", ("beats",), ""),
          ("narrative_pipeline_turn", "briefing", ("chapter", "beats"), ""),
          ("narrative_pipeline_snapshotitem", "payload", ("suggested_beats",), "AND kind = 'chapter'")]


def forwards(apps, schema_editor):
    rename_beats(schema_editor, PLACES, "description", "beat")


def backwards(apps, schema_editor):
    rename_beats(schema_editor, PLACES, "beat", "description")


class Migration(migrations.Migration):
    dependencies = [("narrative_pipeline", "0010_collaborator_policies_indexable"),
                    ("chapters", "0005_beats_in_seed_shape")]

    operations = [migrations.RunPython(forwards, backwards)]
