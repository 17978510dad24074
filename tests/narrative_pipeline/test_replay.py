"""Replay a turn with another model, and routing per agent (issue #21, items 2 and 4): the turn's stored
briefing and plan go to another connection's Writer, the two passages sit side by side with their costs, the
story changes only when the player keeps the replay or branches from it; the writers' room says which layer
chose each agent's model and what the turn cost."""

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from narrative_pipeline.models import AgentCall, Story, Turn, TurnReplay
from narrative_pipeline.selectors import story_costs, turn_calls

from .. import fake_openai as fake
from ..factories import StoryFactory
from ..security.attack import INSUFFICIENT_PRIVILEGE, run_as

pytestmark = pytest.mark.django_db

PLAN = '{"beats": [{"description": "Gulls wheel over the harbour", "priority": "high"}], "target_length": 120}'
TOKENS = {"prompt_tokens": 1_000_000, "completion_tokens": 100_000}


@pytest.fixture
def servers(settings):
    """Two fake servers at different prices: the site's (cheap, writes the turns) and the Tavern (dear)."""
    with fake.FakeOpenAI() as default, fake.FakeOpenAI() as tavern:
        settings.LLM_BASE_URL, settings.LLM_MAX_RETRIES, settings.LLM_RETRY_BACKOFF_SECONDS = default.base_url, 0, 0
        settings.LLM_AGENTS = {**settings.LLM_AGENTS, "strategist": {"provider": "openai", "model": "small"},
                               "writer": {"provider": "openai", "model": "small"}}
        settings.LLM_PRICES = {"small": {"input": 0.1, "output": 0.4}}
        settings.LLM_CONNECTIONS = {"tavern": {
            "label": "The Tavern GPU", "base_url": tavern.base_url, "api_key": "k",
            "models": ["tavern-70b"], "prices": {"tavern-70b": {"input": 3.0, "output": 15.0}}}}
        yield default, tavern


def play(api, story, default):
    default.script(fake.ok(PLAN, **TOKENS), fake.stream(["The harbour ", "sleeps."], **TOKENS))
    answer = api.post(f"/api/stories/{story.pk}/turns/", {"action": "I watch the boats.",
                                                          "idempotency_key": uuid.uuid4().hex},
                      content_type="application/json")
    assert answer.status_code in (200, 201), answer.content
    return answer.json()


def replay(api, story, number=1, connection="tavern", model="tavern-70b"):
    return api.post(f"/api/stories/{story.pk}/turns/{number}/replay/", {"connection": connection, "model": model},
                    content_type="application/json")


def turn_of(story, number=1) -> Turn:
    with acting_as(story.user_id):
        return Turn.objects.get(story_id=story.pk, number=number)


@pytest.fixture
def played(servers, api_as, alice):
    default, tavern = servers
    api, story = api_as(alice), StoryFactory(user=alice)
    play(api, story, default)
    return api, story, default, tavern


