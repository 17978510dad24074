import re

import pytest
from django.core import mail

from accounts.models import User

from ..factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


class TestSignUp:
    def test_sign_up_confirm_log_in_and_see_the_profile(self, client, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/accounts/signup/", {
                "username": "wren", "email": "wren@example.com",
                "password": "moonlit-harbour-77", "password_again": "moonlit-harbour-77",
            }, follow=True)
        assert response.redirect_chain[-1][0] == "/accounts/signup/sent/"
        assert "Check your e-mail to continue" in response.content.decode()
        log_in = {"username": "wren", "password": "moonlit-harbour-77"}
        assert client.post("/accounts/login/", log_in).status_code == 200  # not before the address is confirmed
        response = client.get(link_in(mail.outbox[0]), follow=True)
        assert "is confirmed" in response.content.decode()
        assert User.objects.get(username="wren").email_verified
        assert client.post("/accounts/login/", log_in).status_code == 302
        assert "not confirmed yet" not in client.get("/accounts/profile/").content.decode()

    def test_errors_are_shown_in_place_and_typed_values_kept(self, client, alice):
        response = client.post("/accounts/signup/", {
            "username": "alice", "email": "someone-new@example.com",
            "password": "short", "password_again": "different",
        })
        page = response.content.decode()
        assert response.status_code == 200
        assert "That username is taken." in page or "The two passwords differ." in page
        assert 'value="someone-new@example.com"' in page
        assert not User.objects.filter(email="someone-new@example.com").exists()

    def test_weak_password_is_a_form_error(self, client):
        response = client.post("/accounts/signup/", {
            "username": "wren", "email": "wren@example.com", "password": "password1", "password_again": "password1",
        })
        assert "This password is too common." in response.content.decode()
        assert not User.objects.filter(username="wren").exists()

    def test_a_forged_or_tampered_link_is_refused(self, client, alice):
        response = client.get("/accounts/verify/not-a-real-token/")
        assert response.status_code == 400
        assert "not valid" in response.content.decode()


class TestLogIn:
    def test_log_in_and_out(self, client, alice):
        response = client.post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD}, follow=True)
        assert response.redirect_chain[-1][0] == "/stories/"
        assert "My stories" in response.content.decode()
        client.post("/accounts/logout/")
        assert client.get("/accounts/profile/").status_code == 302

    def test_wrong_password_is_a_form_error(self, client, alice):
        response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()

    def test_repeated_failures_lock_the_account_out(self, client, alice, settings):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post("/accounts/login/", {"username": "alice", "password": "guess"})
        response = client.post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD})
        assert response.status_code == 429
        assert "Too many failed log-ins" in response.content.decode()


class TestPasswordReset:
    def test_reset_by_email(self, client, alice, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):  # sent once the outbox row commits
            client.post("/accounts/password_reset/", {"email": "alice@example.com"})
        assert len(mail.outbox) == 1
        form_url = client.get(link_in(mail.outbox[0]), follow=True).redirect_chain[-1][0]
        response = client.post(form_url, {"new_password1": "a-brand-new-secret-9", "new_password2": "a-brand-new-secret-9"},
                               follow=True)
        assert "Your new password is set" in response.content.decode()
        response = client.post("/accounts/login/", {"username": "alice", "password": "a-brand-new-secret-9"})
        assert response.status_code == 302

    def test_unknown_address_reveals_nothing(self, client):
        response = client.post("/accounts/password_reset/", {"email": "nobody@example.com"}, follow=True)
        assert "If an account has that address" in response.content.decode()
        assert mail.outbox == []


class TestProfile:
    def test_shows_usage_and_limits(self, client, alice, alice_story):
        client.force_login(alice)
        page = client.get("/accounts/profile/").content.decode()
        assert "1 of 10" in page and "of 100 MB" in page and "up to 100 per story" in page

    def test_export_downloads_exactly_my_rows(self, client, alice, alice_story, bob_story):
        client.force_login(alice)
        response = client.get("/accounts/profile/export/")
        assert response["Content-Disposition"].startswith("attachment")
        data = response.json()
        assert data["account"]["username"] == "alice"
        stories = data["data"]["narrative_pipeline.Story"]
        assert [row["fields"]["title"] for row in stories] == ["Alice's secret story"]
        assert data["data"]["accounts.Usage"][0]["fields"]["story_count"] == 1
        assert "password" not in response.content.decode().lower().replace("password-", "")
        assert "bob" not in response.content.decode().lower()

    def test_delete_account_needs_the_password(self, client, alice, alice_story, bob_story):
        client.force_login(alice)
        response = client.post("/accounts/profile/delete/", {"password": "wrong"})
        assert "That is not your password." in response.content.decode()
        assert User.objects.filter(pk=alice.pk).exists()
        response = client.post("/accounts/profile/delete/", {"password": TEST_PASSWORD}, follow=True)
        assert "all your private data are deleted" in response.content.decode()
        assert not User.objects.filter(pk=alice.pk).exists()
        assert User.objects.filter(pk=bob_story.user_id).exists()


def test_api_export_matches_the_page_export(api_as, alice, alice_story):
    data = api_as(alice).get("/api/me/export/").json()
    assert [row["pk"] for row in data["data"]["narrative_pipeline.Story"]] == [str(alice_story.pk)]
