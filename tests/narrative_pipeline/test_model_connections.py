"""Connections a user can pick, safely (issue 15, item 3): the operator names the servers (environment and
admin), players and authors choose a connection and a model per agent for their account and per story, and
no key ever reaches a page, an API answer, a log line or an export."""

import logging
import uuid

import pytest
from django.core.management import call_command
from django.db import connection as database
from django.test import Client
from django.urls import reverse

from accounts.rls import acting_as
from narrative_pipeline.models import AgentCall, ModelConnection
from narrative_pipeline.selectors import story_costs

from .. import fake_openai as fake
from ..factories import StoryFactory, UserFactory
from ..security.attack import INSUFFICIENT_PRIVILEGE, run_as

pytestmark = pytest.mark.django_db

ENV_KEY = "sk-env-planted-5d1c0a9e7b3f4e21"
ADMIN_KEY = "sk-admin-planted-c4e8b2a6d0f19e73"
DEFAULT_KEY = "sk-default-planted-9a8b7c6d5e4f3a2b"
PLAN = '{"beats": [{"description": "Gulls wheel over the harbour", "priority": "high"}]}'


@pytest.fixture
def servers(settings):
    """Two fake servers: the default connection's (LLM_BASE_URL) and a named one from the environment."""
    with fake.FakeOpenAI() as default, fake.FakeOpenAI() as tavern:
        settings.LLM_BASE_URL, settings.LLM_API_KEY = default.base_url, DEFAULT_KEY
        settings.LLM_MAX_RETRIES, settings.LLM_RETRY_BACKOFF_SECONDS = 0, 0
        settings.LLM_ALLOWED_MODELS = ["openai:fake-model"]
        settings.LLM_CONNECTIONS = {"tavern": {
            "label": "The Tavern GPU", "base_url": tavern.base_url, "api_key": ENV_KEY,
            "models": ["tavern-8b", "tavern-70b"], "prices": {"tavern-70b": {"input": 1.0, "output": 2.0}}}}
        yield default, tavern


def play(api, story, action="I look around."):
    return api.post(f"/api/stories/{story.pk}/turns/", {"action": action, "idempotency_key": uuid.uuid4().hex},
                    content_type="application/json")


def writer_call(story):
    with acting_as(story.user_id):
        return AgentCall.objects.get(story_id=story.pk, agent="writer")


