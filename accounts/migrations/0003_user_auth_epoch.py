from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_admin_log_rls")]

    operations = [
        migrations.AddField(
            model_name="user", name="auth_epoch", field=models.PositiveIntegerField(default=0, editable=False)),
    ]
