"""RLS under the threat model (DESIGN §2): even SQL run as the app role for a user cannot raise
that user's privileges, tier or quotas, join a group, grant itself a permission, or read another
user's session or log-in attempts.

- Moderators get their own role (``luna_moderator``) with the app role's grants.
- ``accounts_user``: the app roles may not insert or delete accounts (``luna_account_delete()``
  deletes one's own, with its grants), and a guard trigger refuses any change
  they make to privilege, tier, quota, subscription and identity columns (a trigger rather than
  column grants: Django's ``save()`` writes every column, changed or not); the same trigger raises
  ``auth_epoch`` with every new password, so no way of setting one leaves old tokens working.
- Group and permission tables, Django's and django-guardian's: the app roles read (their own
  rows, where the table has a user), never write. Only the table owner does, in definer functions
  that check the caller's right (becoming an author) or in commands run by the operator.
- Usage counters: read only; written by the database itself (narrative_pipeline's story trigger).
- Sessions, log-in attempts and the migration table: no access at all (sessions live in Redis).
"""

from django.conf import settings
from django.db import migrations
from psycopg import sql

from accounts.migrations._ddl_v1 import CURRENT_USER_SQL, app_role_grants_sql

ME = CURRENT_USER_SQL
APP, MODERATOR = settings.RLS_APP_ROLE, settings.RLS_MODERATOR_ROLE
REQUEST_ROLES = sql.SQL(", ").join(sql.Identifier(role) for role in (APP, MODERATOR))

# Columns of an account only the owner role (sign-up, commands) or luna_admin may change.
GUARDED_COLUMNS = ("id", "username", "is_superuser", "is_staff", "is_active", "date_joined", "tier", "max_stories",
                   "max_images_per_story", "storage_limit_mb", "subscription_expires_at")
NO_ACCESS = ("django_session", "django_migrations", "axes_accessattempt", "axes_accessattemptexpiration",
             "axes_accessfailurelog", "axes_accesslog")
READ_ONLY = ("auth_group", "auth_group_permissions", "auth_permission", "django_content_type",
             "guardian_groupobjectpermission", "guardian_userobjectpermission", "accounts_user_groups",
             "accounts_user_user_permissions", "accounts_usage")
# User-keyed tables the owner writes for users (grants, counters): RLS enabled so the app roles
# see only their own rows, not forced so the owner's definer functions and commands may write.
OWNER_WRITTEN = ("accounts_user_groups", "accounts_user_user_permissions", "accounts_usage")


