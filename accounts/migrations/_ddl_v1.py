"""The DDL helpers of the migrations, frozen as they were when those migrations were written (version 1).

Migrations are history: they must build the same schema every time they run, so they import these
copies, never live code. A migration that needs different DDL adds a ``_ddl_v2`` beside this one and
leaves this file as it is. Role names come from the settings (RLS_*_ROLE), as at run time. Django's
migration loader skips modules whose names start with ``_``.
"""

from __future__ import annotations

from django.conf import settings
from django.db.migrations.operations.base import Operation
from psycopg import sql

# The scalar sub-SELECT is evaluated once per statement (an InitPlan), not per row;
# `true` avoids an error on a fresh connection and nullif maps the '' left behind by an
# ended transaction to NULL, which matches no row.
CURRENT_USER_SQL = "(SELECT nullif(current_setting('app.current_user_id', true), '')::uuid)"


# -- Declaring user-owned tables ----------------------------------------------------------


def cascade_to_account_sql(table: str, column: str = "user_id") -> list[str]:
    """The column's foreign key to accounts, recreated as ``ON DELETE CASCADE``: a deleting user
    cannot see every row RLS hides, so Django's cascade in Python cannot do it (DESIGN §6)."""
    return cascade_fk_sql(table, column, "accounts_user")


def cascade_fk_sql(table: str, column: str, target: str) -> list[str]:
    """The column's foreign key to ``target``, recreated as ``ON DELETE CASCADE`` (see above)."""
    t, c = sql.Identifier(table), sql.Identifier(column)
    fk_name = sql.Identifier(f"{table}_{column}_owner_fk")
    return [statement.as_string() for statement in (
        sql.SQL("DO $$ DECLARE fk text; BEGIN "
            "FOR fk IN SELECT conname FROM pg_constraint WHERE conrelid = {tbl}::regclass AND contype = 'f' "
            "AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = {tbl}::regclass "
            "AND attname = {col})]::smallint[] "
            "LOOP EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', {tbl}, fk); END LOOP; END $$"
        ).format(tbl=sql.Literal(table), col=sql.Literal(column)),
        sql.SQL(
            "ALTER TABLE {t} ADD CONSTRAINT {fk} FOREIGN KEY ({c}) REFERENCES {target} (id) "
            "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
        ).format(t=t, fk=fk_name, c=c, target=sql.Identifier(target)),
    )]


def user_owned_table_sql(table: str, column: str = "user_id") -> list[str]:
    t, c = sql.Identifier(table), sql.Identifier(column)
    statements = [
        sql.SQL("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY").format(t=t),
        sql.SQL("ALTER TABLE {t} FORCE ROW LEVEL SECURITY").format(t=t),
        sql.SQL("CREATE POLICY owner_isolation ON {t} USING ({c} = {me}) WITH CHECK ({c} = {me})").format(
            t=t, c=c, me=sql.SQL(CURRENT_USER_SQL)
        ),
        sql.SQL("CREATE POLICY superuser_bypass ON {t} TO {admin} USING (true) WITH CHECK (true)").format(
            t=t, admin=sql.Identifier(settings.RLS_ADMIN_ROLE)
        ),
    ]
    return cascade_to_account_sql(table, column) + [statement.as_string() for statement in statements]


def user_owned_table_reverse_sql(table: str, column: str = "user_id") -> list[str]:
    t = sql.Identifier(table)
    return [
        statement.format(t=t).as_string()
        for statement in (
            sql.SQL("DROP POLICY IF EXISTS superuser_bypass ON {t}"),
            sql.SQL("DROP POLICY IF EXISTS owner_isolation ON {t}"),
            sql.SQL("ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY"),
            sql.SQL("ALTER TABLE {t} DISABLE ROW LEVEL SECURITY"),
        )
    ]


class UserOwnedTable(Operation):
    """Migration operation: the table's ``user_id`` rows belong to that user, under forced RLS.

    Give either a model name of the migration's app or a raw ``table`` (for tables Django
    creates implicitly, such as many-to-many links). Runs after the migration's deferred
    SQL so the foreign key it turns into ``ON DELETE CASCADE`` already exists.
    """

    reversible = True

    def __init__(self, model_name: str | None = None, *, table: str | None = None, column: str = "user_id"):
        if (model_name is None) == (table is None):
            raise ValueError("UserOwnedTable takes a model name or a table, not both")
        self.model_name = model_name
        self.table = table
        self.column = column

    def deconstruct(self):
        kwargs = {"column": self.column}
        if self.table:
            kwargs["table"] = self.table
        args = [self.model_name] if self.model_name else []
        return self.__class__.__name__, args, kwargs

    def _table(self, app_label, state) -> str:
        if self.table:
            return self.table
        return state.apps.get_model(app_label, self.model_name)._meta.db_table

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        schema_editor.deferred_sql.extend(user_owned_table_sql(self._table(app_label, to_state), self.column))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        for statement in user_owned_table_reverse_sql(self._table(app_label, from_state), self.column):
            schema_editor.execute(statement)

    def describe(self):
        return f"Row-Level Security on {self.table or self.model_name}.{self.column}"


