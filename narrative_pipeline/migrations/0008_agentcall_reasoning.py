from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("narrative_pipeline", "0007_threat_model")]

    operations = [
        migrations.AddField(model_name="agentcall", name="reasoning", field=models.TextField(blank=True)),
    ]
