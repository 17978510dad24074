"""Frozen for migrations: beats stored as ``{"description", "priority"}`` become the seed's
``{"beat", "priority"}`` (and back, to reverse), wherever a JSON column holds a list of beats.

Runs as the admin role: every table here has FORCE ROW LEVEL SECURITY, so the migrating login role
would otherwise see no rows."""

from __future__ import annotations

from django.conf import settings
from psycopg import sql


def _renamed(value: sql.Composable, old: str, new: str) -> sql.Composable:
    """``value`` (a JSON array) with each object's key ``old`` renamed ``new``, in order."""
    return sql.SQL(
        "(SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(b) = 'object' AND b ? {old} AND NOT b ? {new} "
        "THEN (b - {old}) || jsonb_build_object({new}, b -> {old}) ELSE b END ORDER BY n), '[]'::jsonb) "
        "FROM jsonb_array_elements({value}) WITH ORDINALITY AS e(b, n))"
    ).format(old=sql.Literal(old), new=sql.Literal(new), value=value)


def rename_beats(schema_editor, places: list[tuple[str, str, tuple[str, ...], str]], old: str, new: str) -> None:
    """For each (table, column, path to the beats inside the column, extra WHERE), rename the key."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(settings.RLS_ADMIN_ROLE)))
        for table, column, path, where in places:
            column_sql = sql.Identifier(column)
            at = sql.SQL("{} #> {}").format(column_sql, sql.Literal(list(path))) if path else column_sql
            value = (sql.SQL("jsonb_set({}, {}, {})").format(column_sql, sql.Literal(list(path)),
                                                             _renamed(at, old, new))
                     if path else _renamed(at, old, new))
            cursor.execute(sql.SQL(
                "UPDATE {table} SET {column} = {value} WHERE jsonb_typeof({at}) = 'array' "
                "AND jsonb_path_exists({at}, {test}) {where}"
            ).format(table=sql.Identifier(table), column=column_sql, value=value, at=at,
                     test=sql.Literal(f'$[*] ? (exists(@."{old}"))'), where=sql.SQL(where)))
        cursor.execute("RESET ROLE")
