"""RLS under the threat model (DESIGN §2): no policy lets a user into someone else's rows on the
strength of a column that user can write.

- Co-authors: a collaborator row is written only for a story its writer owns (checked by
  ``luna_owns_story``, a definer function: a policy on the collaborator table that read stories
  directly would recurse through the stories' collaborator policies). django-guardian's grants
  follow the collaborator rows by trigger; the app roles never write them.
- Stories based on a series: readable through ``SeriesHolder`` rows, written only by a trigger on
  stories that checks the series was public (or the story owner's own, or already held by them)
  when the story took it as its base, never through the story's own ``base_series_id``.
- Usage counters: kept by a trigger on stories (count and stored bytes), so a request, or SQL run
  for a user, cannot reset them.
- Editors (co-authors with ``edit``) write a shared story's rows but never take them: the owner
  column of a shared table never changes (a trigger).
- Moderators: the role ``luna_moderator``, never the session setting ``app.moderator``; an author
  cannot restore a series the moderators hid (a guard trigger).
"""

from django.conf import settings
from django.db import migrations

from accounts.migrations._ddl_v1 import (
    CURRENT_USER_SQL,
    OWNER_FIXED_FUNCTION_SQL,
    cascade_fk_sql,
    cascade_to_account_sql,
    collaborator_access_sql,
)

ME = CURRENT_USER_SQL
APP, MODERATOR, ADMIN = settings.RLS_APP_ROLE, settings.RLS_MODERATOR_ROLE, settings.RLS_ADMIN_ROLE
STORY = "narrative_pipeline_story"
SERIES = "narrative_pipeline_snapshotseries"
HOLDER = "narrative_pipeline_seriesholder"
COLLABORATORS = "narrative_pipeline_storycollaborator"

OWNS_STORY = f"""
CREATE OR REPLACE FUNCTION luna_owns_story(story uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
$$ SELECT EXISTS (SELECT 1 FROM {STORY} WHERE id = story AND user_id = {ME}) $$;
REVOKE ALL ON FUNCTION luna_owns_story(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION luna_owns_story(uuid) TO "{APP}", "{MODERATOR}", "{ADMIN}";
"""

COLLABORATOR_POLICIES = [
    f"DROP POLICY owner_isolation ON {COLLABORATORS}",
    f"CREATE POLICY owner_read ON {COLLABORATORS} FOR SELECT USING (user_id = {ME})",
    f"CREATE POLICY owner_insert ON {COLLABORATORS} FOR INSERT WITH CHECK (user_id = {ME} AND luna_owns_story(story_id))",
    f"""CREATE POLICY owner_update ON {COLLABORATORS} FOR UPDATE USING (user_id = {ME})
        WITH CHECK (user_id = {ME} AND luna_owns_story(story_id))""",
    f"CREATE POLICY owner_delete ON {COLLABORATORS} FOR DELETE USING (user_id = {ME})",
]

GUARDIAN_GRANTS = f"""
CREATE OR REPLACE FUNCTION narrative_collaborator_grants() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
DECLARE
  story_type integer := (SELECT id FROM django_content_type WHERE app_label = 'narrative_pipeline' AND model = 'story');
  can_view integer := (SELECT id FROM auth_permission WHERE content_type_id = story_type AND codename = 'view_story');
  can_change integer := (SELECT id FROM auth_permission WHERE content_type_id = story_type AND codename = 'change_story');
BEGIN
  IF can_view IS NULL OR can_change IS NULL THEN
    RAISE EXCEPTION 'The story permissions are missing (run migrate)';
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    DELETE FROM guardian_userobjectpermission WHERE user_id = OLD.collaborator_id
      AND object_pk = OLD.story_id::text AND permission_id IN (can_view, can_change);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO guardian_userobjectpermission (object_pk, content_type_id, permission_id, user_id)
    SELECT NEW.story_id::text, story_type, permission, NEW.collaborator_id
    FROM unnest(CASE WHEN NEW.role = 'edit' THEN ARRAY[can_view, can_change] ELSE ARRAY[can_view] END) AS permission
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION narrative_collaborator_grants() FROM PUBLIC;
CREATE TRIGGER narrative_collaborator_grants AFTER INSERT OR UPDATE OR DELETE ON {COLLABORATORS}
  FOR EACH ROW EXECUTE FUNCTION narrative_collaborator_grants();
"""

