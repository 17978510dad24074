"""Budgets (narrative_pipeline/budgets.py): spend counters per account and month and per story, written only
by the database, so no request and no SQL run as ``luna_app`` can lower them (DESIGN §2, the threat model).

- Spent: a trigger on ``AgentCall`` inserts adds each call's cost (never a negative one) to the month of the
  call (UTC, the database's clock) and to its story. Deleting or editing calls changes nothing.
- Reserved: ``luna_budget_lock()`` locks both rows (month first, then story) and returns them with the owner's
  caps; ``luna_budget_reserve()`` holds a turn's estimate; ``luna_budget_settle()`` releases it. Each checks
  the caller may write the story (its owner or an ``edit`` co-author); a reservation older than an hour (a
  process that died mid-turn) is released at the next lock.
"""
import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models

from accounts.migrations._ddl_v1 import CURRENT_USER_SQL, cascade_fk_sql, cascade_to_account_sql

ME = CURRENT_USER_SQL
APP, MODERATOR, ADMIN = settings.RLS_APP_ROLE, settings.RLS_MODERATOR_ROLE, settings.RLS_ADMIN_ROLE
STORY = "narrative_pipeline_story"
MONTH, STORY_SPEND, RESERVATION = ("narrative_pipeline_monthlyspend", "narrative_pipeline_storyspend",
                                   "narrative_pipeline_budgetreservation")
COUNTERS = (MONTH, STORY_SPEND, RESERVATION)
THIS_MONTH = "date_trunc('month', now() AT TIME ZONE 'UTC')::date"


def owner_written(table: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",  # not forced: the owner's functions write it
        f'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM "{APP}", "{MODERATOR}"',
        f"CREATE POLICY owner_read ON {table} FOR SELECT USING (user_id = {ME})",
        f'CREATE POLICY superuser_bypass ON {table} TO "{ADMIN}" USING (true) WITH CHECK (true)',
        *cascade_to_account_sql(table),
    ]


MAY_SPEND_ON = f"""
CREATE OR REPLACE FUNCTION luna_budget_story_owner(p_story uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE owner uuid;
BEGIN
  SELECT s.user_id INTO owner FROM {STORY} s WHERE s.id = p_story AND (s.user_id = {ME} OR EXISTS (
    SELECT 1 FROM narrative_pipeline_storycollaborator c
    WHERE c.story_id = s.id AND c.collaborator_id = {ME} AND c.role = 'edit'));
  IF owner IS NULL THEN
    RAISE EXCEPTION 'No such story to spend on' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN owner;
END $$;
REVOKE ALL ON FUNCTION luna_budget_story_owner(uuid) FROM PUBLIC;
"""

SPEND_TRIGGER = f"""
CREATE OR REPLACE FUNCTION narrative_agent_call_spend() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public AS $$
BEGIN
  IF NEW.cost_usd IS NULL OR NEW.cost_usd <= 0 THEN
    RETURN NULL;
  END IF;
  INSERT INTO {MONTH} (user_id, month, spent_usd, reserved_usd) VALUES (NEW.user_id, {THIS_MONTH}, NEW.cost_usd, 0)
  ON CONFLICT (user_id, month) DO UPDATE SET spent_usd = {MONTH}.spent_usd + EXCLUDED.spent_usd;
  INSERT INTO {STORY_SPEND} (story_id, user_id, spent_usd, reserved_usd) VALUES (NEW.story_id, NEW.user_id, NEW.cost_usd, 0)
  ON CONFLICT (story_id) DO UPDATE SET spent_usd = {STORY_SPEND}.spent_usd + EXCLUDED.spent_usd;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION narrative_agent_call_spend() FROM PUBLIC;
CREATE TRIGGER narrative_agent_call_spend AFTER INSERT ON narrative_pipeline_agentcall
  FOR EACH ROW EXECUTE FUNCTION narrative_agent_call_spend();
"""

LOCK = f"""
CREATE OR REPLACE FUNCTION luna_budget_lock(p_story uuid) RETURNS TABLE (
  owner_tier text, owner_subscription_expires_at timestamptz, owner_monthly_budget_usd numeric,
  story_budget_usd numeric, month_spent_usd numeric, month_reserved_usd numeric,
  story_spent_usd numeric, story_reserved_usd numeric)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  owner uuid := luna_budget_story_owner(p_story);
  stale record;
BEGIN
  INSERT INTO {MONTH} (user_id, month, spent_usd, reserved_usd) VALUES (owner, {THIS_MONTH}, 0, 0)
  ON CONFLICT (user_id, month) DO NOTHING;
  INSERT INTO {STORY_SPEND} (story_id, user_id, spent_usd, reserved_usd) VALUES (p_story, owner, 0, 0)
  ON CONFLICT (story_id) DO NOTHING;
  -- Month first, then story: the order the spend trigger takes them in.
  PERFORM 1 FROM {MONTH} WHERE user_id = owner AND month = {THIS_MONTH} FOR UPDATE;
  PERFORM 1 FROM {STORY_SPEND} WHERE story_id = p_story FOR UPDATE;
  FOR stale IN DELETE FROM {RESERVATION} WHERE user_id = owner AND created_at < now() - interval '1 hour'
               RETURNING story_id, month, amount_usd LOOP
    UPDATE {MONTH} SET reserved_usd = greatest(reserved_usd - stale.amount_usd, 0)
      WHERE user_id = owner AND month = stale.month;
    UPDATE {STORY_SPEND} SET reserved_usd = greatest(reserved_usd - stale.amount_usd, 0) WHERE story_id = stale.story_id;
  END LOOP;
  RETURN QUERY SELECT u.tier::text, u.subscription_expires_at, u.monthly_budget_usd::numeric, s.budget_usd::numeric,
    m.spent_usd, m.reserved_usd, ss.spent_usd, ss.reserved_usd
  FROM accounts_user u, {STORY} s, {MONTH} m, {STORY_SPEND} ss
  WHERE u.id = owner AND s.id = p_story AND m.user_id = owner AND m.month = {THIS_MONTH} AND ss.story_id = p_story;
END $$;
REVOKE ALL ON FUNCTION luna_budget_lock(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION luna_budget_lock(uuid) TO "{APP}";
"""

