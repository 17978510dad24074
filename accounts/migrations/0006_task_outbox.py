"""The task outbox (``accounts.OutboxTask``): Celery tasks committed with the rows they read.

Request roles insert their own rows and read only those (RLS enabled, owner-equality policy); they
never update or delete one, and a check constraint holds a row's first argument (the user id every
task takes first) to its owner, so SQL run as a user can only queue that user's own work. RLS is
enabled but not forced: the owner, ``luna``, sends and deletes every user's rows (the drainer,
``accounts/task_outbox.py``), as it reads accounts at log-in.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from psycopg import sql

from accounts.migrations._ddl_v1 import CURRENT_USER_SQL, cascade_to_account_sql

TABLE = "accounts_outboxtask"


def _roles() -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(role) for role in (
        settings.RLS_APP_ROLE, settings.RLS_MODERATOR_ROLE, settings.RLS_ADMIN_ROLE))


def outbox_sql() -> list[str]:
    t = sql.Identifier(TABLE)
    return [statement.as_string() for statement in (
        sql.SQL("REVOKE UPDATE, DELETE ON {t} FROM {roles}").format(t=t, roles=_roles()),
        sql.SQL("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY").format(t=t),
        sql.SQL("CREATE POLICY owner_isolation ON {t} USING (user_id = {me}) WITH CHECK (user_id = {me})").format(
            t=t, me=sql.SQL(CURRENT_USER_SQL)),
        sql.SQL("ALTER TABLE {t} ADD CONSTRAINT outbox_task_args_start_with_owner "
                "CHECK (args ->> 0 = user_id::text)").format(t=t),
    )] + cascade_to_account_sql(TABLE)


def outbox_reverse_sql() -> list[str]:
    t = sql.Identifier(TABLE)
    return [statement.as_string() for statement in (
        sql.SQL("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS outbox_task_args_start_with_owner").format(t=t),
        sql.SQL("DROP POLICY IF EXISTS owner_isolation ON {t}").format(t=t),
        sql.SQL("ALTER TABLE {t} DISABLE ROW LEVEL SECURITY").format(t=t),
        sql.SQL("GRANT UPDATE, DELETE ON {t} TO {roles}").format(t=t, roles=_roles()),
    )]


class OutboxRowSecurity(migrations.RunSQL):
    """``outbox_sql`` after the migration's deferred SQL, which adds the foreign key it makes cascade."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        schema_editor.deferred_sql.extend(self.sql)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_token_tables_private"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboxTask",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("task_name", models.CharField(max_length=200)),
                ("args", models.JSONField()),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name="+",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={"abstract": False},
        ),
        OutboxRowSecurity(outbox_sql(), outbox_reverse_sql()),
    ]
