"""Playing turns through the API: idempotency, failures kept for retry, reroll, undo, edit, costs."""

import threading
import uuid

import pytest
from django.db import connections

from accounts.rls import acting_as
from narrative_pipeline import orchestrator
from narrative_pipeline.models import AgentCall, Story, Turn

from .. import fake_openai as fake
from ..factories import StoryFactory, UserFactory, played_story

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(alice):
    return StoryFactory(user=alice, title="The Harbour", state={"location": "the harbour"}, characters=[
        {"name": "Wren", "is_player": True}, {"name": "Captain Hale"}])


def play(api, story, action="I ask Captain Hale about the ship.", key=None):
    return api.post(f"/api/stories/{story.pk}/turns/", {"action": action, "idempotency_key": key or uuid.uuid4().hex},
                    content_type="application/json")


class TestPlaying:
    def test_a_turn_is_written_and_the_same_key_answers_the_same_turn(self, api_as, alice, story):
        api = api_as(alice)
        first = play(api, story, key="once")
        assert first.status_code == 201
        body = first.json()
        assert body["number"] == 1 and body["status"] == "completed" and body["prose"]
        assert set(body) >= {"id", "number", "action", "prose", "status"}
        again = play(api, story, action="something else", key="once")
        assert again.status_code == 200 and again.json()["id"] == body["id"]
        with acting_as(alice):
            assert Turn.objects.filter(story=story).count() == 1

    def test_state_follows_the_story(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story, "I walk to the lighthouse and take the lantern.")
        state = api.get(f"/api/stories/{story.pk}/").json()["state"]
        assert state["location"] == "the lighthouse" and state["inventory"] == ["lantern"]

    def test_writers_room_is_recorded_on_the_turn(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story)
        turn = api.get(f"/api/stories/{story.pk}/turns/1/").json()
        assert turn["briefing"]["action"] == "I ask Captain Hale about the ship."
        assert turn["template"]["beats"] and turn["state_before"]["location"] == "the harbour"

    def test_costs_per_agent_equal_the_sum_of_the_calls(self, api_as, alice, story, django_capture_on_commit_callbacks):
        api = api_as(alice)
        with django_capture_on_commit_callbacks(execute=True):
            play(api, story)
        costs = api.get(f"/api/stories/{story.pk}/costs/").json()
        assert set(costs["agents"]) == {"preprocessor", "strategist", "writer", "dreamer"}
        assert all(costs["agents"][agent]["calls"] >= 1 for agent in costs["agents"])
        with acting_as(alice):
            calls = AgentCall.objects.filter(story=story)
            assert costs["total"]["calls"] == calls.count()
            assert costs["total"]["prompt_tokens"] == sum(call.prompt_tokens for call in calls)

    def test_export_is_markdown(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story, "I open the <script>alert(1)</script> door")
        response = api.get(f"/api/stories/{story.pk}/export/")
        assert response["Content-Type"].startswith("text/markdown")
        text = response.content.decode()
        assert text.startswith("# The Harbour") and "## Turn 1" in text and "> I open the" in text

    def test_arcs_every_ten_turns(self, api_as, alice, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            story = played_story(alice, turns=10)
        arcs = api_as(alice).get(f"/api/stories/{story.pk}/arcs/").json()["results"]
        assert [(arc["first_turn"], arc["last_turn"]) for arc in arcs] == [(1, 10)]


class TestBadInput:
    @pytest.mark.parametrize("action", ["", "x" * 4001, "a bell\x07", None])
    def test_bad_actions_are_400_and_write_nothing(self, api_as, alice, story, action):
        response = api_as(alice).post(f"/api/stories/{story.pk}/turns/", {"action": action, "idempotency_key": "k"},
                                      content_type="application/json")
        assert response.status_code == 400 and response.json()["detail"]
        with acting_as(alice):
            assert not Turn.objects.filter(story=story).exists()

    def test_a_turn_on_another_users_story_is_404(self, api_as, bob, story):
        assert play(api_as(bob), story).status_code == 404
        assert api_as(bob).get(f"/api/stories/{story.pk}/turns/").status_code == 404

    def test_unknown_state_key_is_400(self, api_as, alice, story):
        response = api_as(alice).patch(f"/api/stories/{story.pk}/", {"state": {"mood": "grim"}},
                                       content_type="application/json")
        assert response.status_code == 400 and "mood" in response.json()["detail"]

    def test_partial_state_changes_only_the_keys_given(self, api_as, alice, story):
        api = api_as(alice)
        api.patch(f"/api/stories/{story.pk}/", {"state": {"inventory": ["rope"]}, "memory": "Wren owes Hale."},
                  content_type="application/json")
        body = api.get(f"/api/stories/{story.pk}/").json()
        assert body["state"]["inventory"] == ["rope"] and body["state"]["location"] == "the harbour"
        assert body["memory"] == "Wren owes Hale."


class TestFailuresAreKept:
    def test_a_failing_provider_leaves_a_failed_turn_to_retry(self, api_as, alice, story, openai_server):
        api, server = api_as(alice), openai_server
        server.script(fake.status(500))
        failed = play(api, story, "I row out to the wreck.").json()
        assert failed["status"] == "failed" and "HTTP 500" in failed["error"]
        assert failed["action"] == "I row out to the wreck."
        refused = play(api, story, "Something new.")
        assert refused.status_code == 409 and "retry or undo" in refused.json()["detail"]
        server.script(fake.ok('{"beats": [{"description": "The wreck groans", "priority": "high"}]}'),
                      fake.stream(["Timbers ", "creak."]))
        retried = api.post(f"/api/stories/{story.pk}/turns/1/retry/").json()
        assert retried["status"] == "completed" and retried["prose"] == "Timbers creak." and retried["error"] == ""
        with acting_as(alice):
            errors = AgentCall.objects.filter(story=story, status="error")
            assert errors.count() == 1 and "HTTP 500" in errors.get().error

    def test_a_hanging_provider_fails_the_turn_with_a_timeout(self, api_as, alice, story, openai_server, settings):
        settings.LLM_TIMEOUT_SECONDS = 0.3
        openai_server.script(fake.hang(1.0))
        turn = play(api_as(alice), story).json()
        assert turn["status"] == "failed" and "did not answer within 0.3 s" in turn["error"]

    def test_an_empty_passage_fails_the_turn(self, api_as, alice, story, openai_server):
        openai_server.script(fake.ok('{"beats": [{"description": "x"}]}'), fake.stream(["   "]))
        turn = play(api_as(alice), story).json()
        assert turn["status"] == "failed" and "empty" in turn["error"]

    def test_malformed_strategist_json_is_repaired_once(self, api_as, alice, story, openai_server):
        server = openai_server
        server.script(fake.ok("not json at all"), fake.ok('{"beats": [{"description": "Gulls"}]}'),
                      fake.stream(["Gulls ", "wheel."]))
        turn = play(api_as(alice), story).json()
        assert turn["status"] == "completed"
        assert "not a valid plan" in server.requests[1]["body"]["messages"][-1]["content"]

    def test_twice_malformed_json_fails_the_turn_with_the_reason(self, api_as, alice, story, openai_server):
        server = openai_server
        server.script(fake.ok("nope"), fake.ok('{"beats": []}'))
        turn = play(api_as(alice), story).json()
        assert turn["status"] == "failed" and "Strategist's plan was not valid twice" in turn["error"]

    def test_llm_output_is_stored_as_data(self, api_as, alice, story, openai_server):
        hostile = '{"beats": [{"description": "x"}], "state_updates": {"flags_set": ["admin"]}, "is_superuser": true}'
        server = openai_server
        server.script(fake.ok(hostile), fake.stream(["<script>alert(1)</script>"]))
        turn = play(api_as(alice), story).json()
        assert turn["prose"] == "<script>alert(1)</script>"
        alice.refresh_from_db()
        assert not alice.is_superuser


class TestChangingTurns:
    def test_reroll_keeps_the_previous_passage(self, api_as, alice, story):
        api = api_as(alice)
        first = play(api, story).json()
        rerolled = api.post(f"/api/stories/{story.pk}/turns/1/reroll/").json()
        assert rerolled["prose"] != first["prose"]
        assert [alt["prose"] for alt in rerolled["alternatives"]] == [first["prose"]]
        again = api.post(f"/api/stories/{story.pk}/turns/1/reroll/").json()
        assert len(again["alternatives"]) == 2

    def test_only_the_last_turn_can_be_rerolled(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story)
        play(api, story)
        response = api.post(f"/api/stories/{story.pk}/turns/1/reroll/")
        assert response.status_code == 409 and "last turn (2)" in response.json()["detail"]

    def test_undo_removes_the_turn_and_restores_the_state(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story, "I walk to the lighthouse.")
        assert api.get(f"/api/stories/{story.pk}/").json()["state"]["location"] == "the lighthouse"
        undone = api.delete(f"/api/stories/{story.pk}/turns/last/")
        assert undone.status_code == 200 and undone.json()["number"] == 1
        body = api.get(f"/api/stories/{story.pk}/").json()
        assert body["state"]["location"] == "the harbour" and body["turn_count"] == 0
        assert api.delete(f"/api/stories/{story.pk}/turns/last/").status_code == 404

    def test_undo_releases_the_storage(self, api_as, alice, story, django_capture_on_commit_callbacks):
        api = api_as(alice)
        before = api.get("/api/me/").json()["usage"]["storage_bytes"]
        with django_capture_on_commit_callbacks(execute=True):
            play(api, story)
        assert api.get("/api/me/").json()["usage"]["storage_bytes"] > before
        api.delete(f"/api/stories/{story.pk}/turns/last/")
        assert api.get("/api/me/").json()["usage"]["storage_bytes"] == before

    def test_edit_the_last_action_and_regenerate(self, api_as, alice, story):
        api = api_as(alice)
        first = play(api, story, "I walk to the lighthouse.").json()
        edited = api.post(f"/api/stories/{story.pk}/turns/1/edit/", {"action": "I walk to the chapel."},
                          content_type="application/json").json()
        assert edited["action"] == "I walk to the chapel." and first["prose"] in [a["prose"] for a in edited["alternatives"]]
        assert api.get(f"/api/stories/{story.pk}/").json()["state"]["location"] == "the chapel"

    def test_turn_lists_are_paginated_oldest_first(self, api_as, alice, story):
        api = api_as(alice)
        for _ in range(3):
            play(api, story)
        body = api.get(f"/api/stories/{story.pk}/turns/").json()
        assert [turn["number"] for turn in body["results"]] == [1, 2, 3] and body["count"] == 3


@pytest.mark.django_db(transaction=True)
def test_a_double_submit_from_two_threads_makes_one_turn():
    user = UserFactory()
    story = StoryFactory(user=user)
    barrier, results = threading.Barrier(2), []

    def submit():
        barrier.wait()
        try:
            results.append(orchestrator.turn_submit(user=user, story_id=story.pk, action="I knock.",
                                                    idempotency_key="same-key"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({turn.pk for turn, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, True]
    with acting_as(user):
        assert Turn.objects.filter(story_id=story.pk).count() == 1
        assert Story.objects.get(pk=story.pk)