def app_role_grants_sql() -> list[str]:
    """Grants for the roles requests run as on every table, now and later (they own nothing).

    Tables that must stay out of their reach revoke it again (``PRIVATE_TABLES_SQL``)."""
    return [
        statement.format(r=sql.Identifier(role)).as_string()
        for role in (settings.RLS_APP_ROLE, settings.RLS_ADMIN_ROLE, settings.RLS_MODERATOR_ROLE)
        for statement in (
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}"),
            sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {r}"),
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}"),
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {r}"),
        )
    ]


# The accounts table: RLS enabled but not forced, so the owner (``luna``, running only
# the log-in and sign-up lookups) sees every account, and the app role only its own.
def accounts_table_sql() -> list[str]:
    return [
        "ALTER TABLE accounts_user ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY self_only ON accounts_user USING (id = {CURRENT_USER_SQL}) WITH CHECK (id = {CURRENT_USER_SQL})",
        sql.SQL("CREATE POLICY superuser_bypass ON accounts_user TO {admin} USING (true) WITH CHECK (true)")
        .format(admin=sql.Identifier(settings.RLS_ADMIN_ROLE)).as_string(),
    ]


ACCOUNTS_TABLE_REVERSE_SQL = [
    "DROP POLICY IF EXISTS superuser_bypass ON accounts_user",
    "DROP POLICY IF EXISTS self_only ON accounts_user",
    "ALTER TABLE accounts_user DISABLE ROW LEVEL SECURITY",
]


# -- Shared stories ---------------------------------------------------------------------------

COLLABORATORS = "narrative_pipeline_storycollaborator"


def collaborator_access_sql(table: str, story_column: str = "story_id") -> list[str]:
    """A second pair of policies on a story's table: its co-authors read it, editors also write it."""
    t, column = sql.Identifier(table), sql.Identifier(story_column)

    def granted(roles):
        return sql.SQL("EXISTS (SELECT 1 FROM {c} shared WHERE shared.story_id = {t}.{column} "
                       "AND shared.collaborator_id = {me} AND shared.role = ANY({roles}))").format(
            c=sql.Identifier(COLLABORATORS), t=t, column=column, me=sql.SQL(CURRENT_USER_SQL),
            roles=sql.Literal(roles))

    return [statement.as_string() for statement in (
        sql.SQL("CREATE POLICY collaborator_read ON {t} FOR SELECT USING ({check})").format(
            t=t, check=granted(["view", "edit"])),
        sql.SQL("CREATE POLICY collaborator_write ON {t} FOR ALL USING ({check}) WITH CHECK ({check})").format(
            t=t, check=granted(["edit"])),
    )] + owner_fixed_sql(table)


# An editor's policy lets them write a shared story's rows, but never take them: the owner column of a
# row never changes (the owner's own policy already refuses moving a row to someone else).
OWNER_FIXED_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION luna_owner_fixed() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  IF NEW.user_id IS DISTINCT FROM OLD.user_id THEN
    RAISE EXCEPTION 'A row''s owner never changes' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$"""


def owner_fixed_sql(table: str) -> list[str]:
    t = sql.Identifier(table)
    return [OWNER_FIXED_FUNCTION_SQL, sql.SQL(
        "CREATE OR REPLACE TRIGGER luna_owner_fixed BEFORE UPDATE OF user_id ON {t} "
        "FOR EACH ROW EXECUTE FUNCTION luna_owner_fixed()").format(t=t).as_string()]


def collaborator_access_reverse_sql(table: str) -> list[str]:
    t = sql.Identifier(table)
    return [sql.SQL("DROP TRIGGER IF EXISTS luna_owner_fixed ON {t}").format(t=t).as_string(),
            sql.SQL("DROP POLICY IF EXISTS collaborator_write ON {t}").format(t=t).as_string(),
            sql.SQL("DROP POLICY IF EXISTS collaborator_read ON {t}").format(t=t).as_string()]


class CollaboratorAccess(Operation):
    """Migration operation: a story-scoped user-owned table is shared with the story's co-authors."""

    reversible = True

    def __init__(self, table: str, story_column: str = "story_id"):
        self.table, self.story_column = table, story_column

    def deconstruct(self):
        return self.__class__.__name__, [self.table], {"story_column": self.story_column}

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        schema_editor.deferred_sql.extend(collaborator_access_sql(self.table, self.story_column))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        for statement in collaborator_access_reverse_sql(self.table):
            schema_editor.execute(statement)

    def describe(self):
        return f"Co-authors of a story may read (and editors write) {self.table}"


# Only the user id behind a username, for sharing a story by name: a narrow function running as
# the owner of the accounts table, so no request ever reads another user's account row.
USER_ID_BY_USERNAME_SQL = """
CREATE OR REPLACE FUNCTION luna_user_id_by_username(wanted text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
$$ SELECT id FROM accounts_user WHERE lower(username) = lower(wanted) AND is_active $$;
REVOKE ALL ON FUNCTION luna_user_id_by_username(text) FROM PUBLIC;
"""


def user_id_by_username_grant_sql() -> str:
    return sql.SQL("GRANT EXECUTE ON FUNCTION luna_user_id_by_username(text) TO {}, {}").format(
        sql.Identifier(settings.RLS_APP_ROLE), sql.Identifier(settings.RLS_ADMIN_ROLE)).as_string()
