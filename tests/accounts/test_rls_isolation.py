"""Isolation by trying: the database itself keeps each user's rows from every other user."""

import uuid

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import UUIDField
from django.db.utils import ProgrammingError

from accounts.models import Usage, User
from accounts.rls import acting_as, current_user_id
from accounts.services import user_owned_models
from narrative_pipeline.models import BudgetReservation, MonthlySpend, Story, StorySpend

from ..conftest import as_app_role
from ..factories import StoryFactory, UserFactory

# Tables with a user_id column that the table owner writes for users (grants, counters, holds):
# RLS enabled, not forced, so the app role sees its own rows and the owner's definer functions and
# triggers write them; the app role has no write privilege on them (tests/security attacks each).
OWNER_WRITTEN_TABLES = {
    "accounts_usage": "usage counters, kept by a trigger on stories",
    "accounts_user_groups": "group membership, written by luna_become_author() and the operator",
    "accounts_user_user_permissions": "permissions, written by the operator only",
    "guardian_userobjectpermission": "object permissions, following collaborator rows by trigger",
    "narrative_pipeline_seriesholder": "a story's hold on its base series, written by a trigger on stories",
    "narrative_pipeline_monthlyspend": "model spend per month, kept by a trigger on agent calls and budget functions",
    "narrative_pipeline_storyspend": "model spend per story, kept by a trigger on agent calls and budget functions",
    "narrative_pipeline_budgetreservation": "running turns' held estimates, written by the budget functions",
}
# Tables with a user_id column that no request role may read or write at all: the owner alone, for the
# requests that act for no one yet (log-in and token refresh; accounts migration 0005).
OWNER_ONLY_TABLES = {"token_blacklist_outstandingtoken": "every account's refresh tokens"}
# Tables a request role inserts its own rows into and reads them back, and the owner sends and deletes
# (RLS enabled, not forced; no update or delete by a request role; tests/faults attacks it).
OWNER_SENT_TABLES = {"accounts_outboxtask": "Celery tasks waiting for the broker"}


