"""Raw SQL as the app role for a user, the way an injection would run it (DESIGN §2, the threat
model). Every attack is undone afterwards, whether the database refused it or not."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import DatabaseError, connection, transaction

from ..conftest import as_app_role

INSUFFICIENT_PRIVILEGE = "42501"  # both "permission denied" and "violates row-level security policy"


@dataclass
class Outcome:
    refused: str | None = None  # the SQLSTATE of the statement the database refused
    rowcount: int = 0  # of the last statement run
    rows: list = field(default_factory=list)  # of the last statement run


class _Undo(Exception):
    pass


def run_as(user_id, *statements, role: str = "luna_app") -> Outcome:
    """Run ``statements`` (SQL, or (SQL, params)) in order as ``role`` for ``user_id`` (None: no user),
    stopping at the first refused; then roll all of it back."""
    outcome = Outcome()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            as_app_role(cursor, user_id)
            if role != "luna_app":
                cursor.execute("SELECT set_config('role', %s, true)", [role])
            for statement in statements:
                text, params = statement if isinstance(statement, tuple) else (statement, ())
                try:
                    cursor.execute(text, params)
                except DatabaseError as error:
                    outcome.refused = getattr(error.__cause__, "sqlstate", None) or "?"
                    break
                outcome.rowcount = cursor.rowcount
                outcome.rows = cursor.fetchall() if cursor.description else []
            raise _Undo
    except _Undo:
        pass
    return outcome


def as_admin(statement: str, params=()) -> list:
    """Read past RLS as ``luna_admin`` (what a superuser's admin request sees), undone afterwards."""
    return run_as(None, (statement, params), role="luna_admin").rows
