"""simplejwt's token tables hold every account's refresh tokens: no request role may read or write them.

Log-in and refresh act for no one yet and run as the owner, ``luna`` (accounts/api.py); revoking a user's
tokens raises their ``auth_epoch`` instead of touching these tables. The database deletes the tokens of a
deleted account itself (``ON DELETE CASCADE``, run as the table owner), whether ``luna_account_delete()``
or the admin deletes it. The admin deletes in Python, where Django first sets the outstanding tokens'
``user`` to NULL (``SET_NULL``): ``luna_admin`` may run that ``UPDATE … SET user_id = NULL`` and no more,
and Row-Level Security with no policy for it makes the statement match no row.
"""

from django.conf import settings
from django.db import migrations
from psycopg import sql

from accounts.migrations._ddl_v1 import cascade_to_account_sql

OUTSTANDING = "token_blacklist_outstandingtoken"
BLACKLISTED = "token_blacklist_blacklistedtoken"


def _roles() -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(role) for role in (
        settings.RLS_APP_ROLE, settings.RLS_MODERATOR_ROLE, settings.RLS_ADMIN_ROLE))


def _sequences(action: str) -> sql.Composable:
    """``action`` (REVOKE ALL … FROM, GRANT … TO) on both tables' id sequences, whatever they are named."""
    return sql.SQL(
        "DO $$ DECLARE seq text; BEGIN "
        "FOREACH seq IN ARRAY ARRAY[pg_get_serial_sequence({o}, 'id'), pg_get_serial_sequence({b}, 'id')] LOOP "
        "EXECUTE format({template}, seq); END LOOP; END $$"
    ).format(o=sql.Literal(OUTSTANDING), b=sql.Literal(BLACKLISTED),
             template=sql.Literal(action.replace("{roles}", _roles().as_string())))


def private_sql() -> list[str]:
    o, b, roles = sql.Identifier(OUTSTANDING), sql.Identifier(BLACKLISTED), _roles()
    return [statement.as_string() for statement in (
        sql.SQL("REVOKE ALL ON {o}, {b} FROM {roles}").format(o=o, b=b, roles=roles),
        _sequences("REVOKE ALL ON SEQUENCE %s FROM {roles}"),
        # Enabled, not forced: the owner sees every row, the request roles (no policy) none.
        sql.SQL("ALTER TABLE {o} ENABLE ROW LEVEL SECURITY").format(o=o),
        sql.SQL("GRANT SELECT (user_id), UPDATE (user_id) ON {o} TO {admin}").format(
            o=o, admin=sql.Identifier(settings.RLS_ADMIN_ROLE)),
        sql.SQL(
            "DO $$ DECLARE fk text; BEGIN FOR fk IN SELECT conname FROM pg_constraint "
            "WHERE conrelid = {b_text}::regclass AND contype = 'f' "
            "LOOP EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', {b_text}, fk); END LOOP; END $$"
        ).format(b_text=sql.Literal(BLACKLISTED)),
        sql.SQL("ALTER TABLE {b} ADD CONSTRAINT {fk} FOREIGN KEY (token_id) REFERENCES {o} (id) "
                "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED").format(
            b=b, o=o, fk=sql.Identifier(f"{BLACKLISTED}_token_fk")),
    )] + cascade_to_account_sql(OUTSTANDING)


def shared_again_sql() -> list[str]:
    o, b, roles = sql.Identifier(OUTSTANDING), sql.Identifier(BLACKLISTED), _roles()
    return [statement.as_string() for statement in (
        sql.SQL("ALTER TABLE {o} DISABLE ROW LEVEL SECURITY").format(o=o),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {o}, {b} TO {roles}").format(o=o, b=b, roles=roles),
        _sequences("GRANT USAGE, SELECT, UPDATE ON SEQUENCE %s TO {roles}"),
    )]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_threat_model"),
        ("token_blacklist", "0013_alter_blacklistedtoken_options_and_more"),
    ]

    operations = [migrations.RunSQL(private_sql(), shared_again_sql())]
