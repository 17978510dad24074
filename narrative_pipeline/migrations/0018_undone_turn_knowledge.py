from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('narrative_pipeline', '0017_snapshot_item_knowledge_and_portrait'),
    ]

    operations = [
        migrations.AddField(
            model_name='undoneturn',
            name='knowledge',
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
    ]