def test_every_user_id_table_forces_rls_with_policies(db):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname),
                   has_table_privilege('luna_app', c.oid, 'INSERT, UPDATE, DELETE')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r'
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id'
                          AND NOT a.attisdropped)
            """
        )
        rows = cursor.fetchall()
    assert {"narrative_pipeline_story", "accounts_usage", "django_admin_log"} <= {row[0] for row in rows}
    unprotected = [row[0] for row in rows if row[0] not in OWNER_WRITTEN_TABLES | OWNER_ONLY_TABLES | OWNER_SENT_TABLES
                   and not (row[1] and row[2] and row[3])]
    assert unprotected == []
    owner_written = {row[0]: (row[1], row[3] > 0, row[4]) for row in rows if row[0] in OWNER_WRITTEN_TABLES}
    assert owner_written == dict.fromkeys(OWNER_WRITTEN_TABLES, (True, True, False))
    owner_only = {row[0]: (row[1], row[3], row[4]) for row in rows if row[0] in OWNER_ONLY_TABLES}
    assert owner_only == dict.fromkeys(OWNER_ONLY_TABLES, (True, 0, False))  # enabled, no policy, no write
    owner_sent = {row[0]: (row[1], row[2], row[3] > 0) for row in rows if row[0] in OWNER_SENT_TABLES}
    assert owner_sent == dict.fromkeys(OWNER_SENT_TABLES, (True, False, True))


def private_tables() -> list[str]:
    """The user-owned tables whose rows only their user (and the admin role) may see, even the owner."""
    return [model._meta.db_table for model in user_owned_models() if model._meta.db_table not in OWNER_WRITTEN_TABLES]


def test_every_user_owned_model_is_a_forced_rls_table(db):
    tables = private_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relrowsecurity AND relforcerowsecurity",
            [tables],
        )
        assert sorted(row[0] for row in cursor.fetchall()) == sorted(tables)


def test_accounts_table_is_enabled_not_forced(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'accounts_user'")
        assert cursor.fetchone() == (True, False)


def test_app_role_is_neither_owner_nor_superuser_nor_bypassing(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolname, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles "
                       "WHERE rolname IN ('luna_app', 'luna_admin') ORDER BY rolname")
        assert cursor.fetchall() == [("luna_admin", False, False, False), ("luna_app", False, False, False)]
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)


class TestRawSqlAsAppRole:
    def test_cannot_select_update_or_delete_anothers_story(self, alice, alice_story, bob_story, raw_cursor):
        with transaction.atomic():
            as_app_role(raw_cursor, alice.pk)
            raw_cursor.execute("SELECT title FROM narrative_pipeline_story")
            assert [row[0] for row in raw_cursor.fetchall()] == [alice_story.title]
            raw_cursor.execute("SELECT count(*) FROM narrative_pipeline_story WHERE id = %s", [bob_story.pk])
            assert raw_cursor.fetchone()[0] == 0
            raw_cursor.execute("UPDATE narrative_pipeline_story SET title = 'pwned' WHERE id = %s", [bob_story.pk])
            assert raw_cursor.rowcount == 0
            raw_cursor.execute("DELETE FROM narrative_pipeline_story WHERE id = %s", [bob_story.pk])
            assert raw_cursor.rowcount == 0
        with acting_as(bob_story.user_id):
            assert Story.objects.get(pk=bob_story.pk).title == "Bob's secret story"
            assert Usage.objects.get(user_id=bob_story.user_id).story_count == 3  # the story and two branches

    def test_cannot_insert_a_row_for_another_user(self, alice, bob, raw_cursor):
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            as_app_role(raw_cursor, alice.pk)
            raw_cursor.execute(
                "INSERT INTO narrative_pipeline_story (id, user_id, title, premise, genre, created_at, updated_at) "
                "VALUES (%s, %s, 'planted', '', '', now(), now())",
                [uuid.uuid4(), bob.pk],
            )

    def test_cannot_move_own_row_to_another_user(self, alice, bob, alice_story, raw_cursor):
        with pytest.raises(ProgrammingError, match="row-level security|owner never changes"), transaction.atomic():
            as_app_role(raw_cursor, alice.pk)
            raw_cursor.execute("UPDATE narrative_pipeline_story SET user_id = %s WHERE id = %s", [bob.pk, alice_story.pk])

    def test_nothing_visible_without_a_user(self, alice_story, bob_story, raw_cursor):
        tables = private_tables()
        # The owner role sees nothing: RLS is forced on it, and it does not inherit luna_admin.
        raw_cursor.execute("SELECT current_user")
        assert raw_cursor.fetchone()[0] == "luna"
        for table in tables:
            raw_cursor.execute(f'SELECT count(*) FROM "{table}"')
            assert raw_cursor.fetchone()[0] == 0, table
        with transaction.atomic():
            as_app_role(raw_cursor, None)
            for table in tables:
                raw_cursor.execute(f'SELECT count(*) FROM "{table}"')
                assert raw_cursor.fetchone()[0] == 0, table

    def test_app_role_sees_only_its_own_account(self, alice, bob, raw_cursor):
        with transaction.atomic():
            as_app_role(raw_cursor, alice.pk)
            raw_cursor.execute("SELECT username, email FROM accounts_user")
            assert raw_cursor.fetchall() == [("alice", "alice@example.com")]
            raw_cursor.execute("UPDATE accounts_user SET tier = 'premium' WHERE id = %s", [bob.pk])
            assert raw_cursor.rowcount == 0


# Usage and the budget counters: read-only, attacked in tests/security.
@pytest.mark.parametrize("model", [model for model in user_owned_models()
                                   if model not in (Usage, MonthlySpend, StorySpend, BudgetReservation)],
                         ids=lambda model: model._meta.label)
def test_orm_cannot_read_change_or_plant_rows_of_another_user(model, alice, bob, alice_story, bob_story):
    with acting_as(bob):
        bobs_rows = list(model.objects.all())
    assert bobs_rows, f"bob owns no {model._meta.label} row to attack"
    with acting_as(alice):
        assert not model.objects.filter(user_id=bob.pk).exists()
        assert model.objects.filter(user_id=bob.pk).update(user_id=alice.pk) == 0
        assert model.objects.filter(user_id=bob.pk).delete()[0] == 0
    planted = bobs_rows[0]
    if isinstance(model._meta.pk, UUIDField):
        planted.pk = uuid.uuid4()
    else:
        planted.pk = None
    with pytest.raises(ProgrammingError), acting_as(alice):
        planted.save(force_insert=True)
    with acting_as(bob):
        assert len(model.objects.all()) == len(bobs_rows)


class TestActingAs:
    def test_sets_and_restores_role_and_user(self, alice, bob):
        def now():
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user, current_setting('app.current_user_id', true)")
                return cursor.fetchone()

        login_role = now()[0]
        with acting_as(alice):
            assert now() == ("luna_app", str(alice.pk))
            with acting_as(bob):
                assert now() == ("luna_app", str(bob.pk))
                assert current_user_id() == str(bob.pk)
            # Releasing a savepoint keeps SET LOCAL: the outer user must be set back.
            assert now() == ("luna_app", str(alice.pk))
            with pytest.raises(RuntimeError), acting_as(bob):
                raise RuntimeError
            assert now() == ("luna_app", str(alice.pk))
        assert now() == (login_role, "")
        assert current_user_id() is None

    def test_rejects_a_user_id_that_is_not_a_uuid(self, db):
        with pytest.raises(ValueError), acting_as("'; DROP TABLE accounts_user; --"):
            pass


@pytest.mark.django_db(transaction=True)
def test_pooled_connection_does_not_carry_a_user_into_the_next_checkout(settings):
    """Two checkouts in a row of one pooled connection: the second sees no trace of the first."""
    from psycopg_pool import ConnectionPool

    alice = UserFactory(username="pool-alice")
    StoryFactory(user=alice)
    params = connection.get_connection_params()
    with ConnectionPool(kwargs={**params, "autocommit": False}, min_size=1, max_size=1, open=True) as pool:
        with pool.connection() as first:
            first_pid = first.info.backend_pid
            first.execute("SET LOCAL ROLE luna_app")
            first.execute("SELECT set_config('app.current_user_id', %s, true)", [str(alice.pk)])
            assert first.execute("SELECT count(*) FROM narrative_pipeline_story").fetchone()[0] == 1
        with pool.connection() as second:
            assert second.info.backend_pid == first_pid
            row = second.execute("SELECT current_user, current_setting('app.current_user_id', true)").fetchone()
            assert row == (params["user"], "")
            second.execute("SET LOCAL ROLE luna_app")
            assert second.execute("SELECT count(*) FROM narrative_pipeline_story").fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_two_requests_in_a_row_share_nothing(client, password):
    alice, bob = UserFactory(username="seq-alice"), UserFactory(username="seq-bob")
    StoryFactory(user=alice, title="only alice's")
    StoryFactory(user=bob, title="only bob's")
    for user, title in ((alice, "only alice's"), (bob, "only bob's"), (alice, "only alice's")):
        client.force_login(user)
        response = client.get("/api/stories/")
        assert [story["title"] for story in response.json()["results"]] == [title]
        client.logout()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.current_user_id', true)")
        assert cursor.fetchone()[0] == ""


class TestThroughTheApi:
    def test_anothers_story_is_404_and_untouched(self, api_as, alice, alice_story, bob_story):
        api = api_as(alice)
        assert api.get(f"/api/stories/{bob_story.pk}/").status_code == 404
        response = api.delete(f"/api/stories/{bob_story.pk}/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert [s["id"] for s in api.get("/api/stories/").json()["results"]] == [str(alice_story.pk)]
        with acting_as(bob_story.user_id):
            assert Story.objects.filter(pk=bob_story.pk).exists()

    def test_me_never_shows_another_users_email(self, api_as, alice, bob):
        body = api_as(alice).get("/api/me/").content.decode()
        assert "alice@example.com" in body and "bob@example.com" not in body


class TestThroughThePages:
    def test_anothers_story_page_is_404(self, client, alice, password, bob_story):
        client.force_login(alice)
        response = client.get(f"/stories/{bob_story.pk}/")
        assert response.status_code == 404
        assert "Bob's secret story" not in response.content.decode()

    def test_profile_lists_only_own_stories(self, client, alice, password, alice_story, bob_story):
        client.force_login(alice)
        page = client.get("/accounts/profile/").content.decode()
        assert "Alice&#x27;s secret story" in page and "Bob" not in page


class TestAdmin:
    def test_staff_author_sees_only_own_rows(self, client, alice, password, alice_story, bob_story):
        from django.contrib.auth.models import Permission

        alice.is_staff = True
        alice.save()
        alice.user_permissions.add(Permission.objects.get(codename="view_story"))  # the operator, as the owner
        client.force_login(alice)
        page = client.get("/admin/narrative_pipeline/story/").content.decode()
        assert "Alice&#x27;s secret story" in page and "Bob&#x27;s secret story" not in page
        assert client.get(f"/admin/narrative_pipeline/story/{bob_story.pk}/change/").status_code in (302, 404)

    def test_superuser_bypass_is_explicit_and_logged(self, client, alice_story, bob_story, caplog):
        client.force_login(User.objects.create_superuser("root", "root@example.com", "a-long-test-password-42"))
        with caplog.at_level("WARNING", logger="luna.rls"):
            page = client.get("/admin/narrative_pipeline/story/").content.decode()
        assert "Alice&#x27;s secret story" in page and "Bob&#x27;s secret story" in page
        assert any("RLS bypass" in message for message in caplog.messages)
        # Outside the admin the superuser is an ordinary user.
        assert client.get(f"/api/stories/{bob_story.pk}/").status_code == 404


def test_psycopg_error_class_for_policy_violation_is_insufficient_privilege(alice, bob, raw_cursor):
    with pytest.raises(ProgrammingError) as caught, transaction.atomic():
        as_app_role(raw_cursor, alice.pk)
        raw_cursor.execute("INSERT INTO accounts_usage (user_id, story_count, storage_bytes, image_count, updated_at) "
                           "VALUES (%s, 0, 0, 0, now())", [bob.pk])
    assert isinstance(caught.value.__cause__, psycopg.errors.InsufficientPrivilege)
