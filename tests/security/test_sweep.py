"""A generated sweep over every table and every policy (issue 14): as the app role with another
user's id, and with none, nothing crosses between users — not by reading, inserting a row with a
forged owner, updating any column, deleting, nor by forging a column a policy reads and then
reading through it. New tables are swept without anyone writing a test for them."""

import json
import uuid

import pytest
from django.db import connection
from psycopg import sql

from ..factories import played_story
from .attack import as_admin, run_as

pytestmark = pytest.mark.django_db

OWNER_COLUMNS = ("user_id", "author_id")
KEY_TYPES = ("uuid", "integer", "bigint")


def _catalog():
    """{table: [(column, type)]} for every table and view of the schema, and each table's primary key."""
    with connection.cursor() as cursor:
        cursor.execute("""SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
                          JOIN pg_class r ON r.relname = c.table_name AND r.relnamespace = 'public'::regnamespace
                          WHERE c.table_schema = 'public' AND r.relkind IN ('r', 'v') ORDER BY c.ordinal_position""")
        columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, data_type in cursor.fetchall():
            columns.setdefault(table, []).append((column, data_type))
        cursor.execute("""SELECT r.relname, a.attname FROM pg_index i JOIN pg_class r ON r.oid = i.indrelid
                          JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = ANY(i.indkey)
                          WHERE i.indisprimary AND r.relnamespace = 'public'::regnamespace""")
        keys = dict(cursor.fetchall())
        cursor.execute("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'")
        tables = sorted(row[0] for row in cursor.fetchall())
    return tables, columns, keys


def _owned_by(table, columns, user_id) -> sql.Composable:
    """Rows of a table that ``user_id`` may legitimately write (false where the table has no owner)."""
    names = {name for name, _ in columns}
    owners = ("id",) if table == "accounts_user" else OWNER_COLUMNS
    clauses = [sql.SQL("{c} = {me}").format(c=sql.Identifier(c), me=sql.Literal(str(user_id)))
               for c in owners if c in names]
    return sql.SQL("coalesce({}, false)").format(sql.SQL(" OR ").join(clauses)) if clauses else sql.SQL("false")


