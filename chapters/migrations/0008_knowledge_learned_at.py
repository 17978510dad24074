from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chapters', '0007_knowledge'),
    ]

    operations = [
        migrations.AddField(
            model_name='knowledge',
            name='learned_at',
            field=models.JSONField(blank=True, db_default={}, default=dict, help_text='Who learned it from the prose, and in which turn (an undo forgets it).'),
        ),
    ]
