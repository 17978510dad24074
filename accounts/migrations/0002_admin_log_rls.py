from django.db import migrations

from accounts.migrations._ddl_v1 import UserOwnedTable


class Migration(migrations.Migration):
    """The admin's log of changes: each entry belongs to the staff user who made it."""

    dependencies = [
        ("accounts", "0001_initial"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [UserOwnedTable(table="django_admin_log")]
