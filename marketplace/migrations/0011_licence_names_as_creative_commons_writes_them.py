# The licence labels as Creative Commons writes them ("CC BY-SA 4.0"), not "Cc By Sa": choices only, no data moves.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('marketplace', '0010_syncrun_named_items'),
    ]

    operations = [
        migrations.AlterField(
            model_name='forkrecord',
            name='licence',
            field=models.CharField(blank=True, choices=[('CC-BY', 'CC BY 4.0'), ('CC-BY-SA', 'CC BY-SA 4.0'), ('CC-BY-NC', 'CC BY-NC 4.0'), ('CC-BY-ND', 'CC BY-ND 4.0'), ('all-rights-reserved', 'All rights reserved')], max_length=20),
        ),
        migrations.AlterField(
            model_name='listing',
            name='licence',
            field=models.CharField(choices=[('CC-BY', 'CC BY 4.0'), ('CC-BY-SA', 'CC BY-SA 4.0'), ('CC-BY-NC', 'CC BY-NC 4.0'), ('CC-BY-ND', 'CC BY-ND 4.0'), ('all-rights-reserved', 'All rights reserved')], max_length=20),
        ),
    ]