HOLDERS = [
    f"ALTER TABLE {HOLDER} ENABLE ROW LEVEL SECURITY",  # not forced: the owner's trigger writes it
    f'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {HOLDER} FROM "{APP}", "{MODERATOR}"',
    f"CREATE POLICY owner_read ON {HOLDER} FOR SELECT USING (user_id = {ME})",
    f'CREATE POLICY superuser_bypass ON {HOLDER} TO "{ADMIN}" USING (true) WITH CHECK (true)',
    *(statement for statement in collaborator_access_sql(HOLDER) if "collaborator_read" in statement),
    *cascade_to_account_sql(HOLDER),
    *cascade_fk_sql(HOLDER, "story_id", STORY),
    *cascade_fk_sql(HOLDER, "series_id", SERIES),
    f"""
CREATE OR REPLACE FUNCTION narrative_story_holds_series() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
BEGIN
  IF NEW.base_series_id IS NULL THEN
    DELETE FROM {HOLDER} WHERE story_id = NEW.id;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.base_series_id IS NOT DISTINCT FROM OLD.base_series_id THEN
    RETURN NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM {SERIES} s WHERE s.id = NEW.base_series_id
                 AND ((s.is_public AND NOT s.is_hidden) OR s.author_id = NEW.user_id))
     AND NOT EXISTS (SELECT 1 FROM {HOLDER} h WHERE h.series_id = NEW.base_series_id AND h.user_id = NEW.user_id) THEN
    RAISE EXCEPTION 'A story can be based only on a public version, or on its owner''s own'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO {HOLDER} (story_id, series_id, user_id) VALUES (NEW.id, NEW.base_series_id, NEW.user_id)
  ON CONFLICT (story_id) DO UPDATE SET series_id = EXCLUDED.series_id, user_id = EXCLUDED.user_id;
  RETURN NULL;
END $$""",
    "REVOKE ALL ON FUNCTION narrative_story_holds_series() FROM PUBLIC",
    f"""CREATE TRIGGER narrative_story_holds_series AFTER INSERT OR UPDATE OF base_series_id, user_id ON {STORY}
        FOR EACH ROW EXECUTE FUNCTION narrative_story_holds_series()""",
    # The stories already based on a series hold it (as the owner, past the forced policies).
    f"ALTER TABLE {STORY} NO FORCE ROW LEVEL SECURITY",
    f"""INSERT INTO {HOLDER} (story_id, series_id, user_id)
        SELECT id, base_series_id, user_id FROM {STORY} WHERE base_series_id IS NOT NULL ON CONFLICT DO NOTHING""",
    f"ALTER TABLE {STORY} FORCE ROW LEVEL SECURITY",
]

SERIES_POLICIES = [
    # An author may change their series (publish, unpublish), but only moderators hide and restore it.
    f"""
CREATE OR REPLACE FUNCTION narrative_series_guard() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  IF current_user = '{APP}' AND NEW.is_hidden IS DISTINCT FROM OLD.is_hidden THEN
    RAISE EXCEPTION 'Only moderators hide and restore a published story' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$""",
    f"CREATE TRIGGER narrative_series_guard BEFORE UPDATE ON {SERIES} FOR EACH ROW EXECUTE FUNCTION narrative_series_guard()",
    f"DROP POLICY series_read ON {SERIES}",
    f"DROP POLICY series_moderate ON {SERIES}",
    f"""CREATE POLICY series_read ON {SERIES} FOR SELECT USING (
        (is_public AND NOT is_hidden) OR author_id = {ME}
        OR EXISTS (SELECT 1 FROM {HOLDER} held WHERE held.series_id = {SERIES}.id))""",
    f'CREATE POLICY series_moderator_read ON {SERIES} FOR SELECT TO "{MODERATOR}" USING (true)',
    f'CREATE POLICY series_moderate ON {SERIES} FOR UPDATE TO "{MODERATOR}" USING (true) WITH CHECK (true)',
]

