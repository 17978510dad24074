"""Abuse limits: rate limits on what costs money or floods the site, keyed on the real client
address; sign-up that tells no one which e-mail addresses have accounts; authors who choose
only among the models the operator allows."""

import re
import threading
import uuid

import pytest
from axes.helpers import get_client_ip_address
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts import throttles
from accounts.client_address import client_address
from accounts.models import User

from ..factories import StoryFactory, admin_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    """Every scope limited to two requests an hour, so the third is refused."""
    settings.THROTTLE_RATES = {scope: "2/hour" for scope in settings.THROTTLE_RATES}
    return settings.THROTTLE_RATES


def assert_limited(response, words: str):
    assert response.status_code == 429, response.content
    wait = int(response["Retry-After"])  # the hour's window opened with the first request
    assert 3000 <= wait <= 3600
    body = response.content.decode()
    assert words in body and f"Try again in {-(-wait // 60)} minutes" in body


def play(api, story, action="I look around."):
    return api.post(f"/api/stories/{story.pk}/turns/", {"action": action, "idempotency_key": uuid.uuid4().hex},
                    content_type="application/json")


class TestApiRateLimits:
    def test_the_third_turn_in_an_hour_is_429_and_another_user_plays_on(self, rates, api_as, alice, bob):
        alice_api, story = api_as(alice), StoryFactory(user=alice)
        assert [play(alice_api, story).status_code for _ in range(2)] == [201, 201]
        refused = play(alice_api, story)
        assert_limited(refused, "played that many turns")
        assert refused.json()["code"] == "throttled"
        assert play(api_as(bob), StoryFactory(user=bob)).status_code == 201

    def test_streamed_turns_retries_and_edits_share_the_turn_budget(self, rates, api_as, alice):
        api, story = api_as(alice), StoryFactory(user=alice)
        assert play(api, story).status_code == 201
        assert api.post(f"/api/stories/{story.pk}/turns/1/edit/", {"action": "I run."},
                        content_type="application/json").status_code == 200
        assert_limited(api.post(f"/api/stories/{story.pk}/turns/stream/", {"action": "I wait.", "idempotency_key": "k"},
                                content_type="application/json"), "played that many turns")
        assert_limited(api.post(f"/api/stories/{story.pk}/turns/1/retry/"), "played that many turns")

    def test_rerolls(self, rates, api_as, alice, bob):
        api, story = api_as(alice), StoryFactory(user=alice)
        play(api, story)
        assert [api.post(f"/api/stories/{story.pk}/turns/1/reroll/").status_code for _ in range(2)] == [200, 200]
        assert_limited(api.post(f"/api/stories/{story.pk}/turns/1/reroll/"), "asked for that many new passages")
        bob_api, bob_story = api_as(bob), StoryFactory(user=bob)
        play(bob_api, bob_story)
        assert bob_api.post(f"/api/stories/{bob_story.pk}/turns/1/reroll/").status_code == 200

    def test_imports_count_even_when_refused(self, rates, api_as, alice, bob):
        api, story = api_as(alice), StoryFactory(user=alice)

        def upload(client, path):
            return client.post(path, {"file": SimpleUploadedFile("bad.json", b"{not json")})

        assert upload(api, f"/api/stories/{story.pk}/lore/import/").status_code == 400
        assert upload(api, "/api/stories/import/").status_code == 400
        assert_limited(upload(api, f"/api/stories/{story.pk}/lore/import/"), "imported that many files")
        assert_limited(upload(api, "/api/stories/import/"), "imported that many files")
        assert upload(api_as(bob), "/api/stories/import/").status_code == 400

    def test_publishing(self, rates, api_as, alice, bob):
        api, story = api_as(alice), StoryFactory(user=alice)
        path = f"/api/marketplace/stories/{story.pk}/publish/"
        assert [api.post(path, {"licence": "nonsense"}, content_type="application/json").status_code
                for _ in range(2)] == [400, 400]
        assert_limited(api.post(path, {"licence": "CC-BY"}, content_type="application/json"), "published that often")
        bob_story = StoryFactory(user=bob)
        assert api_as(bob).post(f"/api/marketplace/stories/{bob_story.pk}/publish/", {"licence": "CC-BY"},
                                content_type="application/json").status_code == 201

    def test_concurrent_requests_never_slip_past_the_limit(self, settings, alice):
        settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "turns": "5/hour"}
        request = RequestFactory().post("/")
        request.user = alice
        allowed, barrier = [], threading.Barrier(20)

        def attempt():
            barrier.wait()
            try:
                throttles.rate_check(request, "turns")
                allowed.append(1)
            except throttles.RateLimited:
                pass

        workers = [threading.Thread(target=attempt) for _ in range(20)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(allowed) == 5

    def test_a_rate_that_is_not_a_rate_is_refused(self):
        assert throttles.parse_rate("30/hour") == (30, 3600) and throttles.parse_rate("5/m") == (5, 60)
        for bad in ("30", "x/hour", "30/fortnight", "/hour"):
            with pytest.raises(ValueError, match="e.g. 30/hour"):
                throttles.parse_rate(bad)


def turn_form():
    return {"action": "I look around.", "idempotency_key": uuid.uuid4().hex}


class TestPageRateLimits:
    def test_playing_on_the_story_page(self, rates, client, alice, bob):
        story = StoryFactory(user=alice)
        client.force_login(alice)
        for _ in range(2):
            assert client.post(f"/stories/{story.pk}/play/", turn_form()).status_code == 302
        assert_limited(client.post(f"/stories/{story.pk}/play/", turn_form()), "played that many turns")
        assert_limited(client.post(f"/stories/{story.pk}/turns/2/retry/"), "played that many turns")
        client.force_login(bob)
        assert client.post(f"/stories/{StoryFactory(user=bob).pk}/play/", turn_form()).status_code == 302

    def test_rerolls_on_the_story_page(self, rates, client, alice):
        story = StoryFactory(user=alice)
        client.force_login(alice)
        client.post(f"/stories/{story.pk}/play/", turn_form())
        assert [client.post(f"/stories/{story.pk}/turns/1/reroll/").status_code for _ in range(2)] == [302, 302]
        assert_limited(client.post(f"/stories/{story.pk}/turns/1/reroll/"), "asked for that many new passages")
        assert client.get(f"/stories/{story.pk}/").status_code == 200  # reading is never limited

    def test_publishing_page(self, rates, client, alice):
        story = StoryFactory(user=alice)
        client.force_login(alice)
        path = f"/marketplace/publish/{story.pk}/"
        assert [client.post(path, {"title": ""}).status_code for _ in range(2)] == [400, 400]
        assert_limited(client.post(path, {"title": "Mine"}), "published that often")
        assert client.get(path).status_code == 200

    def test_admin_import(self, rates, client, alice):
        from accounts import services

        services.user_become_author(user=alice)
        story = StoryFactory(user=alice)
        client.force_login(alice)
        book = b'{"entries": {"0": {"uid": 0, "key": ["ship"], "content": "The Albatross is late."}}}'
        assert admin_import(client, story, "lore.json", book).status_code == 302  # a preview and an import
        assert_limited(admin_import(client, story, "lore.json", book), "imported that many files")

    def test_sign_up_page(self, rates, client):
        for number in range(2):
            client.post("/accounts/signup/", {"username": f"page{number}", "email": f"page{number}@example.com",
                                              "password": "moonlit-harbour-77", "password_again": "x"})
        assert_limited(client.post("/accounts/signup/", {"username": "page3"}), "signed up that often from your address")


def register(client, number, **headers):
    return client.post("/api/auth/register/", {"username": f"newcomer{number}", "email": f"new{number}@example.com",
                                               "password": "moonlit-harbour-77"},
                       content_type="application/json", **headers)


class TestClientAddress:
    def request(self, remote, forwarded=None):
        headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)

    def test_forged_forwarded_for_does_not_escape_the_sign_up_limit(self, rates):
        answers = [register(Client(REMOTE_ADDR="198.51.100.7"), n, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
                   for n in range(10)]
        assert answers[2:] == [429] * 8

    def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(self, rates, settings):
        settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
        proxy = Client(REMOTE_ADDR="10.1.2.3")
        answers = [register(proxy, n, HTTP_X_FORWARDED_FOR=f"203.0.113.{n % 2}").status_code for n in range(6)]
        assert answers[4:] == [429, 429] and 429 not in answers[:4]

    def test_only_a_trusted_proxy_is_believed(self, settings):
        settings.TRUSTED_PROXIES = []
        assert client_address(self.request("198.51.100.7", "203.0.113.1")) == "198.51.100.7"
        settings.TRUSTED_PROXIES = ["10.0.0.1", "192.0.2.0/24"]
        assert client_address(self.request("198.51.100.7", "203.0.113.1")) == "198.51.100.7"
        assert client_address(self.request("10.0.0.1", "203.0.113.1")) == "203.0.113.1"
        assert client_address(self.request("10.0.0.1")) == "10.0.0.1"

    def test_the_client_is_the_rightmost_address_no_proxy_of_ours_wrote(self, settings):
        settings.TRUSTED_PROXIES = ["10.0.0.1", "192.0.2.0/24"]
        # The client sent "1.2.3.4" itself; our two proxies appended what they saw.
        assert client_address(self.request("10.0.0.1", "1.2.3.4, 203.0.113.9, 192.0.2.5")) == "203.0.113.9"
        assert client_address(self.request("10.0.0.1", "192.0.2.5, 192.0.2.6")) == "192.0.2.5"
        assert client_address(self.request("10.0.0.1", "not-an-address, 192.0.2.5")) == "192.0.2.5"
        assert client_address(self.request("10.0.0.1", "2001:db8::1")) == "2001:db8::1"

    def test_log_in_lockout_uses_the_same_address(self, settings, client, alice, password):
        request = self.request("198.51.100.7", "203.0.113.1")
        assert get_client_ip_address(request) == "198.51.100.7"
        for n in range(settings.AXES_FAILURE_LIMIT):
            client.post("/accounts/login/", {"username": "alice", "password": "guess"},
                        REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        response = client.post("/accounts/login/", {"username": "alice", "password": password},
                               REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.99")
        assert response.status_code == 429


def test_the_default_rates_leave_room_for_a_person_and_none_for_a_script(settings):
    limits = {scope: throttles.parse_rate(rate) for scope, rate in settings.THROTTLE_RATES.items()}
    per_hour = {scope: count * 3600 / period for scope, (count, period) in limits.items()}
    assert per_hour["turns"] >= 60 and per_hour["turns"] <= 200  # a turn a minute, never 30 in 4 s for long
    assert per_hour["registration"] <= 20


class TestSignUpRevealsNoAddress:
    """Signing up with an address that has an account answers exactly as a new sign-up does; the
    address's owner learns of it by e-mail. Usernames are public handles: a taken one is said."""

    def sign_up_by_api(self, client, capture, **fields):
        data = {"username": "newcomer", "email": "newcomer@example.com", "password": "moonlit-harbour-77", **fields}
        with capture(execute=True):
            return client.post("/api/auth/register/", data, content_type="application/json")

    @pytest.mark.parametrize("address", ["alice@example.com", "ALICE@Example.com"])
    def test_the_api_answers_a_taken_address_as_a_new_one(self, client, alice, address,
                                                          django_capture_on_commit_callbacks):
        taken = self.sign_up_by_api(client, django_capture_on_commit_callbacks, username="mallory", email=address)
        new = self.sign_up_by_api(client, django_capture_on_commit_callbacks, username="wren", email="wren@example.com")
        assert (taken.status_code, taken.content) == (new.status_code, new.content) == (
            202, b'{"detail":"Check your e-mail to continue: we sent a message to the address you gave."}')
        assert not User.objects.filter(username="mallory").exists()
        to_alice, to_wren = mail.outbox
        assert to_alice.to == ["alice@example.com"] and "tried to sign up" in to_alice.subject
        assert "log in as alice" in to_alice.body and "/accounts/password_reset/" in to_alice.body
        assert to_wren.to == ["wren@example.com"] and "/accounts/verify/" in to_wren.body

    def test_logging_in_tells_a_taken_address_from_a_new_one_no_better(self, client, alice,
                                                                       django_capture_on_commit_callbacks):
        self.sign_up_by_api(client, django_capture_on_commit_callbacks, username="mallory", email="alice@example.com")
        self.sign_up_by_api(client, django_capture_on_commit_callbacks, username="wren", email="wren@example.com")
        answers = [client.post("/api/auth/token/", {"username": name, "password": "moonlit-harbour-77"},
                               content_type="application/json") for name in ("mallory", "wren")]
        assert [answer.status_code for answer in answers] == [401, 401]
        assert answers[0].json() == answers[1].json()

    def test_the_page_answers_a_taken_address_as_a_new_one(self, client, alice, django_capture_on_commit_callbacks):
        def sign_up(username, email):
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post("/accounts/signup/", {"username": username, "email": email,
                                                             "password": "moonlit-harbour-77",
                                                             "password_again": "moonlit-harbour-77"}, follow=True)
            return response.redirect_chain, response.content

        assert sign_up("mallory", "alice@example.com") == sign_up("wren", "wren@example.com")
        assert [message.to for message in mail.outbox] == [["alice@example.com"], ["wren@example.com"]]

    def test_a_taken_username_is_said_but_never_a_taken_address(self, client, alice,
                                                                django_capture_on_commit_callbacks):
        response = self.sign_up_by_api(client, django_capture_on_commit_callbacks, username="Alice",
                                       email="alice@example.com")
        assert response.status_code == 400
        assert response.json()["errors"] == {"username": ["That username is taken."]}
        assert mail.outbox == []

    def test_a_weak_password_is_refused_alike_for_taken_and_new_addresses(self, client, alice,
                                                                         django_capture_on_commit_callbacks):
        answers = [self.sign_up_by_api(client, django_capture_on_commit_callbacks, username="mallory",
                                       email=address, password="password") for address in
                   ("alice@example.com", "mallory@example.com")]
        assert answers[0].status_code == answers[1].status_code == 400
        assert answers[0].content == answers[1].content

    def test_an_unconfirmed_sign_up_lapses_and_frees_its_address(self, client, settings,
                                                                  django_capture_on_commit_callbacks):
        from datetime import timedelta

        self.sign_up_by_api(client, django_capture_on_commit_callbacks, username="squatter", email="wren@example.com")
        self.sign_up_by_api(client, django_capture_on_commit_callbacks, username="wren", email="wren@example.com")
        waiting = mail.outbox[-1]
        assert "waiting for its confirmation link" in waiting.body and "/accounts/verify/" not in waiting.body
        assert not User.objects.filter(username="wren").exists()
        User.objects.filter(username="squatter").update(
            date_joined=timezone.now() - settings.EMAIL_VERIFICATION_MAX_AGE - timedelta(minutes=1))
        self.sign_up_by_api(client, django_capture_on_commit_callbacks, username="wren", email="wren@example.com")
        assert list(User.objects.filter(email="wren@example.com").values_list("username", flat=True)) == ["wren"]

    def test_a_confirmation_link_never_reopens_a_closed_account(self, client, django_capture_on_commit_callbacks):
        self.sign_up_by_api(client, django_capture_on_commit_callbacks)
        link = re.search(r"(/accounts/verify/\S+)", mail.outbox[0].body).group(1)
        User.objects.filter(username="newcomer").update(last_login=timezone.now(), is_active=False)
        client.get(link)
        assert not User.objects.get(username="newcomer").is_active


class TestAuthorsChooseOnlyAllowedModels:
    """Becoming an author grants chapter authoring; a story's model is one the operator allows,
    and no one but the operator names a server (base URL, key)."""

    @pytest.fixture
    def author(self, client, alice):
        from accounts.services import user_become_author

        user_become_author(user=alice)
        client.force_login(alice)
        return client

    def save_overrides(self, author, story, overrides: str):
        from django.urls import reverse

        return author.post(reverse("admin:narrative_pipeline_story_change", args=[story.pk]), {
            "title": story.title, "premise": story.premise, "genre": story.genre, "setting": "", "memory": "",
            "authors_note": "", "state": '{"location": "", "present_characters": [], "inventory": [], "flags": []}',
            "llm_overrides": overrides, "characters-TOTAL_FORMS": "0", "characters-INITIAL_FORMS": "0",
            "chapters-TOTAL_FORMS": "0", "chapters-INITIAL_FORMS": "0"})

    def stored_overrides(self, story):
        from accounts.rls import acting_as
        from narrative_pipeline.models import Story

        with acting_as(story.user_id):
            return Story.objects.get(pk=story.pk).llm_overrides

    @pytest.mark.parametrize(("overrides", "message"), [
        ('{"writer": {"provider": "openai", "model": "gpt-4o"}}', "&#x27;openai&#x27; is not a connection this site"),
        ('{"writer": {"connection": "offline", "model": "o1-pro"}}', "offline:o1-pro is not a model this site offers"),
        ('{"writer": {"model": "o1-pro"}}', "offline:o1-pro is not a model this site offers"),
        ('{"writer": {"provider": "openai", "model": "x", "base_url": "http://10.0.0.5/v1"}}',
         "choose a connection and a model by name"),
        ('{"writer": {"api_key": "sk-mine"}}', "choose a connection and a model by name"),
        ('{"narrator": {"model": "luna-offline-narrator"}}', "is not an agent"),
        ('["openai"]', "Give an object per agent"),
    ])
    def test_a_model_or_connection_the_operator_has_not_allowed_is_a_form_error(self, author, alice, overrides,
                                                                                 message):
        story = StoryFactory(user=alice)
        response = self.save_overrides(author, story, overrides)
        assert response.status_code == 200 and message in response.content.decode()
        assert self.stored_overrides(story) == {}

    def test_an_allowed_model_can_be_chosen(self, author, alice, settings):
        settings.LLM_ALLOWED_MODELS = ["openai:llama3.1"]
        story = StoryFactory(user=alice)
        response = self.save_overrides(author, story, '{"writer": {"provider": "openai", "model": "llama3.1"}}')
        assert response.status_code == 302, response.content.decode()[:2000]
        assert self.stored_overrides(story) == {"writer": {"connection": "default", "model": "llama3.1"}}

    def test_a_choice_stored_before_it_was_disallowed_is_passed_over(self, api_as, alice, settings):
        from accounts.rls import acting_as
        from narrative_pipeline.models import AgentCall, Story

        story = StoryFactory(user=alice)
        with acting_as(alice):
            Story.objects.filter(pk=story.pk).update(llm_overrides={"writer": {"provider": "openai", "model": "gpt-4o"}})
        assert play(api_as(alice), story).status_code == 201
        with acting_as(alice):
            writer = AgentCall.objects.get(story_id=story.pk, agent="writer")
        assert (writer.provider, writer.model) == ("offline", settings.LLM_MODEL)

    def test_players_never_see_the_model_servers_address(self, api_as, client, alice, settings):
        settings.LLM_BASE_URL = "http://127.0.0.1:9/internal-gpu-pool/v1"  # nothing listens on port 9
        settings.LLM_MAX_RETRIES = 0
        settings.LLM_AGENTS = {**settings.LLM_AGENTS, "writer": {"provider": "openai", "model": "fake-model"}}
        api, story = api_as(alice), StoryFactory(user=alice)
        turn = play(api, story)
        assert turn.json()["status"] == "failed" and "could not be reached" in turn.json()["error"]
        client.force_login(alice)
        for answer in (turn, api.get(f"/api/stories/{story.pk}/turns/1/"), client.get(f"/stories/{story.pk}/"),
                       client.get(f"/stories/{story.pk}/turns/1/")):
            assert answer.status_code in (200, 201)
            assert "internal-gpu-pool" not in answer.content.decode() and "127.0.0.1:9" not in answer.content.decode()