class TestReplay:
    def test_the_same_plan_goes_to_the_other_model_and_the_story_is_unchanged(self, played):
        api, story, default, tavern = played
        before = turn_of(story)
        with acting_as(story.user_id):
            state = Story.objects.get(pk=story.pk).state
        tavern.script(fake.stream(["The harbour ", "wakes, gulls crying."], **TOKENS))
        answer = replay(api, story)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert (body["prose"], body["connection"], body["model"], body["outcome"]) == (
            "The harbour wakes, gulls crying.", "tavern", "tavern-70b", "")
        assert Decimal(body["cost_usd"]) == Decimal("4.5")  # 1M in at $3, 100k out at $15
        original_writer = default.requests[-1]["body"]["messages"]
        assert tavern.requests[-1]["body"]["messages"] == original_writer  # same briefing, same plan
        assert len(default.requests) == 2  # no Strategist call: the stored plan is used
        after = turn_of(story)
        assert (after.prose, after.alternatives) == (before.prose, before.alternatives)
        with acting_as(story.user_id):
            assert Story.objects.get(pk=story.pk).state == state
            call = AgentCall.objects.get(replay_id=body["id"])
            assert (call.agent, call.routing, call.cost_usd, call.turn_id) == ("writer", "replay", Decimal("4.5"),
                                                                               after.pk)
            assert call not in turn_calls(turn=after)  # the turn's own calls stay the turn's
            assert Decimal(story_costs(story=story)["total"]["cost_usd"]) == Decimal("4.5") + Decimal("0.14") * 2

    def test_keep_makes_the_replay_the_passage_and_the_old_one_a_version(self, played):
        api, story, _, tavern = played
        tavern.script(fake.stream(["A storm rolls in."], **TOKENS))
        replay_id = replay(api, story).json()["id"]
        kept = api.post(f"/api/stories/{story.pk}/turns/1/replays/{replay_id}/keep/")
        assert kept.status_code == 200, kept.content
        turn = turn_of(story)
        assert turn.prose == "A storm rolls in."
        assert [entry["prose"] for entry in turn.alternatives] == ["The harbour sleeps."]
        with acting_as(story.user_id):
            assert TurnReplay.objects.get(pk=replay_id).outcome == "kept"
        again = api.post(f"/api/stories/{story.pk}/turns/1/replays/{replay_id}/keep/")
        assert again.status_code == 409 and "already kept" in again.json()["detail"]

    def test_branch_makes_a_story_whose_last_turn_is_the_replay(self, played):
        api, story, _, tavern = played
        tavern.script(fake.stream(["A storm rolls in."], **TOKENS))
        replay_id = replay(api, story).json()["id"]
        answer = api.post(f"/api/stories/{story.pk}/turns/1/replays/{replay_id}/branch/")
        assert answer.status_code == 200, answer.content
        branch_id = answer.json()["id"]
        assert branch_id != str(story.pk)
        turns = api.get(f"/api/stories/{branch_id}/turns/").json()
        turns = turns["results"] if isinstance(turns, dict) else turns
        assert [turn["prose"] for turn in turns] == ["A storm rolls in."]
        assert turn_of(story).prose == "The harbour sleeps."  # the story itself is unchanged

    def test_a_model_the_site_does_not_offer_is_refused_before_any_call(self, played):
        api, story, _, tavern = played
        answer = replay(api, story, model="gpt-secret")
        assert answer.status_code == 400
        assert "tavern:gpt-secret is not a model this site offers" in answer.json()["detail"]
        assert "tavern-70b" in answer.json()["detail"]
        assert tavern.requests == []
        with acting_as(story.user_id):
            assert not TurnReplay.objects.exists()

    def test_a_replay_past_the_story_budget_is_refused_before_any_call(self, played, alice):
        from narrative_pipeline import budgets

        api, story, _, tavern = played
        with acting_as(alice):
            spent = sum(call.cost_usd for call in AgentCall.objects.filter(story=story))
        budgets.story_budget_set(user=alice, story_id=story.pk, budget_usd=spent)  # reached: nothing more is paid
        answer = replay(api, story)
        assert answer.status_code == 402
        assert answer.json()["code"] == "budget_exceeded"
        assert tavern.requests == []
        with acting_as(alice):
            assert not TurnReplay.objects.exists()

    def test_an_unwritten_turn_cannot_be_replayed(self, played):
        api, story, _, tavern = played
        with acting_as(story.user_id):
            Turn.objects.filter(story_id=story.pk).update(status=Turn.Status.FAILED)
        answer = replay(api, story)
        assert answer.status_code == 409 and "only a written turn" in answer.json()["detail"]
        assert replay(api, story, number=7).status_code == 404
        assert tavern.requests == []

    def test_another_players_story_and_replays_are_not_found(self, played, api_as, bob):
        api, story, _, tavern = played
        tavern.script(fake.stream(["A storm rolls in."], **TOKENS))
        replay_id = replay(api, story).json()["id"]
        intruder = api_as(bob)
        assert replay(intruder, story).status_code == 404
        assert intruder.post(f"/api/stories/{story.pk}/turns/1/replays/{replay_id}/keep/").status_code == 404
        assert intruder.post(f"/api/stories/{story.pk}/turns/1/replays/{replay_id}/branch/").status_code == 404
        assert len(tavern.requests) == 1
        assert turn_of(story).prose == "The harbour sleeps."

    def test_a_failed_call_keeps_the_replay_with_its_error_and_nothing_to_keep(self, played):
        api, story, _, tavern = played
        tavern.script(fake.status(500))
        body = replay(api, story).json()
        assert body["prose"] == "" and body["error"]
        kept = api.post(f"/api/stories/{story.pk}/turns/1/replays/{body['id']}/keep/")
        assert kept.status_code == 409 and turn_of(story).prose == "The harbour sleeps."

    def test_undoing_the_turn_removes_its_replays_and_keeps_their_cost(self, played):
        api, story, _, tavern = played
        tavern.script(fake.stream(["A storm rolls in."], **TOKENS))
        replay(api, story)
        assert api.delete(f"/api/stories/{story.pk}/turns/last/").status_code == 200
        with acting_as(story.user_id):
            assert not TurnReplay.objects.exists()
            assert AgentCall.objects.filter(story_id=story.pk, routing="replay").get().cost_usd == Decimal("4.5")


