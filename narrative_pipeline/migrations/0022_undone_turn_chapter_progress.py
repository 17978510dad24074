from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('narrative_pipeline', '0021_budgets'),
    ]

    operations = [
        migrations.AddField(
            model_name='undoneturn',
            name='chapter_progress',
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
    ]