class TestChoosing:
    def test_the_api_lists_connections_by_name_and_label_never_address_or_key(self, servers, api_as, alice):
        default, tavern = servers
        body = api_as(alice).get("/api/me/models/").json()
        assert [(c["name"], c["label"], c["models"]) for c in body["connections"]] == [
            ("offline", "Offline narrator (free, no model server)", ["luna-offline-narrator"]),
            ("default", "Site default", ["fake-model"]),
            ("tavern", "The Tavern GPU", ["tavern-8b", "tavern-70b"])]
        assert body["agents"] == {}
        assert body["effective"]["writer"] == {"connection": "offline", "model": "luna-offline-narrator"}
        text = str(body)
        assert tavern.base_url not in text and default.base_url not in text and ENV_KEY not in text

    def test_an_accounts_choice_writes_its_stories_on_that_connection_with_its_key_and_prices(
            self, servers, api_as, alice):
        _, tavern = servers
        api, story = api_as(alice), StoryFactory(user=alice)
        chosen = api.put("/api/me/models/", {"agents": {"writer": {"connection": "tavern", "model": "tavern-70b"}}},
                         content_type="application/json")
        assert chosen.status_code == 200, chosen.content
        assert chosen.json()["effective"]["writer"] == {"connection": "tavern", "model": "tavern-70b"}
        tavern.script(fake.stream(["The tide ", "turns."], prompt_tokens=1_000_000, completion_tokens=500_000))
        assert play(api, story).json()["prose"] == "The tide turns."
        assert [request["auth"] for request in tavern.requests] == [f"Bearer {ENV_KEY}"]
        call = writer_call(story)
        assert (call.provider, call.model, call.cost_usd) == ("tavern", "tavern-70b", 2)
        with acting_as(alice):
            assert story_costs(story=story)["agents"]["writer"]["cost_usd"] == "2.000000"

    def test_a_storys_choice_comes_before_the_accounts_and_null_gives_it_back(self, servers, api_as, alice):
        default, tavern = servers
        api, story = api_as(alice), StoryFactory(user=alice)
        api.put("/api/me/models/", {"agents": {"writer": {"connection": "tavern", "model": "tavern-8b"}}},
                content_type="application/json")
        patched = api.patch(f"/api/stories/{story.pk}/", {"llm_overrides": {
            "writer": {"connection": "default", "model": "fake-model"}}}, content_type="application/json")
        assert patched.status_code == 200, patched.content
        assert patched.json()["llm_overrides"] == {"writer": {"connection": "default", "model": "fake-model"}}
        default.script(fake.stream(["From the site's server."]))
        assert play(api, story).status_code == 201
        assert default.requests[-1]["auth"] == f"Bearer {DEFAULT_KEY}" and not tavern.requests
        cleared = api.patch(f"/api/stories/{story.pk}/", {"llm_overrides": {"writer": None}},
                            content_type="application/json")
        assert cleared.json()["llm_overrides"] == {}
        tavern.script(fake.stream(["From the tavern."]))
        assert play(api, story).json()["prose"] == "From the tavern."

    @pytest.mark.parametrize(("agents", "words"), [
        ({"writer": {"connection": "tavern", "model": "gpt-4o"}}, "tavern:gpt-4o is not a model this site offers"),
        ({"writer": {"connection": "elsewhere", "model": "x"}}, "'elsewhere' is not a connection this site offers"),
        ({"writer": {"connection": "tavern", "model": "tavern-8b", "base_url": "http://169.254.169.254/v1"}},
         "choose a connection and a model by name"),
        ({"writer": {"api_key": "sk-mine"}}, "choose a connection and a model by name"),
        ({"narrator": {"connection": "offline"}}, "'narrator' is not an agent"),
    ])
    def test_a_choice_the_operator_does_not_offer_is_refused_with_what_is(self, servers, api_as, alice, agents,
                                                                         words):
        api = api_as(alice)
        refused = api.put("/api/me/models/", {"agents": agents}, content_type="application/json")
        assert refused.status_code == 400 and words in str(refused.json())
        story = StoryFactory(user=alice)
        refused = api.patch(f"/api/stories/{story.pk}/", {"llm_overrides": agents}, content_type="application/json")
        assert refused.status_code == 400 and words in str(refused.json())
        assert api.get("/api/me/models/").json()["agents"] == {}

    def test_a_model_withdrawn_after_it_was_chosen_is_passed_over(self, servers, api_as, alice, settings):
        api, story = api_as(alice), StoryFactory(user=alice)
        api.put("/api/me/models/", {"agents": {"writer": {"connection": "tavern", "model": "tavern-70b"}}},
                content_type="application/json")
        settings.LLM_CONNECTIONS = {"tavern": {**settings.LLM_CONNECTIONS["tavern"], "models": ["tavern-8b"]}}
        assert play(api, story).status_code == 201
        assert writer_call(story).provider == "offline"

    def test_another_player_cannot_read_or_set_my_choices(self, servers, api_as, alice, bob):
        api_as(alice).put("/api/me/models/", {"agents": {"writer": {"connection": "tavern", "model": "tavern-8b"}}},
                          content_type="application/json")
        assert api_as(bob).get("/api/me/models/").json()["agents"] == {}
        outcome = run_as(bob.pk, "SELECT count(*) FROM narrative_pipeline_modelchoices")
        assert outcome.rows == [(0,)]


