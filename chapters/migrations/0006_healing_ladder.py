from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chapters', '0005_beats_in_seed_shape'),
    ]

    operations = [
        # The tier last sent to the Dreamer becomes the ladder's rung in force (same values, plus nudge).
        migrations.RenameField(model_name='chapterprogress', old_name='healing_tier', new_name='healing_rung'),
        migrations.AlterField(
            model_name='chapterprogress',
            name='healing_rung',
            field=models.CharField(blank=True, help_text="The healing ladder's rung in force: nudge, relax, adapt or alternate.", max_length=10),
        ),
        migrations.AddField(
            model_name='chapterprogress',
            name='healing_turn',
            field=models.PositiveIntegerField(blank=True, help_text='The turn that rung was applied.', null=True),
        ),
        migrations.AlterField(
            model_name='chapterprogress',
            name='completion_method',
            field=models.CharField(blank=True, choices=[('natural', 'Natural'), ('nudged', 'Nudged'), ('relaxed', 'Relaxed'), ('adapted', 'Adapted'), ('diverged_alternate', 'Diverged Alternate')], max_length=20),
        ),
    ]
