"""API tokens and sessions under attack: a token signed with the wrong key, a refresh token used twice,
tokens and sessions that outlive a password change or "log out everywhere", and the token tables read
by a request role."""

import re
import threading

import jwt
import pytest
import yaml
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.tokens import EPOCH_CLAIM, EpochAccessToken

from ..conftest import as_app_role
from ..factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

OLD_DEVELOPMENT_KEY = "luna-local-development-key-not-for-production-use-0123456789"
NEW_PASSWORD = "a-brand-new-secret-9"
# The columns of accounts_user a request acting for its user may write (column-level grants, DESIGN §2).
WRITABLE_USER_COLUMNS = {"auth_epoch", "password", "last_login_at", "first_name", "last_name", "email",
                         "email_verified_at"}


def log_in(user, password=TEST_PASSWORD, client=None) -> dict:
    response = (client or Client()).post("/api/auth/token/", {"username": user.username, "password": password},
                                         content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def me(access: str):
    return Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")


def refresh(token: str, client=None):
    return (client or Client()).post("/api/auth/token/refresh/", {"refresh": token}, content_type="application/json")


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def logged_in(client: Client) -> bool:
    return client.get("/accounts/profile/").status_code == 200


def user_columns_written(queries) -> set[str]:
    columns = set()
    for query in queries:
        if query["sql"].startswith('UPDATE "accounts_user" SET '):
            assignments = query["sql"].split(" SET ", 1)[1].split(" WHERE ", 1)[0]
            columns |= set(re.findall(r'"(\w+)" =', assignments))
    return columns


class TestSigningKey:
    def test_a_token_signed_with_secret_key_or_the_old_development_key_is_401(self, alice):
        claims = dict(EpochAccessToken.for_user(alice).payload)
        assert me(jwt.encode(claims, settings.JWT_SIGNING_KEY, algorithm="HS256")).status_code == 200
        for key in (settings.SECRET_KEY, OLD_DEVELOPMENT_KEY):
            forged = jwt.encode(claims, key, algorithm="HS256")
            assert me(forged).status_code == 401

    def test_a_token_without_the_epoch_claim_is_401(self, alice):
        assert me(str(AccessToken.for_user(alice))).status_code == 401


class TestRotation:
    def test_a_refresh_token_works_once(self, alice):
        pair = log_in(alice)
        first = refresh(pair["refresh"])
        assert first.status_code == 200 and set(first.json()) == {"access", "refresh"}
        assert first.json()["refresh"] != pair["refresh"]
        assert me(first.json()["access"]).status_code == 200
        reused = refresh(pair["refresh"])
        assert reused.status_code == 401 and reused.json()["code"] == "token_not_valid"
        assert refresh(first.json()["refresh"]).status_code == 200
        assert refresh(first.json()["refresh"]).status_code == 401

    def test_tokens_carry_the_accounts_epoch(self, alice):
        pair = log_in(alice)
        for token in (pair["access"], pair["refresh"]):
            assert jwt.decode(token, settings.JWT_SIGNING_KEY, algorithms=["HS256"])[EPOCH_CLAIM] == alice.auth_epoch

    def test_log_in_and_refresh_work_with_another_users_session_cookie(self, as_alice, bob):
        # A browser logged in as alice: the middleware would act as alice, who may not touch the token tables.
        pair = log_in(bob, client=as_alice)
        assert refresh(pair["refresh"], client=as_alice).status_code == 200
        assert me(pair["access"]).json()["username"] == "bob"


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_racing_with_one_token_get_one_new_pair():
    user = UserFactory()
    token = log_in(user)["refresh"]
    start, answers = threading.Barrier(4), []

    def race():
        try:
            start.wait()
            answers.append(refresh(token).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 401, 401, 401]


class TestTokenTables:
    @pytest.mark.parametrize("role", ["luna_app", "luna_moderator", "luna_admin"])
    @pytest.mark.parametrize("statement", [
        "SELECT token FROM token_blacklist_outstandingtoken",
        "SELECT jti FROM token_blacklist_outstandingtoken",
        "SELECT * FROM token_blacklist_blacklistedtoken",
        "INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at) "
        "SELECT id, now() FROM token_blacklist_outstandingtoken",
        "DELETE FROM token_blacklist_blacklistedtoken",
        "DELETE FROM token_blacklist_outstandingtoken",
        "UPDATE token_blacklist_outstandingtoken SET expires_at = now() + interval '10 years'",
        "INSERT INTO token_blacklist_outstandingtoken (jti, token, expires_at) VALUES ('x', 'x', now())",
        "TRUNCATE token_blacklist_outstandingtoken CASCADE",
    ])
    def test_request_roles_have_no_privilege(self, alice, raw_cursor, role, statement):
        refresh(log_in(alice)["refresh"])  # an outstanding and a blacklisted row
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            as_app_role(raw_cursor, alice.pk)
            raw_cursor.execute(f"SET LOCAL ROLE {role}")
            raw_cursor.execute(statement)

    @pytest.mark.parametrize("statement", ["SELECT user_id FROM token_blacklist_outstandingtoken",
                                           "UPDATE token_blacklist_outstandingtoken SET user_id = NULL"])
    @pytest.mark.parametrize("role", ["luna_app", "luna_moderator"])
    def test_the_request_roles_may_not_even_name_the_tokens_user(self, alice, raw_cursor, role, statement):
        log_in(alice)
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            as_app_role(raw_cursor, alice.pk)
            raw_cursor.execute(f"SET LOCAL ROLE {role}")
            raw_cursor.execute(statement)

    def test_what_the_admins_account_deletion_may_run_finds_no_row(self, alice, raw_cursor):
        log_in(alice)
        with transaction.atomic():
            as_app_role(raw_cursor, alice.pk)
            raw_cursor.execute("SET LOCAL ROLE luna_admin")
            raw_cursor.execute("SELECT user_id FROM token_blacklist_outstandingtoken")
            assert raw_cursor.fetchall() == []
            raw_cursor.execute("UPDATE token_blacklist_outstandingtoken SET user_id = NULL WHERE user_id = %s",
                               [alice.pk])
            assert raw_cursor.rowcount == 0

    def test_deleting_an_account_deletes_its_tokens(self, alice, bob, raw_cursor):
        access = log_in(alice)["access"]
        refresh(log_in(alice)["refresh"])
        log_in(bob)
        assert Client().delete("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 204
        raw_cursor.execute("SELECT user_id FROM token_blacklist_outstandingtoken")
        assert [row[0] for row in raw_cursor.fetchall()] == [bob.pk]
        raw_cursor.execute("SELECT count(*) FROM token_blacklist_blacklistedtoken")
        assert raw_cursor.fetchone()[0] == 0

    def test_a_superuser_deletes_an_account_in_the_admin(self, client, bob, raw_cursor):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        log_in(bob)
        response = client.post(f"/admin/accounts/user/{bob.pk}/delete/", {"post": "yes"})
        assert response.status_code == 302 and not User.objects.filter(pk=bob.pk).exists()
        raw_cursor.execute("SELECT count(*) FROM token_blacklist_outstandingtoken")
        assert raw_cursor.fetchone()[0] == 0

    def test_the_token_tables_are_not_in_the_admin(self, client):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        assert client.get("/admin/token_blacklist/outstandingtoken/").status_code == 404
        assert client.get("/admin/token_blacklist/blacklistedtoken/").status_code == 404


def assert_everything_of_the_account_ended(pairs: list[dict], sessions: list[Client]) -> None:
    for pair in pairs:
        assert me(pair["access"]).status_code == 401
        assert refresh(pair["refresh"]).status_code == 401
    for session in sessions:
        assert not logged_in(session)


class TestLogoutEverywhere:
    def test_the_api_ends_every_token_and_session_of_the_account_only(self, alice, bob):
        phone, laptop, bobs = log_in(alice), log_in(alice), log_in(bob)
        browser_session = browser(alice)
        response = Client().post("/api/auth/logout-all/", HTTP_AUTHORIZATION=f"Bearer {phone['access']}")
        assert response.status_code == 204
        assert_everything_of_the_account_ended([phone, laptop], [browser_session])
        assert me(log_in(alice)["access"]).status_code == 200
        assert me(bobs["access"]).status_code == 200 and refresh(bobs["refresh"]).status_code == 200

    def test_it_writes_only_the_epoch(self, alice):
        access = log_in(alice)["access"]
        with CaptureQueriesContext(connection) as queries:
            Client().post("/api/auth/logout-all/", HTTP_AUTHORIZATION=f"Bearer {access}")
        assert user_columns_written(queries) == {"auth_epoch"}
        alice.refresh_from_db()
        assert alice.auth_epoch == 1

    def test_it_needs_a_logged_in_user(self, client):
        assert client.post("/api/auth/logout-all/").status_code == 401

    def test_it_is_in_the_schema(self, client):
        schema = yaml.safe_load(client.get("/api/schema/").content)
        operation = schema["paths"]["/api/auth/logout-all/"]["post"]
        assert {"204", "401"} <= set(operation["responses"]) and "requestBody" not in operation
        assert {"200", "401"} <= set(schema["paths"]["/api/auth/token/refresh/"]["post"]["responses"])

    def test_the_profile_page_has_a_button_that_ends_everything(self, alice):
        page_session = Client(enforce_csrf_checks=True)
        page_session.force_login(alice)
        other_session, pair = browser(alice), log_in(alice)
        page = page_session.get("/accounts/profile/").content.decode()
        form = re.search(r'<form method="post" action="/accounts/profile/logout-all/">(.*?)</form>', page, re.S)
        assert form and 'name="csrfmiddlewaretoken"' in form.group(1) and "Log out everywhere" in form.group(1)
        assert "<script" not in form.group(1) and "onclick" not in form.group(1)
        assert page_session.post("/accounts/profile/logout-all/").status_code == 403  # no CSRF token
        assert logged_in(other_session)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(1)).group(1)
        response = page_session.post("/accounts/profile/logout-all/", {"csrfmiddlewaretoken": csrf}, follow=True)
        assert response.redirect_chain[-1][0] == "/accounts/login/"
        assert "You are logged out everywhere" in response.content.decode()
        assert_everything_of_the_account_ended([pair], [page_session, other_session])

    def test_the_page_answers_only_post(self, as_alice):
        assert as_alice.get("/accounts/profile/logout-all/").status_code == 405
        assert logged_in(as_alice)


class TestPasswordChange:
    def test_the_profile_page_ends_every_other_session_and_token(self, alice):
        this_browser, other_browser, pair = browser(alice), browser(alice), log_in(alice)
        with CaptureQueriesContext(connection) as queries:
            response = this_browser.post("/accounts/password_change/", {
                "old_password": TEST_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert response.status_code == 302 and response["Location"] == "/accounts/password_change/done/"
        assert user_columns_written(queries) <= WRITABLE_USER_COLUMNS
        assert logged_in(this_browser)  # the one that changed it stays
        assert_everything_of_the_account_ended([pair], [other_browser])
        assert me(log_in(alice, password=NEW_PASSWORD)["access"]).status_code == 200

    def test_a_wrong_old_password_changes_nothing(self, alice):
        this_browser, pair = browser(alice), log_in(alice)
        response = this_browser.post("/accounts/password_change/", {
            "old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert response.status_code == 200
        assert me(pair["access"]).status_code == 200 and refresh(pair["refresh"]).status_code == 200

    def test_the_reset_link_ends_every_session_and_token(self, client, alice):
        other_browser, pair = browser(alice), log_in(alice)
        link = f"/accounts/reset/{urlsafe_base64_encode(force_bytes(alice.pk))}/{default_token_generator.make_token(alice)}/"
        form_url = client.get(link, follow=True).redirect_chain[-1][0]
        with CaptureQueriesContext(connection) as queries:
            response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert response.status_code == 302
        assert user_columns_written(queries) <= WRITABLE_USER_COLUMNS
        assert_everything_of_the_account_ended([pair], [other_browser])
        assert me(log_in(alice, password=NEW_PASSWORD)["access"]).status_code == 200

    def test_a_superuser_setting_the_password_in_the_admin_ends_them_too(self, client, alice):
        other_browser, pair = browser(alice), log_in(alice)
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        with CaptureQueriesContext(connection) as queries:
            response = client.post(f"/admin/accounts/user/{alice.pk}/password/", {
                "usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert response.status_code == 302
        assert user_columns_written(queries) <= WRITABLE_USER_COLUMNS
        assert_everything_of_the_account_ended([pair], [other_browser])
        assert me(log_in(alice, password=NEW_PASSWORD)["access"]).status_code == 200

    def test_disabling_the_password_in_the_admin_ends_them_too(self, client, alice):
        pair = log_in(alice)
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        response = client.post(f"/admin/accounts/user/{alice.pk}/password/",
                               {"usable_password": "false", "unset-password": "1"})
        assert response.status_code == 302
        assert_everything_of_the_account_ended([pair], [])
        alice.refresh_from_db()
        assert not alice.has_usable_password()