def _statements() -> list[str]:
    changed = sql.SQL(" OR ").join(
        sql.SQL("NEW.{c} IS DISTINCT FROM OLD.{c}").format(c=sql.Identifier(column)) for column in GUARDED_COLUMNS)
    guard = sql.SQL("""
CREATE OR REPLACE FUNCTION accounts_user_guard() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  IF current_user IN ({app}, {moderator}) AND ({changed}) THEN
    RAISE EXCEPTION 'An account''s privileges, tier, quotas, subscription and name are changed by the operator only'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- A new password ends every session and token, whichever way it was set (a page, the admin,
  -- manage.py changepassword, raw SQL): the epoch moves on with it (accounts/tokens.py). An account
  -- that had no usable password ('' or Django's '!…') had nothing to log in with, so nothing to end.
  IF NEW.password IS DISTINCT FROM OLD.password AND OLD.password <> '' AND left(OLD.password, 1) <> '!' THEN
    NEW.auth_epoch := greatest(NEW.auth_epoch, OLD.auth_epoch + 1);
  END IF;
  RETURN NEW;
END $$""").format(app=sql.Literal(APP), moderator=sql.Literal(MODERATOR), changed=changed)
    statements = [
        guard,
        sql.SQL("CREATE TRIGGER accounts_user_guard BEFORE UPDATE ON accounts_user "
                "FOR EACH ROW EXECUTE FUNCTION accounts_user_guard()"),
        sql.SQL("REVOKE INSERT, DELETE, TRUNCATE ON accounts_user FROM {roles}").format(roles=REQUEST_ROLES),
        *(sql.SQL("REVOKE ALL ON {t} FROM {roles}").format(t=sql.Identifier(table), roles=REQUEST_ROLES)
          for table in NO_ACCESS),
        # Superusers keep django-axes's admin pages (log-in attempts, lockouts); nobody reads sessions
        # or the migration table through a request.
        *(sql.SQL("REVOKE ALL ON {t} FROM {admin}").format(
            t=sql.Identifier(table), admin=sql.Identifier(settings.RLS_ADMIN_ROLE))
          for table in ("django_session", "django_migrations")),
        *(sql.SQL("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {t} FROM {roles}").format(
            t=sql.Identifier(table), roles=REQUEST_ROLES) for table in READ_ONLY),
        *(sql.SQL("ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY").format(t=sql.Identifier(table))
          for table in OWNER_WRITTEN),
        # guardian's user grants: each user reads their own (the admin checks them), luna_admin all.
        sql.SQL("ALTER TABLE guardian_userobjectpermission ENABLE ROW LEVEL SECURITY"),
        sql.SQL("CREATE POLICY own_grants ON guardian_userobjectpermission FOR SELECT USING (user_id = {me})").format(
            me=sql.SQL(ME)),
        sql.SQL("CREATE POLICY superuser_bypass ON guardian_userobjectpermission TO {admin} "
                "USING (true) WITH CHECK (true)").format(admin=sql.Identifier(settings.RLS_ADMIN_ROLE)),
        # Becoming an author is open to every player: staff, in the authors group (chapter authoring
        # only). Moderators are made by the operator's command, never by a request.
        sql.SQL("""
CREATE OR REPLACE FUNCTION luna_become_author() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
DECLARE
  me uuid := {me};
  authors integer := (SELECT id FROM auth_group WHERE name = 'authors');
BEGIN
  IF me IS NULL THEN RAISE EXCEPTION 'No acting user' USING ERRCODE = 'insufficient_privilege'; END IF;
  IF authors IS NULL THEN RAISE EXCEPTION 'The authors group is missing (run migrate)'; END IF;
  UPDATE accounts_user SET is_staff = true WHERE id = me;
  INSERT INTO accounts_user_groups (user_id, group_id) VALUES (me, authors) ON CONFLICT DO NOTHING;
END $$""").format(me=sql.SQL(ME)),
        # Deleting one's own account also ends one's grants and memberships, which the app roles
        # cannot write; the user-owned rows go by the database's cascades.
        sql.SQL("""
CREATE OR REPLACE FUNCTION luna_account_delete() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
DECLARE
  me uuid := {me};
BEGIN
  IF me IS NULL THEN RAISE EXCEPTION 'No acting user' USING ERRCODE = 'insufficient_privilege'; END IF;
  DELETE FROM guardian_userobjectpermission WHERE user_id = me;
  DELETE FROM accounts_user_groups WHERE user_id = me;
  DELETE FROM accounts_user_user_permissions WHERE user_id = me;
  DELETE FROM accounts_user WHERE id = me;
END $$""").format(me=sql.SQL(ME)),
        *(statement for function in ("luna_become_author()", "luna_account_delete()") for statement in (
            sql.SQL("REVOKE ALL ON FUNCTION {f} FROM PUBLIC").format(f=sql.SQL(function)),
            sql.SQL("GRANT EXECUTE ON FUNCTION {f} TO {roles}").format(f=sql.SQL(function), roles=REQUEST_ROLES))),
    ]
    return [statement.as_string() for statement in statements]


REVERSE = [
    "DROP FUNCTION IF EXISTS luna_account_delete()",
    "DROP FUNCTION IF EXISTS luna_become_author()",
    "DROP POLICY IF EXISTS superuser_bypass ON guardian_userobjectpermission",
    "DROP POLICY IF EXISTS own_grants ON guardian_userobjectpermission",
    "ALTER TABLE guardian_userobjectpermission DISABLE ROW LEVEL SECURITY",
    *(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY" for table in OWNER_WRITTEN),
    "DROP TRIGGER IF EXISTS accounts_user_guard ON accounts_user",
    "DROP FUNCTION IF EXISTS accounts_user_guard()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_auth_epoch"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
        ("axes", "0010_accessattemptexpiration"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(app_role_grants_sql(), migrations.RunSQL.noop),  # luna_moderator's share
        migrations.RunSQL(_statements(), REVERSE),
    ]
