"""Moderators are the role ``luna_moderator`` (granted like ``luna_admin``), never the session
setting ``app.moderator``: anything a session can ``set_config`` itself proves nothing (DESIGN §2)."""

from django.conf import settings
from django.db import migrations

MODERATOR = settings.RLS_MODERATOR_ROLE

POLICIES = [
    "DROP POLICY moderator_read ON marketplace_report",
    "DROP POLICY moderator_update ON marketplace_report",
    f'CREATE POLICY moderator_read ON marketplace_report FOR SELECT TO "{MODERATOR}" USING (true)',
    f'CREATE POLICY moderator_update ON marketplace_report FOR UPDATE TO "{MODERATOR}" USING (true) WITH CHECK (true)',
]
# Back to 0006: 0001's policies on the session setting.
REVERSE = [
    "DROP POLICY moderator_read ON marketplace_report",
    "DROP POLICY moderator_update ON marketplace_report",
    "CREATE POLICY moderator_read ON marketplace_report FOR SELECT USING "
    "(current_setting('app.moderator', true) = 'on')",
    "CREATE POLICY moderator_update ON marketplace_report FOR UPDATE USING "
    "(current_setting('app.moderator', true) = 'on') WITH CHECK (true)",
]


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0006_character_assets"),
        ("narrative_pipeline", "0007_threat_model"),
    ]

    operations = [migrations.RunSQL(POLICIES, REVERSE)]
