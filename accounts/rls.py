"""PostgreSQL Row-Level Security plumbing (DESIGN §2).

Django logs in as the table owner (``luna``). Everything that acts for a user runs inside
``acting_as(user)``: a transaction (or savepoint) with ``SET LOCAL ROLE luna_app`` and the
user's id in ``app.current_user_id``, both transaction-local so a pooled connection never
carries one user's id into another's request. User-owned tables are declared with the
``UserOwnedTable`` migration operation, which enables and forces RLS with owner-equality
policies, so with no user set they match nothing, even for ``luna``.

Superusers in the admin act as a second NOLOGIN role, ``luna_admin``, whose own policy
(``TO luna_admin USING (true)``) lets them see everything; moderators in the admin act as
``luna_moderator``, whose policies add reported and hidden marketplace rows. Roles rather than
settings: anything a session can ``set_config`` itself proves nothing (DESIGN §2, the threat
model), and an ``OR`` of a bypass setting in the one policy that every query carries stops
PostgreSQL from using the ``user_id`` index (measured: 50× on a list).
"""

from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.operations.base import Operation
from psycopg import sql

logger = logging.getLogger("luna.rls")

CURRENT_USER_SETTING = "app.current_user_id"
# The scalar sub-SELECT is evaluated once per statement (an InitPlan), not per row;
# `true` avoids an error on a fresh connection and nullif maps the '' left behind by an
# ended transaction to NULL, which matches no row.
CURRENT_USER_SQL = f"(SELECT nullif(current_setting('{CURRENT_USER_SETTING}', true), '')::uuid)"


@dataclass(frozen=True)
class _ActingState:
    role: str | None  # None: the login role
    user_id: str


def _apply(connection, state: _ActingState) -> None:
    # set_config('role', …, true) is SET LOCAL ROLE as a function (as PostgREST does it):
    # role and user in one round trip. 'none' is the login role.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('role', %s, true), set_config(%s, %s, true)",
            [state.role or "none", CURRENT_USER_SETTING, state.user_id],
        )


def _user_id(user) -> str:
    value = getattr(user, "pk", user)
    return str(uuid.UUID(str(value)))


def _role(*, bypass: bool, moderator: bool) -> str:
    if bypass:
        return settings.RLS_ADMIN_ROLE
    return settings.RLS_MODERATOR_ROLE if moderator else settings.RLS_APP_ROLE


@contextmanager
def acting_as(user, *, bypass: bool = False, moderator: bool = False, using: str = DEFAULT_DB_ALIAS):
    """Run the block as ``user`` under RLS, in its own transaction or savepoint.

    ``bypass`` is for superusers in the admin only (an explicit, logged bypass); ``moderator``
    for moderators (their marketplace policies apply). Nested use restores the outer user on
    exit: releasing a savepoint does not undo ``SET LOCAL``, so the previous role and id are
    set back by hand.
    """
    connection = connections[using]
    state = _ActingState(role=_role(bypass=bypass, moderator=moderator), user_id=_user_id(user))
    if bypass:
        logger.warning("RLS bypass for superuser %s", state.user_id)
    with transaction.atomic(using=using):
        previous = getattr(connection, "luna_acting_state", None)
        _apply(connection, state)
        connection.luna_acting_state = state
        try:
            yield
        except BaseException:
            # The atomic block rolls back (to the savepoint), which undoes SET LOCAL.
            connection.luna_acting_state = previous
            raise
        connection.luna_acting_state = previous
        if previous is not None:
            _apply(connection, previous)
        else:
            _apply(connection, _ActingState(role=None, user_id=""))


MODERATORS_GROUP = "moderators"


def is_moderator(user) -> bool:
    return bool(getattr(user, "is_staff", False)) and user.groups.filter(name=MODERATORS_GROUP).exists()


def current_user_id(using: str = DEFAULT_DB_ALIAS) -> str | None:
    state = getattr(connections[using], "luna_acting_state", None)
    return state.user_id if state else None


# -- Requests ---------------------------------------------------------------------------


def _jwt_user_id(request) -> str | None:
    """The user id of a valid bearer token, read without touching the database."""
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

    authentication = JWTAuthentication()
    header = authentication.get_header(request)
    if header is None:
        return None
    try:
        raw_token = authentication.get_raw_token(header)
        token = authentication.get_validated_token(raw_token) if raw_token is not None else None
    except (AuthenticationFailed, InvalidToken, TokenError):
        return None  # DRF's authentication answers 401 with the reason
    if token is None:
        return None
    return token.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])


def request_user_id(request) -> str | None:
    """Who a request acts for: the bearer token's user, else the session's."""
    candidate = _jwt_user_id(request) or request.session.get(SESSION_KEY)
    if not candidate:
        return None
    try:
        return _user_id(candidate)
    except ValueError:
        return None


def before_sign_in(view):
    """Mark a view that acts before anyone is known (sign-up, log-in, tokens, log-out): the middleware
    runs it as the table owner even when the request carries a session or a token, because what it
    reads and writes (other accounts, log-in records, token lists) is closed to the request roles."""
    return transaction.non_atomic_requests(view)


class RowLevelSecurityMiddleware:
    """Runs each view for a known user inside ``acting_as`` (anonymous views run as ``luna``),
    except views marked ``transaction.non_atomic_requests``, which act for the user themselves.

    The view runs in ``process_view`` so that an exception it raises rolls the
    transaction back before Django turns it into an error page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user_id = request_user_id(request)
        if user_id is None:
            return None
        if DEFAULT_DB_ALIAS in getattr(view_func, "_non_atomic_requests", ()):
            # Marked with transaction.non_atomic_requests: the view keeps transactions short
            # itself (each inside its own acting_as), e.g. around a long LLM call.
            return None
        with acting_as(user_id):
            in_admin = request.path.startswith("/admin/")
            superuser_in_admin = in_admin and getattr(request.user, "is_superuser", False)
            moderator_in_admin = in_admin and not superuser_in_admin and is_moderator(request.user)
            with (acting_as(user_id, bypass=True) if superuser_in_admin else
                  acting_as(user_id, moderator=True) if moderator_in_admin else nullcontext()):
                if superuser_in_admin:
                    logger.warning("superuser admin request %s %s", request.method, request.path)
                response = view_func(request, *view_args, **view_kwargs)
                if hasattr(response, "render") and callable(response.render):
                    response = response.render()  # templates query lazily
        return response


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
