"""Every co-author policy rewritten in version 2's indexable form (accounts/migrations/_ddl_v2.py): the
stories shared with the acting user are read once per statement, so listing one's own stories uses the
``user_id`` index again instead of scanning every story. The same rows pass either form; each policy keeps
its kind (a table shared for reading only keeps only its read policy)."""

import re

from django.db import migrations
from psycopg import sql

from accounts.migrations._ddl_v1 import COLLABORATORS, CURRENT_USER_SQL
from accounts.migrations._ddl_v2 import POLICIES, collaborator_policy_sql

# Version 1 names the story column as "shared.story_id = <table>.<column>"; version 2 as "<column> = ANY (ARRAY(".
VERSION_1 = re.compile(r"shared\.story_id = \w+\.(\w+)")
VERSION_2 = re.compile(r"(\w+) = ANY \(ARRAY\(")


def _policies(schema_editor, pattern) -> list[tuple[str, str, str]]:
    """(table, policy, story column) of every co-author policy written in the form ``pattern`` reads."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT tablename, policyname, qual FROM pg_policies WHERE schemaname = 'public' "
                       "AND policyname IN ('collaborator_read', 'collaborator_write') ORDER BY 1, 2")
        return [(table, policy, match.group(1)) for table, policy, qual in cursor.fetchall()
                if (match := pattern.search(qual or ""))]


def forwards(apps, schema_editor):
    for table, policy, column in _policies(schema_editor, VERSION_1):
        for statement in collaborator_policy_sql(table, column, policy):
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    for table, policy, column in _policies(schema_editor, VERSION_2):
        t, check = sql.Identifier(table), sql.SQL(
            "EXISTS (SELECT 1 FROM {c} shared WHERE shared.story_id = {t}.{column} "
            "AND shared.collaborator_id = {me} AND shared.role = ANY({roles}))").format(
            c=sql.Identifier(COLLABORATORS), t=sql.Identifier(table), column=sql.Identifier(column),
            me=sql.SQL(CURRENT_USER_SQL), roles=sql.Literal(POLICIES[policy]))
        create = ("CREATE POLICY {p} ON {t} FOR SELECT USING ({check})" if policy == "collaborator_read" else
                  "CREATE POLICY {p} ON {t} FOR ALL USING ({check}) WITH CHECK ({check})")
        schema_editor.execute(sql.SQL("DROP POLICY {p} ON {t}").format(p=sql.Identifier(policy), t=t).as_string())
        schema_editor.execute(sql.SQL(create).format(p=sql.Identifier(policy), t=t, check=check).as_string())


class Migration(migrations.Migration):
    dependencies = [
        ("narrative_pipeline", "0009_model_connections"),
        ("chapters", "0004_lorebooks"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
