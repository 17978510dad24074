from datetime import timedelta

import jwt
import pytest
from django.core import mail
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User

from ..factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def register(client, **overrides):
    data = {"username": "newcomer", "email": "newcomer@example.com", "password": "moonlit-harbour-77", **overrides}
    return client.post("/api/auth/register/", data, content_type="application/json")


class TestRegister:
    def test_creates_an_account_and_sends_a_confirmation_link(self, client, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = register(client)
        assert response.status_code == 202
        assert response.json() == {"detail": "Check your e-mail to continue: we sent a message to the address you gave."}
        user = User.objects.get(username="newcomer")
        assert user.tier == "free" and user.email_verified_at is None and not user.is_active
        assert len(mail.outbox) == 1 and "/accounts/verify/" in mail.outbox[0].body

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"username": "alice"}, "username"),
            ({"username": "ALICE"}, "username"),
            ({"password": "password"}, "password"),
            ({"password": "12345678901"}, "password"),
            ({"email": "not-an-address"}, "email"),
            ({"username": "bad name!"}, "username"),
            ({"username": ""}, "username"),
        ],
    )
    def test_bad_input_is_400_naming_the_field_and_creates_nothing(self, client, alice, overrides, field):
        before = User.objects.count()
        response = register(client, **overrides)
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid" and field in body["errors"] and body["detail"]
        assert User.objects.count() == before

    def test_malformed_json_is_400(self, client):
        response = client.post("/api/auth/register/", "{not json", content_type="application/json")
        assert response.status_code == 400
        assert "JSON" in response.json()["detail"]


class TestTokens:
    def test_obtain_refresh_and_use(self, client, alice):
        pair = client.post("/api/auth/token/", {"username": "alice", "password": TEST_PASSWORD},
                           content_type="application/json").json()
        me = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
        assert me.status_code == 200
        refreshed = client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]},
                                content_type="application/json")
        assert refreshed.status_code == 200
        assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}").status_code == 200

    def test_wrong_password_is_401_with_a_message(self, client, alice):
        response = client.post("/api/auth/token/", {"username": "alice", "password": "wrong-password"},
                               content_type="application/json")
        assert response.status_code == 401
        assert response.json()["detail"]

    @pytest.mark.parametrize(
        "header",
        ["", "Bearer", "Bearer ", "Token abc", "Bearer not.a.jwt", "Bearer a b c", "Basic YWxpY2U6eA=="],
    )
    def test_missing_or_malformed_authorization_is_401(self, client, alice, header):
        extra = {"HTTP_AUTHORIZATION": header} if header else {}
        response = client.get("/api/me/", **extra)
        assert response.status_code == 401
        assert response.json()["detail"]

    def test_expired_token_is_401(self, client, alice):
        token = AccessToken.for_user(alice)
        token.set_exp(lifetime=-timedelta(minutes=1))
        response = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"

    def test_forged_token_is_401(self, client, alice, bob):
        claims = dict(AccessToken.for_user(alice).payload)
        claims["user_id"] = str(bob.pk)
        forged = jwt.encode(claims, "an-attacker-key-that-is-not-the-server-key", algorithm="HS256")
        assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401

    def test_token_of_a_deleted_user_is_401(self, client, alice):
        token = AccessToken.for_user(alice)
        User.objects.filter(pk=alice.pk).delete()
        assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


class TestMe:
    def test_reports_quotas_and_usage(self, api_as, alice, alice_story):
        body = api_as(alice).get("/api/me/").json()
        assert body["id"] == str(alice.pk) and body["username"] == "alice" and body["tier"] == "free"
        assert body["quotas"] == {"max_stories": 10, "max_images_per_story": 100, "storage_limit_mb": 100}
        assert body["usage"]["stories"] == 1 and body["usage"]["storage_bytes"] > 0

    def test_delete_removes_the_account_and_its_rows_only(self, api_as, alice, alice_story, bob_story):
        from accounts.rls import acting_as
        from narrative_pipeline.models import Story

        api = api_as(alice)
        assert api.delete("/api/me/").status_code == 204
        assert not User.objects.filter(pk=alice.pk).exists()
        with acting_as(bob_story.user_id):
            assert sorted(Story.objects.values_list("title", flat=True)) == ["Bob's secret story"] + [
                "Bob's secret story (from turn 2)"] * 2
        assert api.get("/api/me/").status_code == 401


def test_another_users_id_in_the_url_is_404(api_as, alice, bob_story):
    assert api_as(alice).get(f"/api/stories/{bob_story.pk}/").status_code == 404
    assert api_as(alice).get("/api/stories/not-a-uuid/").status_code == 404


def test_new_user_factory_can_log_in(client):
    user = UserFactory()
    assert client.post("/api/auth/token/", {"username": user.username, "password": TEST_PASSWORD},
                       content_type="application/json").status_code == 200