def _app_role_reads(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege('luna_app', %s, 'SELECT')", [table])
        return cursor.fetchone()[0]


def _crossing_count(tables, columns, victim, victim_series) -> sql.Composable:
    """One query: how many of the victim's private rows the acting user can see, in all tables (a table
    the app role may not read at all, such as the token tables, shows nothing and is left out)."""
    parts = [sql.SQL("(SELECT count(*) FROM {t} WHERE {c} = {v})").format(
        t=sql.Identifier(table), c=sql.Identifier("user_id"), v=sql.Literal(str(victim)))
        for table in [*tables, "narrative_pipeline_storyturn"]
        if "user_id" in dict(columns[table]) and _app_role_reads(table)]
    for table in ("narrative_pipeline_snapshotseries", "narrative_pipeline_storysnapshot",
                  "narrative_pipeline_snapshotitem"):
        column = "id" if table.endswith("series") else "series_id"
        parts.append(sql.SQL("(SELECT count(*) FROM {t} WHERE {c} = ANY({s}::uuid[]))").format(
            t=sql.Identifier(table), c=sql.Identifier(column), s=sql.Literal([str(s) for s in victim_series])))
    return sql.SQL("SELECT {}").format(sql.SQL(" + ").join(parts))


@pytest.fixture
def world(alice, bob_story):
    """Bob's story in every table (a branch: a private series; a published one, liked and reported), and
    alice's own played story, so alice has a row of her own to forge in every table."""
    played_story(alice, turns=2, title="Alice's own story")
    tables, columns, keys = _catalog()
    private_series = [row[0] for row in as_admin(
        "SELECT id FROM narrative_pipeline_snapshotseries WHERE author_id = %s AND NOT is_public", [bob_story.user_id])]
    assert private_series
    return {"tables": tables, "columns": columns, "keys": keys, "bob": bob_story.user_id,
            "bob_series": private_series}


@pytest.mark.parametrize("actor", ["alice", "nobody"])
def test_no_write_reaches_a_row_the_actor_does_not_own(world, alice, actor):
    """UPDATE of every column and DELETE, on every table: 0 rows or refused, for every row the actor does
    not own; INSERT of a copy of another user's row (a forged owner): refused."""
    me = alice.pk if actor == "alice" else None
    crossings = []
    for table in world["tables"]:
        columns = world["columns"][table]
        others = sql.SQL("NOT {}").format(_owned_by(table, columns, me) if me else sql.SQL("false"))
        for column, _ in columns:
            statement = sql.SQL("UPDATE {t} SET {c} = {c} WHERE {others}").format(
                t=sql.Identifier(table), c=sql.Identifier(column), others=others).as_string(connection.connection)
            outcome = run_as(me, statement)
            if outcome.refused is None and outcome.rowcount:
                crossings.append(f"UPDATE {table}.{column}: {outcome.rowcount} rows")
        statement = sql.SQL("DELETE FROM {t} WHERE {others}").format(
            t=sql.Identifier(table), others=others).as_string(connection.connection)
        outcome = run_as(me, statement)
        if outcome.refused is None and outcome.rowcount:
            crossings.append(f"DELETE {table}: {outcome.rowcount} rows")
        victims = as_admin(sql.SQL("SELECT to_jsonb(t) FROM {t} t WHERE NOT {mine} LIMIT 1").format(
            t=sql.Identifier(table), mine=_owned_by(table, columns, alice.pk)).as_string(connection.connection))
        if victims:
            crossings += _insert_copy(table, columns, world["keys"].get(table), victims[0][0], me)
    assert crossings == [], "\n".join(crossings)


def _insert_copy(table, columns, key, row, me) -> list[str]:
    row = json.loads(row)
    key_type = dict(columns).get(key)
    if key_type == "uuid":
        row[key] = str(uuid.uuid4())
    names = [name for name, _ in columns if not (name == key and key_type in ("integer", "bigint"))]
    statement = sql.SQL("INSERT INTO {t} ({names}) SELECT {names} FROM jsonb_populate_record(NULL::{t}, {row})").format(
        t=sql.Identifier(table), names=sql.SQL(", ").join(map(sql.Identifier, names)),
        row=sql.Literal(json.dumps(row))).as_string(connection.connection)
    outcome = run_as(me, statement)
    return [f"INSERT a copy of another user's {table} row"] if outcome.refused is None else []


@pytest.mark.parametrize("actor", ["alice", "nobody"])
def test_no_read_crosses(world, alice, actor):
    me = alice.pk if actor == "alice" else None
    query = _crossing_count(world["tables"], world["columns"], world["bob"], world["bob_series"])
    assert run_as(me, query.as_string(connection.connection)).rows == [(0,)]


def test_forging_any_key_column_a_policy_could_read_opens_nothing(world, alice):
    """For every table where alice has a row: set each key-like column (uuid or integer, not the
    primary key) to each value bob's rows hold (up to five), then count what alice can see of bob's:
    nothing."""
    crossing = _crossing_count(world["tables"], world["columns"], world["bob"], world["bob_series"]).as_string(
        connection.connection)
    forged = []
    for table in world["tables"]:
        columns = world["columns"][table]
        names = dict(columns)
        if "user_id" not in names:
            continue
        # Each column's value from any of bob's rows (the first row may leave one empty, e.g. a story
        # that is not based on a series): every forgeable column is tried, every run.
        bob_rows = [json.loads(row[0]) for row in as_admin(sql.SQL("SELECT to_jsonb(t) FROM {t} t WHERE user_id = %s")
                                                           .format(t=sql.Identifier(table)).as_string(connection.connection),
                                                           [world["bob"]])]
        if not bob_rows:
            continue
        for column, data_type in columns:
            if data_type not in KEY_TYPES or column in (world["keys"].get(table), "user_id"):
                continue
            values = list(dict.fromkeys(row[column] for row in bob_rows if row[column] is not None))[:5]
            for value in values:
                statement = sql.SQL("UPDATE {t} SET {c} = {v} WHERE user_id = {me}").format(
                    t=sql.Identifier(table), c=sql.Identifier(column), v=sql.Literal(value),
                    me=sql.Literal(str(alice.pk))).as_string(connection.connection)
                outcome = run_as(alice.pk, statement, crossing)
                forged.append(column)
                assert outcome.refused or outcome.rows == [(0,)], f"forging {table}.{column} = {value} let alice read"
    assert {"story_id", "base_series_id", "series_id", "collaborator_id"} <= set(forged)