class TestModelsPage:
    def test_the_page_saves_a_choice_per_agent_and_the_story_page_links_to_it(self, servers, client, alice):
        client.force_login(alice)
        page = client.get(reverse("models")).content.decode()
        assert "The Tavern GPU" in page and "tavern-70b" in page and "Site default: Offline narrator" in page
        saved = client.post(reverse("models"), {"writer": "tavern:tavern-70b", "strategist": ""}, follow=True)
        assert "Models saved" in saved.content.decode()
        with acting_as(alice):
            assert ModelConnection.objects.count() == 0
        story = StoryFactory(user=alice)
        story_page = client.get(reverse("story-models", args=[story.pk])).content.decode()
        assert "Your default: tavern-70b — The Tavern GPU" in story_page
        client.post(reverse("story-models", args=[story.pk]), {"writer": "default:fake-model"})
        with acting_as(alice):
            story.refresh_from_db()
        assert story.llm_overrides == {"writer": {"connection": "default", "model": "fake-model"}}
        assert reverse("story-models", args=[story.pk]) in client.get(reverse("story-detail", args=[story.pk])).content.decode()

    def test_test_button_shows_latency_and_support_with_the_label_not_the_address(self, servers, client, alice):
        _, tavern = servers
        client.force_login(alice)
        client.post(reverse("models"), {"writer": "tavern:tavern-8b"})
        tavern.models = ["tavern-8b"]
        tavern.script(fake.ok('{"ok": true}'), fake.ok('{"ok": true}'), fake.ok('{"ok": true}'),
                      fake.stream(['{"ok": true}']))
        page = client.post(reverse("models-test")).content.decode()
        assert "The Tavern GPU" in page and " ms" in page and "works" in page
        assert tavern.base_url not in page and "127.0.0.1" not in page

    def test_an_unreachable_connection_is_named_in_the_notice_which_links_to_the_models_page(
            self, servers, client, alice, settings):
        settings.LLM_CONNECTIONS = {"tavern": {**settings.LLM_CONNECTIONS["tavern"], "base_url": "http://127.0.0.1:9/v1"}}
        client.force_login(alice)
        client.post(reverse("models"), {"writer": "tavern:tavern-8b"})
        page = client.get(reverse("story-list")).content.decode()
        assert "The model server cannot be reached (connection “The Tavern GPU”)" in page
        assert f'href="{reverse("models")}"' in page and "127.0.0.1:9" not in page


