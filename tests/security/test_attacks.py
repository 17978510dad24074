"""Each escalation found by trying (issue 14), as raw SQL run as the app role for a user: the
database refuses it, whatever application code was tricked into running."""

import uuid

import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from accounts.rls import acting_as
from accounts.services import user_become_author, user_become_moderator
from marketplace.models import Listing, Report
from narrative_pipeline.models import SnapshotSeries

from ..factories import StoryFactory, UserFactory
from .attack import INSUFFICIENT_PRIVILEGE, as_admin, run_as

pytestmark = pytest.mark.django_db

# Each column an account's owner must not change, and a value an attacker would like.
GUARDED_ACCOUNT_COLUMNS = {
    "is_superuser": "true", "is_staff": "true", "is_active": "false", "tier": "'premium'",
    "max_stories": "100000", "max_images_per_story": "100000", "storage_limit_mb": "100000",
    "subscription_expires_at": "now() + interval '10 years'", "username": "'root'", "date_joined": "now()",
    "id": "gen_random_uuid()",
}


@pytest.mark.parametrize("column", GUARDED_ACCOUNT_COLUMNS)
def test_a_user_cannot_raise_their_own_privileges_tier_or_quotas(alice, column):
    value = GUARDED_ACCOUNT_COLUMNS[column]
    outcome = run_as(alice.pk, (f"UPDATE accounts_user SET {column} = {value} WHERE id = %s", [alice.pk]))
    assert outcome.refused == INSUFFICIENT_PRIVILEGE


def test_a_user_may_still_change_their_own_password_names_and_email(alice):
    outcome = run_as(alice.pk, ("UPDATE accounts_user SET password = 'x', first_name = 'A', last_name = 'B', "
                                "email = 'new@example.com', last_login_at = now(), auth_epoch = auth_epoch + 1 "
                                "WHERE id = %s", [alice.pk]))
    assert (outcome.refused, outcome.rowcount) == (None, 1)


def test_a_user_cannot_plant_or_delete_accounts(alice, bob):
    assert run_as(alice.pk, ("INSERT INTO accounts_user (id, password, is_superuser, username, first_name, last_name, "
                             "email, is_staff, is_active, date_joined, tier, auth_epoch) VALUES (gen_random_uuid(), "
                             "'', true, 'root2', '', '', 'r@example.com', true, true, now(), 'premium', 0)")
                  ).refused == INSUFFICIENT_PRIVILEGE
    assert run_as(alice.pk, "DELETE FROM accounts_user").refused == INSUFFICIENT_PRIVILEGE


@pytest.mark.parametrize("statement", [
    "UPDATE accounts_usage SET story_count = 0, storage_bytes = 0, image_count = 0",
    "DELETE FROM accounts_usage",
    "INSERT INTO accounts_usage (user_id, story_count, storage_bytes, image_count, updated_at) "
    "VALUES (%(me)s, 0, 0, 0, now())",
    "TRUNCATE accounts_usage",
])
def test_a_user_cannot_reset_their_usage_counters(alice, alice_story, statement):
    assert run_as(alice.pk, (statement, {"me": alice.pk})).refused == INSUFFICIENT_PRIVILEGE
    with acting_as(alice):
        assert alice.usage.story_count == 1


def test_usage_counters_follow_the_stories_themselves(alice):
    """Written by the database: even a story planted by raw SQL is counted."""
    outcome = run_as(alice.pk, (
        "INSERT INTO narrative_pipeline_story (id, user_id, title, premise, genre, setting, memory, authors_note, "
        "state, llm_overrides, storage_bytes, base_version, base_turn, storage_mode, created_at, updated_at) "
        "VALUES (gen_random_uuid(), %s, 'planted', '', '', '', '', '', '{}', '{}', 500, 0, 0, 'plain', now(), now())",
        [alice.pk]), ("SELECT story_count, storage_bytes FROM accounts_usage WHERE user_id = %s", [alice.pk]))
    assert (outcome.refused, outcome.rows) == (None, [(1, 500)])