USAGE = f"""
CREATE OR REPLACE FUNCTION narrative_story_usage() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE accounts_usage SET story_count = greatest(story_count - 1, 0),
      storage_bytes = greatest(storage_bytes - OLD.storage_bytes, 0), updated_at = now()
    WHERE user_id = OLD.user_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO accounts_usage (user_id, story_count, storage_bytes, image_count, updated_at)
    VALUES (NEW.user_id, 1, NEW.storage_bytes, 0, now())
    ON CONFLICT (user_id) DO UPDATE SET story_count = accounts_usage.story_count + 1,
      storage_bytes = accounts_usage.storage_bytes + NEW.storage_bytes, updated_at = now();
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION narrative_story_usage() FROM PUBLIC;
CREATE TRIGGER narrative_story_usage AFTER INSERT OR DELETE OR UPDATE OF storage_bytes, user_id ON {STORY}
  FOR EACH ROW EXECUTE FUNCTION narrative_story_usage();
ALTER TABLE {STORY} NO FORCE ROW LEVEL SECURITY;
UPDATE accounts_usage usage SET story_count = counted.stories, storage_bytes = counted.bytes
FROM (SELECT u.user_id, count(s.id) AS stories, coalesce(sum(s.storage_bytes), 0) AS bytes
      FROM accounts_usage u LEFT JOIN {STORY} s ON s.user_id = u.user_id GROUP BY u.user_id) counted
WHERE usage.user_id = counted.user_id;
ALTER TABLE {STORY} FORCE ROW LEVEL SECURITY;
"""


# Every shared table, now and (through CollaboratorAccess) later: an editor never takes a row.
OWNER_FIXED = [OWNER_FIXED_FUNCTION_SQL, """
DO $$ DECLARE shared regclass; BEGIN
  FOR shared IN SELECT DISTINCT format('%I', tablename)::regclass FROM pg_policies
                WHERE schemaname = 'public' AND policyname = 'collaborator_write' LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER luna_owner_fixed BEFORE UPDATE OF user_id ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION luna_owner_fixed()', shared);
  END LOOP;
END $$"""]


# Back to 0006: the session-setting policies of 0005 and the owner's single policy on co-authors come back.
# The holder rows and the recounted usage stay (both are true of the data); the owner-fixed triggers stay too,
# since the co-authors' policies of 0003 and 0005 create them as well (CollaboratorAccess).
REVERSE = [
    f"DROP POLICY series_moderate ON {SERIES}",
    f"DROP POLICY series_moderator_read ON {SERIES}",
    f"DROP POLICY series_read ON {SERIES}",
    f"""CREATE POLICY series_read ON {SERIES} FOR SELECT USING (
        (is_public AND NOT is_hidden) OR author_id = {ME}
        OR current_setting('app.moderator', true) = 'on'
        OR EXISTS (SELECT 1 FROM narrative_pipeline_story based WHERE based.base_series_id = {SERIES}.id))""",
    f"""CREATE POLICY series_moderate ON {SERIES} FOR UPDATE
        USING (current_setting('app.moderator', true) = 'on') WITH CHECK (true)""",
    f"DROP TRIGGER narrative_series_guard ON {SERIES}",
    "DROP FUNCTION narrative_series_guard()",
    f"DROP TRIGGER narrative_story_usage ON {STORY}",
    "DROP FUNCTION narrative_story_usage()",
    f"DROP TRIGGER narrative_story_holds_series ON {STORY}",
    "DROP FUNCTION narrative_story_holds_series()",
    f"DROP POLICY collaborator_read ON {HOLDER}",
    f"DROP POLICY superuser_bypass ON {HOLDER}",
    f"DROP POLICY owner_read ON {HOLDER}",
    f'GRANT INSERT, UPDATE, DELETE ON {HOLDER} TO "{APP}", "{MODERATOR}"',
    f"ALTER TABLE {HOLDER} DISABLE ROW LEVEL SECURITY",
    f"DROP TRIGGER narrative_collaborator_grants ON {COLLABORATORS}",
    "DROP FUNCTION narrative_collaborator_grants()",
    *(f"DROP POLICY {policy} ON {COLLABORATORS}" for policy in ("owner_read", "owner_insert", "owner_update",
                                                                  "owner_delete")),
    f"CREATE POLICY owner_isolation ON {COLLABORATORS} USING (user_id = {ME}) WITH CHECK (user_id = {ME})",
    "DROP FUNCTION luna_owns_story(uuid)",
]


class Migration(migrations.Migration):
    dependencies = [
        ("narrative_pipeline", "0006_seriesholder"),
        ("accounts", "0004_threat_model"),
    ]

    operations = [
        migrations.RunSQL([OWNS_STORY, *COLLABORATOR_POLICIES, GUARDIAN_GRANTS, *HOLDERS, *SERIES_POLICIES, USAGE, *OWNER_FIXED],
                          REVERSE),
    ]