class TestAdminConnections:
    @pytest.fixture
    def operator(self, client):
        client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
        return client

    def add(self, operator, servers, **fields):
        _, tavern = servers
        return operator.post(reverse("admin:narrative_pipeline_modelconnection_add"), {
            "name": "cellar", "label": "The Cellar", "base_url": tavern.base_url, "api_key": ADMIN_KEY,
            "offered_models": '["cellar-7b"]', "prices": "{}", "enabled": "on", **fields})

    def test_an_admin_connection_is_offered_and_called_with_its_sealed_key(self, servers, operator, api_as, alice):
        _, tavern = servers
        assert self.add(operator, servers).status_code == 302
        stored = ModelConnection.objects.get(name="cellar")
        assert stored.api_key_sealed and ADMIN_KEY not in stored.api_key_sealed
        api, story = api_as(alice), StoryFactory(user=alice)
        assert api.put("/api/me/models/", {"agents": {"writer": {"connection": "cellar", "model": "cellar-7b"}}},
                       content_type="application/json").status_code == 200
        tavern.script(fake.stream(["From the cellar."]))
        assert play(api, story).json()["prose"] == "From the cellar."
        assert tavern.requests[-1]["auth"] == f"Bearer {ADMIN_KEY}"

    def test_a_container_name_is_a_valid_address(self, servers, operator):
        assert self.add(operator, servers, base_url="http://ollama:11434/v1/").status_code == 302
        assert ModelConnection.objects.get(name="cellar").base_url == "http://ollama:11434/v1"

    def test_the_key_is_never_shown_back_and_kept_when_left_empty(self, servers, operator):
        self.add(operator, servers)
        stored = ModelConnection.objects.get(name="cellar")
        change = reverse("admin:narrative_pipeline_modelconnection_change", args=[stored.pk])
        assert ADMIN_KEY not in operator.get(change).content.decode()
        assert ADMIN_KEY not in operator.get(reverse("admin:narrative_pipeline_modelconnection_changelist")
                                             ).content.decode()
        operator.post(change, {"name": "cellar", "label": "The Cellar, renamed", "base_url": stored.base_url,
                               "api_key": "", "offered_models": '["cellar-7b"]', "prices": "{}", "enabled": "on"})
        renamed = ModelConnection.objects.get(name="cellar")
        assert renamed.label == "The Cellar, renamed" and renamed.api_key_sealed == stored.api_key_sealed

    @pytest.mark.parametrize(("fields", "words"), [
        ({"name": "default"}, "is taken by a connection the site defines itself"),
        ({"name": "tavern"}, "is taken by a connection the site defines itself"),
        ({"offered_models": '"cellar-7b"'}, "Give a list of model names"),
        ({"prices": '{"cellar-7b": 3}'}, "Give USD per million tokens per model"),
        ({"base_url": "ftp://files.example/v1"}, "Give the server&#x27;s http(s) address"),
    ])
    def test_a_mistake_is_a_form_error(self, servers, operator, fields, words):
        response = self.add(operator, servers, **fields)
        assert response.status_code == 200 and words in response.content.decode()
        assert not ModelConnection.objects.exists()

    def test_authors_who_are_staff_but_not_operators_cannot_open_connections(self, servers, client, alice):
        from accounts.services import user_become_author

        user_become_author(user=alice)
        client.force_login(alice)
        assert client.get(reverse("admin:narrative_pipeline_modelconnection_changelist")).status_code == 403

    def test_the_request_role_cannot_read_the_sealed_key_nor_change_a_connection(self, servers, operator, alice):
        self.add(operator, servers)
        assert run_as(alice.pk, "SELECT api_key_sealed FROM narrative_pipeline_modelconnection").refused == \
            INSUFFICIENT_PRIVILEGE
        assert run_as(alice.pk, "SELECT * FROM narrative_pipeline_modelconnection").refused == INSUFFICIENT_PRIVILEGE
        for statement in ("UPDATE narrative_pipeline_modelconnection SET base_url = 'http://10.0.0.1/v1'",
                          "DELETE FROM narrative_pipeline_modelconnection",
                          "INSERT INTO narrative_pipeline_modelconnection (name, label, base_url, api_key_sealed, "
                          "offered_models, prices, enabled, updated_at) VALUES ('evil', 'Evil', "
                          "'http://169.254.169.254/v1', '', '[\"x\"]', '{}', true, now())"):
            assert run_as(alice.pk, statement).refused == INSUFFICIENT_PRIVILEGE, statement
        sealed = run_as(alice.pk, "SELECT luna_connection_key('cellar')").rows[0][0]
        assert sealed and ADMIN_KEY not in sealed  # only the sealed text, which opens with the app's SECRET_KEY

    def test_a_key_sealed_under_another_secret_key_says_to_enter_it_again(self, servers, operator, api_as, alice,
                                                                         settings):
        self.add(operator, servers)
        settings.SECRET_KEY = "a-different-secret-key-after-a-rotation-without-fallbacks-0123456789"
        api, story = api_as(alice), StoryFactory(user=alice)
        api.put("/api/me/models/", {"agents": {"writer": {"connection": "cellar", "model": "cellar-7b"}}},
                content_type="application/json")
        turn = play(api, story).json()
        assert turn["status"] == "failed" and "the operator must enter its key again" in turn["error"]


def test_llm_check_checks_a_named_connection(servers, capsys):
    _, tavern = servers
    tavern.models = ["tavern-8b", "tavern-70b"]
    tavern.script(fake.ok('{"ok": true}'), fake.ok('{"ok": true}'), fake.ok('{"ok": true}'),
                  fake.stream(['{"ok": true}']))
    call_command("llm_check", "--connection", "tavern")
    output = capsys.readouterr().out
    assert "Models: tavern-70b, tavern-8b" in output and "writer (tavern-8b)" in output
    assert tavern.requests[-1]["auth"] == f"Bearer {ENV_KEY}" and ENV_KEY not in output


