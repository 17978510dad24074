# A story's right to read the series it is based on (see 0007 for who writes it).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('narrative_pipeline', '0005_snapshots_and_forks'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SeriesHolder',
            fields=[
                ('story', models.OneToOneField(on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='narrative_pipeline.story')),
                ('series', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='narrative_pipeline.snapshotseries')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['series', 'user'], name='narrative_p_series__a795a5_idx')],
            },
        ),
    ]