RESERVE = f"""
CREATE OR REPLACE FUNCTION luna_budget_reserve(p_story uuid, p_amount numeric) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  owner uuid := luna_budget_story_owner(p_story);
  reservation uuid := gen_random_uuid();
BEGIN
  IF p_amount IS NULL OR p_amount <= 0 THEN
    RAISE EXCEPTION 'A reservation is a positive amount' USING ERRCODE = 'check_violation';
  END IF;
  INSERT INTO {RESERVATION} (id, user_id, story_id, month, amount_usd, created_at)
  VALUES (reservation, owner, p_story, {THIS_MONTH}, p_amount, now());
  UPDATE {MONTH} SET reserved_usd = reserved_usd + p_amount WHERE user_id = owner AND month = {THIS_MONTH};
  UPDATE {STORY_SPEND} SET reserved_usd = reserved_usd + p_amount WHERE story_id = p_story;
  RETURN reservation;
END $$;
REVOKE ALL ON FUNCTION luna_budget_reserve(uuid, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION luna_budget_reserve(uuid, numeric) TO "{APP}";

CREATE OR REPLACE FUNCTION luna_budget_settle(p_reservation uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE held record;
BEGIN
  SELECT * INTO held FROM {RESERVATION} WHERE id = p_reservation;
  IF held IS NULL THEN
    RETURN;  -- settled already, or released as stale
  END IF;
  PERFORM luna_budget_story_owner(held.story_id);
  DELETE FROM {RESERVATION} WHERE id = p_reservation;
  UPDATE {MONTH} SET reserved_usd = greatest(reserved_usd - held.amount_usd, 0)
    WHERE user_id = held.user_id AND month = held.month;
  UPDATE {STORY_SPEND} SET reserved_usd = greatest(reserved_usd - held.amount_usd, 0) WHERE story_id = held.story_id;
END $$;
REVOKE ALL ON FUNCTION luna_budget_settle(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION luna_budget_settle(uuid) TO "{APP}";
"""

FORWARD = [*(statement for table in COUNTERS for statement in owner_written(table)),
           *cascade_fk_sql(STORY_SPEND, "story_id", STORY), *cascade_fk_sql(RESERVATION, "story_id", STORY),
           MAY_SPEND_ON, SPEND_TRIGGER, LOCK, RESERVE]
REVERSE = [
    "DROP FUNCTION luna_budget_settle(uuid)", "DROP FUNCTION luna_budget_reserve(uuid, numeric)",
    "DROP FUNCTION luna_budget_lock(uuid)",
    "DROP TRIGGER narrative_agent_call_spend ON narrative_pipeline_agentcall",
    "DROP FUNCTION narrative_agent_call_spend()", "DROP FUNCTION luna_budget_story_owner(uuid)",
    *(f"DROP POLICY owner_read ON {table}; DROP POLICY superuser_bypass ON {table}" for table in COUNTERS),
]


class Migration(migrations.Migration):

    dependencies = [
        ('narrative_pipeline', '0020_agent_call_cached_tokens'),
        ('accounts', '0007_user_monthly_budget'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='story',
            name='budget_usd',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=10, null=True),
        ),
        migrations.CreateModel(
            name='BudgetReservation',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('month', models.DateField()),
                ('amount_usd', models.DecimalField(decimal_places=6, max_digits=14)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('story', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='narrative_pipeline.story')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='StorySpend',
            fields=[
                ('story', models.OneToOneField(on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='spend', serialize=False, to='narrative_pipeline.story')),
                ('spent_usd', models.DecimalField(decimal_places=6, default=0, max_digits=14)),
                ('reserved_usd', models.DecimalField(decimal_places=6, default=0, max_digits=14)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='MonthlySpend',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('spent_usd', models.DecimalField(decimal_places=6, default=0, max_digits=14)),
                ('reserved_usd', models.DecimalField(decimal_places=6, default=0, max_digits=14)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('user', 'month'), name='monthly_spend_once')],
            },
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