class TestReplaysUnderRls:
    def test_another_user_cannot_read_change_or_plant_a_replay(self, played, bob):
        api, story, _, tavern = played
        tavern.script(fake.stream(["A storm rolls in."], **TOKENS))
        replay_id = replay(api, story).json()["id"]
        turn = turn_of(story)
        assert run_as(bob.pk, "SELECT count(*) FROM narrative_pipeline_turnreplay").rows == [(0,)]
        assert run_as(None, "SELECT count(*) FROM narrative_pipeline_turnreplay").rows == [(0,)]
        assert run_as(bob.pk, ("UPDATE narrative_pipeline_turnreplay SET prose = 'x' WHERE id = %s",
                               [replay_id])).rowcount == 0
        assert run_as(bob.pk, ("DELETE FROM narrative_pipeline_turnreplay WHERE id = %s", [replay_id])).rowcount == 0
        planted = run_as(bob.pk, (
            "INSERT INTO narrative_pipeline_turnreplay (user_id, story_id, turn_id, connection, model, prose, error, "
            "cost_usd, outcome, created_at) VALUES (%s, %s, %s, 'x', 'x', 'planted', '', 0, '', now())",
            [story.user_id, story.pk, turn.pk]))
        assert planted.refused == INSUFFICIENT_PRIVILEGE
        assert run_as(story.user_id, "SELECT prose FROM narrative_pipeline_turnreplay").rows == [("A storm rolls in.",)]


class TestPages:
    def test_without_javascript_the_form_replays_and_shows_both_passages_with_model_and_cost(
            self, played, client, alice):
        _, story, _, tavern = played
        client.force_login(alice)
        url = reverse("turn-replay", args=[story.pk, 1])
        page = client.get(url).content.decode()
        assert 'value="tavern:tavern-70b"' in page and 'value="default:small"' in page
        tavern.script(fake.stream(["A storm rolls in."], **TOKENS))
        answer = client.post(url, {"choice": "tavern:tavern-70b"})
        assert answer.status_code == 302 and answer["Location"].startswith(url + "?replay=")
        page = client.get(answer["Location"]).content.decode()
        assert "The harbour sleeps." in page and "A storm rolls in." in page
        assert "default · small · $0.140000" in page and "tavern · tavern-70b · $4.500000" in page
        assert '<option value="tavern:tavern-70b" selected>' in page  # the next replay starts from this model
        with acting_as(alice):
            replay_id = TurnReplay.objects.get().pk
        kept = client.post(reverse("replay-keep", args=[story.pk, 1, replay_id]))
        assert kept.status_code == 302 and turn_of(story).prose == "A storm rolls in."

    def test_an_offered_model_is_the_only_choice_a_form_accepts(self, played, client, alice):
        _, story, _, tavern = played
        client.force_login(alice)
        answer = client.post(reverse("turn-replay", args=[story.pk, 1]), {"choice": "tavern:gpt-secret"})
        assert answer.status_code == 400 and "Select a valid choice" in answer.content.decode()
        assert tavern.requests == []

    def test_another_players_replay_page_is_not_found(self, played, client, bob):
        _, story, _, _ = played
        client.force_login(bob)
        assert client.get(reverse("turn-replay", args=[story.pk, 1])).status_code == 404
        assert client.post(reverse("turn-replay", args=[story.pk, 1]), {"choice": "tavern:tavern-70b"}).status_code == 404


class TestRouting:
    def test_the_writers_room_names_who_chose_each_model_and_totals_the_turn(self, servers, api_as, client, alice):
        default, tavern = servers
        api, story = api_as(alice), StoryFactory(user=alice)
        api.put("/api/me/models/", {"agents": {"strategist": {"connection": "default", "model": "small"}}},
                content_type="application/json")
        api.patch(f"/api/stories/{story.pk}/", {"llm_overrides": {"writer": {"connection": "tavern",
                                                                             "model": "tavern-70b"}}},
                  content_type="application/json")
        default.script(fake.ok(PLAN, **TOKENS))
        tavern.script(fake.stream(["Rain."], **TOKENS))
        api.post(f"/api/stories/{story.pk}/turns/", {"action": "I wait.", "idempotency_key": "k1"},
                 content_type="application/json")
        with acting_as(alice):
            routing = dict(AgentCall.objects.filter(story_id=story.pk).exclude(provider="local")
                           .values_list("agent", "routing"))
        assert routing == {"strategist": "account", "writer": "story"}
        client.force_login(alice)
        page = client.get(reverse("turn-detail", args=[story.pk, 1])).content.decode()
        assert "this story&#x27;s choice" in page and "your choice" in page
        assert '<td class="turn-total">$4.640000</td>' in page  # $0.14 + $4.50
        assert reverse("turn-replay", args=[story.pk, 1]) in page

    def test_an_agent_nobody_chose_for_is_the_site_default(self, played):
        _, story, _, _ = played
        with acting_as(story.user_id):
            call = AgentCall.objects.get(story_id=story.pk, agent="writer")
        assert call.routing == "operator"