class TestNoKeyLeaks:
    """Plant a key in every place a key can be (the default connection, the environment's, the admin's)
    and let the servers quote it back in errors; then read every page, API answer, export and log line."""

    def test_a_planted_key_appears_nowhere(self, servers, client, api_as, alice, caplog, settings):
        default, tavern = servers
        operator = Client()
        operator.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
        operator.post(reverse("admin:narrative_pipeline_modelconnection_add"), {
            "name": "cellar", "label": "The Cellar", "base_url": tavern.base_url, "api_key": ADMIN_KEY,
            "offered_models": '["cellar-7b"]', "prices": "{}", "enabled": "on"})
        caplog.set_level(logging.DEBUG)
        api, story = api_as(alice), StoryFactory(user=alice)
        quoting = {"error": {"message": f"Incorrect API key provided: {ENV_KEY} {ADMIN_KEY} {DEFAULT_KEY}"}}
        responses = []
        for connection, model, server in (("tavern", "tavern-8b", tavern), ("cellar", "cellar-7b", tavern),
                                          ("default", "fake-model", default)):
            responses.append(api.put("/api/me/models/", {"agents": {
                "strategist": {"connection": connection, "model": model},
                "writer": {"connection": connection, "model": model}}}, content_type="application/json"))
            server.script(fake.error(401, quoting))
            responses.append(play(api, story))  # fails, quoting every key
            server.script(fake.ok(PLAN), fake.stream(["The harbour wakes."]))
            responses.append(play(api, story))
        client.force_login(alice)
        server_models = fake.error(401, quoting)
        tavern.models = default.models = server_models
        pages = [reverse("story-list"), reverse("story-detail", args=[story.pk]), reverse("models"),
                 reverse("story-models", args=[story.pk]), reverse("story-costs", args=[story.pk]),
                 reverse("turn-detail", args=[story.pk, 1]), reverse("turn-detail", args=[story.pk, 2]),
                 reverse("story-export", args=[story.pk]), reverse("profile")]
        responses += [client.get(page) for page in pages]
        responses.append(client.post(reverse("models-test")))
        responses += [api.get(path) for path in (
            "/api/me/models/", "/api/me/", "/api/me/export/", f"/api/stories/{story.pk}/",
            f"/api/stories/{story.pk}/turns/", f"/api/stories/{story.pk}/turns/1/",
            f"/api/stories/{story.pk}/costs/", f"/api/stories/{story.pk}/export/")]
        responses.append(api.post("/api/me/models/test/"))
        responses += [operator.get(reverse("admin:narrative_pipeline_modelconnection_changelist")),
                      operator.get(reverse("admin:narrative_pipeline_modelconnection_change",
                                           args=[ModelConnection.objects.get(name="cellar").pk]))]
        assert all(response.status_code < 500 for response in responses)
        everything = "\n".join(_body(response) for response in responses)
        everything += "\n".join(record.getMessage() for record in caplog.records)
        with acting_as(alice):
            everything += "\n".join(str(row) for row in AgentCall.objects.values())
        for key in (ENV_KEY, ADMIN_KEY, DEFAULT_KEY):
            assert key not in everything
        assert "Incorrect API key" in everything or "refused" in everything  # the failures were seen


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def test_connections_from_the_environment_are_checked_at_start(settings):
    from django.core.checks import run_checks

    settings.LLM_CONNECTIONS = {"bad": {"base_url": "ftp://x", "models": ["m"]}}
    messages = [message.msg for message in run_checks() if message.id == "narrative_pipeline.E001"]
    assert messages == ["LLM_CONNECTIONS_JSON['bad']: base_url must be an http(s) address."]


def test_the_sealed_key_column_is_outside_the_request_roles_grants(db):
    with database.cursor() as cursor:
        cursor.execute("SELECT has_column_privilege('luna_app', 'narrative_pipeline_modelconnection', "
                       "'api_key_sealed', 'SELECT'), has_column_privilege('luna_app', "
                       "'narrative_pipeline_modelconnection', 'label', 'SELECT')")
        assert cursor.fetchone() == (False, True)
