"""The DDL helpers that changed after version 1 (``_ddl_v1``), frozen as narrative_pipeline 0010 wrote them.

Version 2 changes one thing: a co-author's policy reads the stories shared with them once per statement
(``ARRAY(SELECT …)``, an InitPlan) instead of probing the collaborator table per row (a correlated
``EXISTS``). Permissive policies are OR-ed, and beside ``user_id = me`` the correlated form kept PostgreSQL
off the ``user_id`` index (a sequential scan of every story: 37× slower at 100,000 stories); with the ids read
once, ``id = ANY(ids)`` is indexable and the two conditions become a BitmapOr of two index scans.
A table shared later gets ``collaborator_policy_sql`` for each policy and ``_ddl_v1.owner_fixed_sql``.
"""

from __future__ import annotations

from psycopg import sql

from ._ddl_v1 import COLLABORATORS, CURRENT_USER_SQL

POLICIES = {"collaborator_read": ["view", "edit"], "collaborator_write": ["edit"]}


def shared_with_me_sql(table: str, story_column: str, roles: list[str]) -> sql.Composable:
    return sql.SQL("{t}.{column} = ANY (ARRAY(SELECT shared.story_id FROM {c} shared "
                   "WHERE shared.collaborator_id = {me} AND shared.role = ANY({roles})))").format(
        t=sql.Identifier(table), column=sql.Identifier(story_column), c=sql.Identifier(COLLABORATORS),
        me=sql.SQL(CURRENT_USER_SQL), roles=sql.Literal(roles))


def collaborator_policy_sql(table: str, story_column: str, policy: str) -> list[str]:
    """One co-author policy of version 2, ``collaborator_read`` or ``collaborator_write`` (replacing it)."""
    t, check = sql.Identifier(table), shared_with_me_sql(table, story_column, POLICIES[policy])
    create = ("CREATE POLICY {p} ON {t} FOR SELECT USING ({check})" if policy == "collaborator_read" else
              "CREATE POLICY {p} ON {t} FOR ALL USING ({check}) WITH CHECK ({check})")
    return [statement.as_string() for statement in (
        sql.SQL("DROP POLICY IF EXISTS {p} ON {t}").format(p=sql.Identifier(policy), t=t),
        sql.SQL(create).format(p=sql.Identifier(policy), t=t, check=check),
    )]
