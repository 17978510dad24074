"""A turn's history (issue #19): choose any version of a passage, redo after undo, change the action
of any turn with the later turns kept in a branch; through the API, the pages, and as raw SQL."""

import uuid

import pytest
from django.db import connection
from django.urls import reverse

from accounts.rls import acting_as
from narrative_pipeline import orchestrator, turn_history
from narrative_pipeline.models import Story, Turn, UndoneTurn
from narrative_pipeline.services import collaborator_add
from narrative_pipeline.versions import alternatives_numbered, version_chosen, versions

from ..conftest import as_app_role
from ..factories import StoryFactory, UserFactory, story_with_turns

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(alice):
    return StoryFactory(user=alice, title="The Harbour", state={"location": "the harbour"}, characters=[
        {"name": "Wren", "is_player": True}, {"name": "Captain Hale"}])


def play(api, story, action="I look at the boats."):
    response = api.post(f"/api/stories/{story.pk}/turns/", {"action": action, "idempotency_key": uuid.uuid4().hex},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def turn_row(user, story, number) -> Turn:
    with acting_as(user):
        return Turn.objects.get(story=story, number=number)


def set_versions(user, story, number, prose, alternatives):
    with acting_as(user):
        Turn.objects.filter(story=story, number=number).update(prose=prose, alternatives=alternatives, template=None)


def choose(api, story, number, version):
    return api.post(f"/api/stories/{story.pk}/turns/{number}/choose/", {"version": version},
                    content_type="application/json")


class TestVersionNumbers:
    def test_older_alternatives_are_numbered_in_order_and_the_current_passage_last(self):
        numbered, current = alternatives_numbered([{"prose": "a"}, {"prose": "b"}])
        assert [entry["version"] for entry in numbered] == [1, 2] and current == 3

    def test_choosing_keeps_every_version_at_its_number(self):
        prose, alternatives = version_chosen("c", [{"prose": "a"}, {"prose": "b"}], 1, now="t")
        assert prose == "a"
        assert [(v.number, v.prose, v.current) for v in versions(prose, alternatives)] == [
            (1, "a", True), (2, "b", False), (3, "c", False)]

    def test_a_reroll_after_a_choice_appends_the_next_number(self):
        # A reroll appends the replaced passage unnumbered (orchestrator._turn_complete).
        prose, alternatives = version_chosen("c", [{"prose": "a"}, {"prose": "b"}], 1, now="t")
        rerolled = [*alternatives, {"prose": prose}]
        assert [(v.number, v.prose, v.current) for v in versions("d", rerolled)] == [
            (1, "a", False), (2, "b", False), (3, "c", False), (4, "d", True)]

    def test_a_number_the_passage_does_not_have_is_refused(self):
        with pytest.raises(LookupError):
            version_chosen("c", [{"prose": "a"}], 3, now="t")


class TestChoosingAVersion:
    def test_an_earlier_version_becomes_the_passage_and_the_replaced_one_is_kept(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story)
        set_versions(alice, story, 1, "The harbour is quiet.", [{"prose": "Captain Hale arrives on the ferry."}])
        answer = choose(api, story, 1, 1)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert body["prose"] == "Captain Hale arrives on the ferry."
        assert [alt["prose"] for alt in body["alternatives"]] == ["The harbour is quiet."]

    def test_on_the_last_turn_the_state_follows_the_chosen_passage(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story)
        set_versions(alice, story, 1, "The harbour is quiet.", [{"prose": "Captain Hale arrives on the ferry."}])
        choose(api, story, 1, 1)
        assert "Captain Hale" in api.get(f"/api/stories/{story.pk}/").json()["state"]["present_characters"]
        choose(api, story, 1, 2)
        assert "Captain Hale" not in api.get(f"/api/stories/{story.pk}/").json()["state"]["present_characters"]

    def test_an_earlier_turn_can_be_chosen_and_the_state_stays(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story)
        play(api, story, "I wait.")
        state = api.get(f"/api/stories/{story.pk}/").json()["state"]
        set_versions(alice, story, 1, "One.", [{"prose": "Captain Hale arrives."}])
        assert choose(api, story, 1, 1).json()["prose"] == "Captain Hale arrives."
        assert api.get(f"/api/stories/{story.pk}/").json()["state"] == state

    def test_a_version_the_turn_does_not_have_is_a_clear_400(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story)
        refused = choose(api, story, 1, 5)
        assert refused.status_code == 400 and "versions 1 to 1" in refused.json()["detail"]
        assert choose(api, story, 1, "two").status_code == 400
        assert choose(api, story, 9, 1).status_code == 404

    def test_another_user_cannot_choose_and_a_reader_may_not(self, api_as, alice, bob, story):
        api = api_as(alice)
        play(api, story)
        set_versions(alice, story, 1, "Mine.", [{"prose": "Other."}])
        assert choose(api_as(bob), story, 1, 1).status_code == 404
        reader = UserFactory()
        collaborator_add(owner=alice, story=story, username=reader.username, role="view")
        assert choose(api_as(reader), story, 1, 1).status_code == 403
        assert turn_row(alice, story, 1).prose == "Mine."


class TestRedo:
    def test_undo_then_redo_brings_back_the_same_turn_and_its_state(self, api_as, alice, story):
        api = api_as(alice)
        played = play(api, story, "I walk to the lighthouse and take the lantern.")
        state = api.get(f"/api/stories/{story.pk}/").json()["state"]
        assert api.delete(f"/api/stories/{story.pk}/turns/last/").status_code == 200
        assert api.get(f"/api/stories/{story.pk}/").json()["state"]["location"] == "the harbour"
        redone = api.post(f"/api/stories/{story.pk}/turns/redo/")
        assert redone.status_code == 200, redone.content
        assert {key: redone.json()[key] for key in ("id", "number", "action", "prose")} == {
            key: played[key] for key in ("id", "number", "action", "prose")}
        assert api.get(f"/api/stories/{story.pk}/").json()["state"] == state
        assert api.post(f"/api/stories/{story.pk}/turns/redo/").status_code == 404

    def test_two_undos_redo_in_order(self, api_as, alice, story):
        api = api_as(alice)
        for action in ("One.", "Two."):
            play(api, story, action)
        api.delete(f"/api/stories/{story.pk}/turns/last/")
        api.delete(f"/api/stories/{story.pk}/turns/last/")
        assert api.post(f"/api/stories/{story.pk}/turns/redo/").json()["action"] == "One."
        assert api.post(f"/api/stories/{story.pk}/turns/redo/").json()["action"] == "Two."

    def test_a_new_action_ends_the_redo(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story, "One.")
        api.delete(f"/api/stories/{story.pk}/turns/last/")
        play(api, story, "Something else.")
        assert api.post(f"/api/stories/{story.pk}/turns/redo/").status_code == 404
        with acting_as(alice):
            assert not UndoneTurn.objects.filter(story=story).exists()

    def test_redo_gives_back_the_storage_undo_released(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story)
        with acting_as(alice):
            before = Story.objects.get(pk=story.pk).storage_bytes
        api.delete(f"/api/stories/{story.pk}/turns/last/")
        api.post(f"/api/stories/{story.pk}/turns/redo/")
        with acting_as(alice):
            assert Story.objects.get(pk=story.pk).storage_bytes == before > 0

    def test_another_user_cannot_redo(self, api_as, alice, bob, story):
        api = api_as(alice)
        play(api, story)
        api.delete(f"/api/stories/{story.pk}/turns/last/")
        assert api_as(bob).post(f"/api/stories/{story.pk}/turns/redo/").status_code == 404
        with acting_as(alice):
            assert UndoneTurn.objects.filter(story=story).count() == 1

    def test_a_co_author_who_may_edit_can_undo_and_redo(self, api_as, alice, story):
        play(api_as(alice), story, "One.")
        editor = UserFactory()
        collaborator_add(owner=alice, story=story, username=editor.username, role="edit")
        assert orchestrator.turn_undo(user=editor, story_id=story.pk).number == 1
        assert turn_history.turn_redo(user=editor, story_id=story.pk).action == "One."
        with acting_as(alice):
            assert Turn.objects.filter(story=story).count() == 1 and not UndoneTurn.objects.exists()

    def test_undone_turns_are_invisible_to_another_user_as_raw_sql(self, api_as, alice, bob, story):
        api = api_as(alice)
        play(api, story)
        api.delete(f"/api/stories/{story.pk}/turns/last/")
        with connection.cursor() as cursor:
            as_app_role(cursor, bob.pk)
            cursor.execute("SELECT count(*) FROM narrative_pipeline_undoneturn")
            assert cursor.fetchone()[0] == 0
            cursor.execute("UPDATE narrative_pipeline_undoneturn SET turn = '{}'")
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM narrative_pipeline_undoneturn")
            assert cursor.rowcount == 0
            as_app_role(cursor, None)
            cursor.execute("SELECT count(*) FROM narrative_pipeline_undoneturn")
            assert cursor.fetchone()[0] == 0
            with pytest.raises(Exception, match="row-level security"):
                as_app_role(cursor, bob.pk)
                cursor.execute("INSERT INTO narrative_pipeline_undoneturn (user_id, story_id, number, turn, "
                               "state_after, undone_at) VALUES (%s, %s, 9, '{}', '{}', now())",
                               [str(alice.pk), str(story.pk)])


class TestEditingAnEarlierAction:
    def test_the_later_turns_are_kept_in_a_branch(self, api_as, alice, story):
        api = api_as(alice)
        for action in ("I walk to the lighthouse.", "I climb the stairs.", "I light the lamp."):
            play(api, story, action)
        old = [turn_row(alice, story, number).prose for number in (1, 2, 3)]
        answer = api.post(f"/api/stories/{story.pk}/turns/2/edit/", {"action": "I sit on the steps instead."},
                          content_type="application/json")
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert body["number"] == 2 and body["action"] == "I sit on the steps instead."
        assert body["branch"]["turns"] == [2, 3] and "before an edit" in body["branch"]["title"]
        turns = api.get(f"/api/stories/{story.pk}/turns/").json()["results"]
        assert [turn["number"] for turn in turns] == [1, 2]
        assert old[1] in [alt["prose"] for alt in turns[1]["alternatives"]]
        kept = api.get(f"/api/stories/{body['branch']['id']}/turns/").json()["results"]
        assert [(turn["action"], turn["prose"]) for turn in kept] == list(zip(
            ["I walk to the lighthouse.", "I climb the stairs.", "I light the lamp."], old, strict=True))

    def test_the_last_turn_is_written_again_without_a_branch(self, api_as, alice, story):
        api = api_as(alice)
        play(api, story, "One.")
        body = api.post(f"/api/stories/{story.pk}/turns/1/edit/", {"action": "Two."},
                        content_type="application/json").json()
        assert body["branch"] is None and body["action"] == "Two." and len(body["alternatives"]) == 1
        with acting_as(alice):
            assert Story.objects.count() == 1

    def test_another_user_cannot_edit_and_an_unfinished_turn_blocks(self, api_as, alice, bob, story):
        api = api_as(alice)
        play(api, story, "One.")
        play(api, story, "Two.")
        assert api_as(bob).post(f"/api/stories/{story.pk}/turns/1/edit/", {"action": "Mine."},
                                content_type="application/json").status_code == 404
        with acting_as(alice):
            Turn.objects.filter(story=story, number=2).update(status=Turn.Status.FAILED)
        refused = api.post(f"/api/stories/{story.pk}/turns/1/edit/", {"action": "Three."},
                           content_type="application/json")
        assert refused.status_code == 409 and "Turn 2 is failed" in refused.json()["detail"]
        assert turn_row(alice, story, 1).action == "One."


class TestPages:
    def test_choose_without_javascript_redirects_to_the_turn(self, as_alice, alice):
        story = story_with_turns(alice, 2)
        set_versions(alice, story, 2, "New.", [{"prose": "Old."}])
        response = as_alice.post(reverse("turn-choose", args=[story.pk, 2]), {"version": 1})
        assert response.status_code == 302 and response["Location"].endswith("#turn-2")
        assert turn_row(alice, story, 2).prose == "Old."

    def test_the_page_shows_the_versions_of_the_last_passage(self, as_alice, alice):
        story = story_with_turns(alice, 2)
        set_versions(alice, story, 2, "New.", [{"prose": "Old."}])
        page = as_alice.get(reverse("story-detail", args=[story.pk])).content.decode()
        assert "2/2" in page and 'aria-label="Previous version"' in page and "Use this one" in page
        assert page.count("Edit action") == 2  # every turn, not only the last

    def test_turn_tools_answer_the_changed_articles_for_in_place_updates(self, as_alice, alice):
        story = story_with_turns(alice, 5)
        set_versions(alice, story, 5, "New.", [{"prose": "Old."}])
        response = as_alice.post(reverse("turn-choose", args=[story.pk, 5]), {"version": 1},
                                 HTTP_X_TURN_TOOLS="1")
        html = response.content.decode()
        assert response.status_code == 200 and 'id="turns-update"' in html and 'data-last="5"' in html
        assert 'id="turn-4"' in html and 'id="turn-5"' in html and 'id="turn-3"' not in html
        assert "<!DOCTYPE" not in html and 'class="state"' in html

    def test_undo_says_so_and_offers_redo_until_the_next_action(self, as_alice, alice):
        story = story_with_turns(alice, 3)
        response = as_alice.post(reverse("turn-undo", args=[story.pk]))
        assert response["Location"].endswith("#turn-notice")
        page = as_alice.get(response["Location"]).content.decode()
        assert "Turn 3 is undone." in page and reverse("turn-redo", args=[story.pk]) in page
        as_alice.post(reverse("turn-redo", args=[story.pk]))
        page = as_alice.get(reverse("story-detail", args=[story.pk])).content.decode()
        assert 'id="turn-3"' in page and "is undone" not in page

    def test_editing_an_earlier_action_names_the_branch(self, as_alice, alice):
        story = story_with_turns(alice, 4)
        response = as_alice.post(reverse("turn-edit", args=[story.pk, 2]), {"action": "Something new."}, follow=True)
        page = response.content.decode()
        assert "Turns 2–4 were kept in the branch" in page
        with acting_as(alice):
            branch = Story.objects.get(title__contains="before an edit")
            assert reverse("story-detail", args=[branch.pk]) in page
            assert list(Turn.objects.filter(story=story).values_list("number", flat=True)) == [1, 2]


class TestStoriesBasedOnASnapshot:
    """A branch or a fork reads its first turns from a snapshot: choosing there writes the story's own
    override and leaves the source as it was; its action cannot be edited in place."""

    @pytest.fixture
    def branch(self, alice):
        from narrative_pipeline import snapshots

        source = story_with_turns(alice, 3)
        snapshot = snapshots.snapshot_create(user=alice, story=source)
        return source, snapshots.story_from_snapshot(user=alice, snapshot=snapshot)

    def test_choosing_a_version_of_an_overridden_turn_changes_the_override_only(self, api_as, alice, branch):
        from narrative_pipeline import snapshots
        from narrative_pipeline.models import TurnOverride

        source, story = branch
        source_text = turn_row(alice, source, 2).prose
        with acting_as(alice):  # a sync resolved with "both": the fork's text, the source's as a version
            TurnOverride.objects.create(user_id=alice.pk, story=story, number=2, action="Action 2.", prose="Mine.")
            snapshots.turn_alternative_add(user=alice, story=story, number=2, prose="Mine.", alternatives=["Theirs."])
        body = choose(api_as(alice), story, 2, 1).json()
        assert body["prose"] == "Theirs." and [alt["prose"] for alt in body["alternatives"]] == ["Mine."]
        assert turn_row(alice, source, 2).prose == source_text

    def test_choosing_the_current_version_of_a_snapshot_turn_writes_nothing(self, api_as, alice, branch):
        from narrative_pipeline.models import TurnOverride

        _, story = branch
        assert choose(api_as(alice), story, 2, 1).status_code == 200
        with acting_as(alice):
            assert not TurnOverride.objects.filter(story=story).exists()

    def test_an_action_read_from_the_snapshot_cannot_be_edited(self, api_as, alice, branch):
        _, story = branch
        refused = api_as(alice).post(f"/api/stories/{story.pk}/turns/2/edit/", {"action": "Other."},
                                     content_type="application/json")
        assert refused.status_code == 409 and "based on" in refused.json()["detail"]
