from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('narrative_pipeline', '0018_undone_turn_knowledge'),
    ]

    operations = [
        migrations.AddField(
            model_name='undoneturn',
            name='chapter_progress',
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
    ]
