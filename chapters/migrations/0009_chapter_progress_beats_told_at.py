from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chapters', '0008_knowledge_learned_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='chapterprogress',
            name='beats_told_at',
            field=models.JSONField(blank=True, db_default={}, default=dict, help_text='Each ticked beat and the turn whose passage told it (an undo unticks it).'),
        ),
        migrations.AlterField(
            model_name='knowledge',
            name='revealed_by',
            field=models.CharField(blank=True, help_text='condition, chapter, passage (a beat its turn told) or manual.', max_length=12),
        ),
    ]