@pytest.mark.parametrize("statement", [
    "INSERT INTO accounts_user_groups (user_id, group_id) SELECT %(me)s, id FROM auth_group WHERE name = 'moderators'",
    "INSERT INTO accounts_user_groups (user_id, group_id) SELECT %(me)s, id FROM auth_group WHERE name = 'authors'",
    "INSERT INTO auth_group (name) VALUES ('everything')",
    "UPDATE auth_group SET name = 'moderators-too'",
    "INSERT INTO auth_group_permissions (group_id, permission_id) "
    "SELECT g.id, p.id FROM auth_group g, auth_permission p WHERE g.name = 'authors'",
    "INSERT INTO accounts_user_user_permissions (user_id, permission_id) SELECT %(me)s, id FROM auth_permission",
    "INSERT INTO auth_permission (name, content_type_id, codename) SELECT 'x', id, 'x' FROM django_content_type "
    "LIMIT 1",
    "INSERT INTO guardian_userobjectpermission (object_pk, content_type_id, permission_id, user_id) "
    "SELECT %(story)s, content_type_id, id, %(me)s FROM auth_permission WHERE codename = 'change_story'",
    "DELETE FROM guardian_userobjectpermission",
    "UPDATE django_content_type SET model = 'x'",
])
def test_a_user_cannot_join_a_group_or_mint_permissions(alice, bob_story, statement):
    assert run_as(alice.pk, (statement, {"me": alice.pk, "story": str(bob_story.pk)})).refused == INSUFFICIENT_PRIVILEGE


def test_becoming_an_author_is_the_authors_group_only(alice):
    user_become_author(user=alice)
    alice.refresh_from_db()
    assert alice.is_staff and not alice.is_superuser
    assert list(alice.groups.values_list("name", flat=True)) == ["authors"]


@pytest.mark.parametrize("table", ["django_session", "axes_accessattempt", "axes_accesslog",
                                   "axes_accessfailurelog", "django_migrations"])
@pytest.mark.parametrize("statement", ["SELECT * FROM {t}", "DELETE FROM {t}"])
def test_sessions_and_log_in_records_are_closed_to_requests(alice, table, statement):
    assert run_as(alice.pk, statement.format(t=table)).refused == INSUFFICIENT_PRIVILEGE
    assert run_as(None, statement.format(t=table)).refused == INSUFFICIENT_PRIVILEGE


def test_a_forged_collaborator_row_is_refused(alice, bob_story):
    forged = ("INSERT INTO narrative_pipeline_storycollaborator (user_id, story_id, collaborator_id, "
              "collaborator_username, role, created_at) VALUES (%(me)s, %(story)s, %(me)s, 'alice', 'edit', now())")
    outcome = run_as(alice.pk, (forged, {"me": alice.pk, "story": bob_story.pk}),
                     ("SELECT count(*) FROM narrative_pipeline_turn WHERE story_id = %s", [bob_story.pk]))
    assert outcome.refused == INSUFFICIENT_PRIVILEGE


def test_a_collaborator_row_cannot_be_moved_onto_another_users_story(alice, alice_story, bob_story):
    carol = UserFactory(username="carol")
    from narrative_pipeline.services import collaborator_add

    collaborator_add(owner=alice, story=alice_story, username=carol.username, role="edit")
    outcome = run_as(alice.pk, ("UPDATE narrative_pipeline_storycollaborator SET story_id = %s, collaborator_id = %s",
                                [bob_story.pk, alice.pk]))
    assert outcome.refused == INSUFFICIENT_PRIVILEGE


def test_sharing_still_grants_the_collaborator_their_object_permissions(alice, alice_story):
    from narrative_pipeline.services import can_change_story, collaborator_add, collaborator_remove

    carol = UserFactory(username="carol")
    grant = collaborator_add(owner=alice, story=alice_story, username="carol", role="edit")
    with acting_as(carol):
        assert can_change_story(User.objects.get(pk=carol.pk), alice_story)
    collaborator_remove(owner=alice, grant=grant)
    with acting_as(carol):
        assert not can_change_story(User.objects.get(pk=carol.pk), alice_story)


def _private_series_of(user) -> str:
    rows = as_admin("SELECT id FROM narrative_pipeline_snapshotseries WHERE author_id = %s AND NOT is_public",
                    [user.pk])
    assert rows, "the fixture has a private (branch) series"
    return rows[0][0]


def test_a_story_cannot_be_pointed_at_another_users_private_series(alice, alice_story, bob_story):
    series = _private_series_of(bob_story.user)
    read_it = ("SELECT count(*) FROM narrative_pipeline_snapshotitem WHERE series_id = %s", [series])
    assert run_as(alice.pk, read_it).rows == [(0,)]
    moved = run_as(alice.pk, ("UPDATE narrative_pipeline_story SET base_series_id = %s, base_version = 1, "
                              "base_turn = 2 WHERE id = %s", [series, alice_story.pk]), read_it)
    assert moved.refused == INSUFFICIENT_PRIVILEGE
    planted = run_as(alice.pk, (
        "INSERT INTO narrative_pipeline_story (id, user_id, title, premise, genre, setting, memory, authors_note, "
        "state, llm_overrides, storage_bytes, base_series_id, base_version, base_turn, storage_mode, created_at, updated_at) "
        "VALUES (%s, %s, 'x', '', '', '', '', '', '{}', '{}', 0, %s, 1, 2, 'reference', now(), now())",
        [uuid.uuid4(), alice.pk, series]), read_it)
    assert planted.refused == INSUFFICIENT_PRIVILEGE


def test_a_holder_row_cannot_be_forged(alice, bob_story):
    series = _private_series_of(bob_story.user)
    story = StoryFactory(user=alice)
    outcome = run_as(alice.pk, ("INSERT INTO narrative_pipeline_seriesholder (story_id, series_id, user_id) "
                                "VALUES (%s, %s, %s)", [story.pk, series, alice.pk]))
    assert outcome.refused == INSUFFICIENT_PRIVILEGE


def test_the_moderator_setting_grants_nothing(alice, bob_story):
    listing = Listing.objects.get()  # bob's, public; reported by bob
    with acting_as(bob_story.user_id, bypass=True):  # hidden, as a superuser in the admin could
        SnapshotSeries.objects.filter(pk=listing.series_id).update(is_hidden=True)
    outcome = run_as(alice.pk, "SELECT set_config('app.moderator', 'on', true)",
                     "SELECT (SELECT count(*) FROM marketplace_report), "
                     "(SELECT count(*) FROM marketplace_communitystory), "
                     "(SELECT count(*) FROM narrative_pipeline_snapshotseries WHERE is_hidden)")
    assert outcome.rows == [(0, 0, 0)]
    hide = run_as(alice.pk, "SELECT set_config('app.moderator', 'on', true)",
                  "UPDATE narrative_pipeline_snapshotseries SET is_hidden = false")
    assert hide.rowcount == 0


def test_moderators_are_a_role_and_see_reports(bob_story):
    moderator = UserFactory()
    user_become_moderator(user=moderator)
    assert Group.objects.get(name="moderators").user_set.filter(pk=moderator.pk).exists()
    with acting_as(moderator):
        assert Report.objects.count() == 0
    with acting_as(moderator, moderator=True):
        assert Report.objects.count() == 1


def test_an_author_cannot_restore_what_the_moderators_hid(bob_story):
    listing = Listing.objects.get()
    with acting_as(bob_story.user_id, bypass=True):
        SnapshotSeries.objects.filter(pk=listing.series_id).update(is_hidden=True)
    outcome = run_as(bob_story.user_id, ("UPDATE narrative_pipeline_snapshotseries SET is_hidden = false "
                                         "WHERE id = %s", [listing.series_id]))
    assert outcome.refused == INSUFFICIENT_PRIVILEGE


def test_sign_in_views_work_for_a_request_that_carries_someones_token(api_as, alice):
    """Sign-up and log-in read other accounts and write log-in records, closed to the request roles: they
    run as the owner even when the request carries a token (found by schemathesis: a 500 before)."""
    client = api_as(alice)
    signed_up = client.post("/api/auth/register/", {"username": "newcomer", "email": "new@example.com",
                                                    "password": "a-long-test-password-42"},
                            content_type="application/json")
    assert signed_up.status_code == 202, signed_up.content
    wrong = client.post("/api/auth/token/", {"username": "alice", "password": "not it"},
                        content_type="application/json")
    assert wrong.status_code == 401, wrong.content


@pytest.mark.parametrize("table", ["narrative_pipeline_story", "narrative_pipeline_turn", "chapters_storychapter",
                                   "chapters_loreentry", "narrative_pipeline_character"])
def test_an_editor_cannot_take_a_shared_storys_rows(alice, bob_story, table):
    from narrative_pipeline.services import collaborator_add

    collaborator_add(owner=bob_story.user, story=bob_story, username=alice.username, role="edit")
    column = "id" if table == "narrative_pipeline_story" else "story_id"
    outcome = run_as(alice.pk, (f"UPDATE {table} SET user_id = %s WHERE {column} = %s", [alice.pk, bob_story.pk]))
    assert outcome.refused == INSUFFICIENT_PRIVILEGE
    edited = run_as(alice.pk, ("UPDATE narrative_pipeline_story SET title = 'edited' WHERE id = %s", [bob_story.pk]))
    assert (edited.refused, edited.rowcount) == (None, 1)  # editing stays allowed


def test_every_new_password_ends_the_old_tokens_even_from_the_operators_command(client, alice, password, monkeypatch):
    from django.core.management import call_command

    old = client.post("/api/auth/token/", {"username": "alice", "password": password},
                      content_type="application/json").json()["access"]
    new_password = "another-long-password-42"
    monkeypatch.setattr("django.contrib.auth.management.commands.changepassword.getpass.getpass",
                        lambda prompt="": new_password)
    call_command("changepassword", "alice", stdout=__import__("io").StringIO())
    assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {old}").status_code == 401
    alice.refresh_from_db()
    assert alice.auth_epoch == 1 and alice.check_password(new_password)
