"""Every copy keeps who knows what (issue #20): a branch, a fork and a sync carry the story's facts, their
audiences and reveals as of the copied turn; lore entries and characters keep known_by/reveal_when/factions."""

import json

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from chapters.knowledge import selectors as knowledge_selectors
from chapters.knowledge import services as knowledge
from chapters.knowledge.rules import Member
from chapters.lore.importers import png
from chapters.models import Knowledge, LoreEntry
from narrative_pipeline import lore_files
from narrative_pipeline.models import Character, SnapshotItem, Story

from ..factories import world_story

pytestmark = pytest.mark.django_db
SECRET = "The bell was rung by Hale"


def post(api, url, body=None):
    return api.post(url, body or {}, content_type="application/json")


@pytest.fixture
def alice_api(api_as, alice):
    return api_as(alice)


@pytest.fixture
def bob_api(api_as, bob):
    return api_as(bob)


def known_to(user, story_id, name, is_player=False) -> set[str]:
    with acting_as(user):
        return {row.fact for row in knowledge_selectors.knowledge_known_to(
            story_id=story_id, member=Member(name=name, is_player=is_player))}


@pytest.fixture
def secret_story(alice):
    story = world_story(alice, turns=6)
    with acting_as(alice):
        Character.objects.create(user_id=alice.pk, story=story, name="Wren", is_player=True)
        Character.objects.filter(story=story, name="Orla").update(factions=["divers"], known_by=["Hale"])
        LoreEntry.objects.filter(story=story, position=2).update(known_by=["faction:divers"],
                                                                 reveal_when={"location": "lighthouse"})
        add = {"story_id": story.pk, "user_id": alice.pk}
        secret = knowledge.knowledge_add(**add, fact=SECRET, known_by=["Orla"])
        knowledge.knowledge_edit(knowledge=secret, revealed=True, turn_number=4)
        knowledge.knowledge_add(**add, fact="The tide fills the cave", known_by=["Orla"])
        told = knowledge.knowledge_add(**add, fact="The ferry is late", known_by=["Orla"])
        knowledge.knowledge_edit(knowledge=told, revealed=True)  # by hand, before any turn
    return story


def test_a_branch_before_the_reveal_keeps_the_secret_and_one_after_it_keeps_the_reveal(alice, alice_api, secret_story):
    before = post(alice_api, f"/api/stories/{secret_story.pk}/branch/", {"at_turn": 3}).json()["story_id"]
    after = post(alice_api, f"/api/stories/{secret_story.pk}/branch/", {"at_turn": 5}).json()["story_id"]
    assert SECRET not in known_to(alice, before, "Wren", is_player=True)
    assert "The ferry is late" in known_to(alice, before, "Wren", is_player=True)
    assert SECRET in known_to(alice, before, "Orla")
    assert SECRET in known_to(alice, after, "Wren", is_player=True)
    with acting_as(alice):
        row = Knowledge.objects.get(story_id=after, fact=SECRET)
        assert (row.revealed_at_turn, row.known_by) == (4, ["Orla"])
        assert Knowledge.objects.get(story_id=before, fact=SECRET).revealed_at_turn is None
    assert SECRET in known_to(alice, secret_story.pk, "Wren", is_player=True)  # the source is as it was


def test_a_fork_of_a_published_story_keeps_its_secrets_secret(alice, bob, alice_api, bob_api, client, secret_story):
    with acting_as(alice):
        Knowledge.objects.filter(story=secret_story).update(revealed_at_turn=None, revealed_by="")
    listing = post(alice_api, f"/api/marketplace/stories/{secret_story.pk}/publish/", {"licence": "CC-BY"}).json()["id"]
    fork = post(bob_api, f"/api/marketplace/stories/{listing}/fork/").json()["story_id"]
    assert SECRET not in known_to(bob, fork, "Wren", is_player=True)
    client.force_login(bob)
    page = client.get(f"/stories/{fork}/").content.decode()
    assert "What you know" in page and SECRET not in page
    assert {"The tide fills the cave", SECRET} <= known_to(bob, fork, "Orla")
    with acting_as(bob):
        orla = Character.objects.get(story_id=fork, name="Orla")
        assert (orla.factions, orla.known_by) == (["divers"], ["Hale"])
        entry = LoreEntry.objects.get(story_id=fork, position=2)
        assert (entry.known_by, entry.reveal_when) == (["faction:divers"], {"location": "lighthouse"})
    with acting_as(alice):  # RLS: the fork's facts are Bob's alone
        assert not Knowledge.objects.filter(story_id=fork).exists()
        assert not Story.objects.filter(pk=fork).exists()
    assert alice_api.get(f"/api/stories/{fork}/knowledge/").status_code == 404


@pytest.fixture
def forked(alice, bob, alice_api, bob_api, secret_story):
    listing = post(alice_api, f"/api/marketplace/stories/{secret_story.pk}/publish/", {"licence": "CC-BY"}).json()["id"]
    return post(bob_api, f"/api/marketplace/stories/{listing}/fork/").json()


def republish(alice_api, story):
    assert post(alice_api, f"/api/marketplace/stories/{story.pk}/publish/",
                {"licence": "CC-BY", "changelog": "v2"}).status_code == 201


def test_a_sync_brings_the_author_s_new_secret_and_keeps_the_fork_s_reveals(alice, bob, alice_api, bob_api,
                                                                             secret_story, forked):
    with acting_as(bob):  # Bob's own play revealed the cave; the author's reveal state is not his
        Knowledge.objects.filter(story_id=forked["story_id"], fact="The tide fills the cave").update(
            revealed_at_turn=6, revealed_by="manual")
    with acting_as(alice):
        knowledge.knowledge_add(story_id=secret_story.pk, user_id=alice.pk, fact="Hale keeps the lamp oil",
                                known_by=["Hale"])
    republish(alice_api, secret_story)
    synced = post(bob_api, f"/api/forks/{forked['fork_id']}/sync/").json()
    assert (synced["applied"], synced["conflicts"]) == (1, 0)
    assert "Hale keeps the lamp oil" not in known_to(bob, forked["story_id"], "Wren", is_player=True)
    assert "Hale keeps the lamp oil" in known_to(bob, forked["story_id"], "Hale")
    assert "The tide fills the cave" in known_to(bob, forked["story_id"], "Wren", is_player=True)
    assert post(bob_api, f"/api/forks/{forked['fork_id']}/sync/undo/").status_code == 200
    with acting_as(bob):
        assert not Knowledge.objects.filter(story_id=forked["story_id"], fact="Hale keeps the lamp oil").exists()


def test_a_fact_both_changed_is_a_conflict(alice, bob, alice_api, bob_api, client, secret_story, forked):
    with acting_as(bob):
        Knowledge.objects.filter(story_id=forked["story_id"], fact="The tide fills the cave").update(
            known_by=["Orla", "Wren"])
    with acting_as(alice):
        Knowledge.objects.filter(story=secret_story, fact="The tide fills the cave").update(known_by=["Orla", "Hale"])
    republish(alice_api, secret_story)
    synced = post(bob_api, f"/api/forks/{forked['fork_id']}/sync/").json()
    assert (synced["applied"], synced["conflicts"]) == (0, 1)
    (conflict,) = bob_api.get(f"/api/forks/{forked['fork_id']}/conflicts/").json()["results"]
    assert conflict["kind"] == "knowledge" and "Hale" in conflict["source_text"] and "Wren" in conflict["fork_text"]
    client.force_login(bob)
    page = client.get(reverse("marketplace-sync", args=[forked["fork_id"]])).content.decode()
    assert f'id="conflict-{conflict["id"]}"' in page and "The tide fills the cave" in page
    post(bob_api, f"/api/forks/{forked['fork_id']}/conflicts/{conflict['id']}/resolve/", {"choice": "source"})
    with acting_as(bob):
        assert Knowledge.objects.get(story_id=forked["story_id"], fact="The tide fills the cave").known_by == [
            "Orla", "Hale"]


def test_a_version_stored_before_who_knows_what_is_no_change_to_sync(alice, bob, alice_api, bob_api, secret_story):
    listing = post(alice_api, f"/api/marketplace/stories/{secret_story.pk}/publish/", {"licence": "CC-BY"}).json()["id"]
    with acting_as(alice, bypass=True):  # as published before issue #20: no known_by, reveal_when or factions
        for item in SnapshotItem.objects.filter(series__source_story=secret_story, kind__in=["loreentry", "character"]):
            SnapshotItem.objects.filter(pk=item.pk).update(payload={
                key: value for key, value in item.payload.items() if key not in ("known_by", "reveal_when", "factions")})
    forked = post(bob_api, f"/api/marketplace/stories/{listing}/fork/").json()
    with acting_as(alice):
        LoreEntry.objects.filter(story=secret_story, position=0).update(content="The lighthouse is dark.")
    republish(alice_api, secret_story)
    synced = post(bob_api, f"/api/forks/{forked['fork_id']}/sync/").json()
    assert synced["conflicts"] == 0
    with acting_as(bob):
        assert LoreEntry.objects.get(story_id=forked["story_id"], position=0).content == "The lighthouse is dark."


def test_a_fork_and_a_branch_keep_the_cast_s_portraits_and_they_are_the_copier_s(alice, bob, alice_api, bob_api,
                                                                                  client):
    card = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Seraphina", "description": "a guardian"}}
    image = png.card_png(json.dumps(card), keyword="chara", image=None)
    story = world_story(alice)
    lore_files.import_file(user=alice, story=story, data=image, filename="seraphina.png")
    listing = post(alice_api, f"/api/marketplace/stories/{story.pk}/publish/", {"licence": "CC-BY"}).json()["id"]
    fork = post(bob_api, f"/api/marketplace/stories/{listing}/fork/").json()["story_id"]
    with acting_as(bob):
        seraphina = Character.objects.get(story_id=fork, name="Seraphina")
        assert seraphina.portrait_source.user_id == bob.pk and seraphina.portrait_source.story_id == seraphina.story_id
    with acting_as(alice):
        original = Character.objects.get(story=story, name="Seraphina")
    client.force_login(alice)
    authors = client.get(f"/stories/{story.pk}/cast/{original.pk}/portrait/").content
    client.force_login(bob)
    portrait = client.get(f"/stories/{fork}/cast/{seraphina.pk}/portrait/")
    assert portrait.status_code == 200 and portrait.content == authors and authors
    branch = post(alice_api, f"/api/stories/{story.pk}/branch/", {"at_turn": 2}).json()["story_id"]
    with acting_as(alice):
        assert Character.objects.get(story_id=branch, name="Seraphina").portrait_source.image
    client.force_login(alice)
    assert client.get(f"/stories/{fork}/cast/{seraphina.pk}/portrait/").status_code == 404  # Bob's copy is his


def test_a_copy_keeps_who_learned_what_when_so_its_undo_unlearns_it(alice, alice_api, secret_story):
    from narrative_pipeline import snapshots

    with acting_as(alice):
        add = {"story_id": secret_story.pk, "user_id": alice.pk}
        knowledge.knowledge_learn(**add, character="Orla", fact="Hale keeps the key", turn_number=2)
        knowledge.knowledge_learn(**add, character="Wren", fact="The tide fills the cave", turn_number=6)
    branch = post(alice_api, f"/api/stories/{secret_story.pk}/branch/", {"at_turn": 5}).json()["story_id"]
    with acting_as(alice):
        rows = {row.fact: (row.known_by, row.learned_at) for row in Knowledge.objects.filter(story_id=branch)}
    assert rows["Hale keeps the key"] == (["Orla"], {"Orla": 2})
    assert rows["The tide fills the cave"] == (["Orla"], {})  # Wren learned it after the copied turn
    assert "The tide fills the cave" not in known_to(alice, branch, "Wren", is_player=True)

    with acting_as(alice):  # a copy of all its turns keeps their numbers: undo reaches the copied ones
        snapshots.materialize(user=alice, story=Story.objects.get(pk=branch))
    for _ in range(4):
        assert alice_api.delete(f"/api/stories/{branch}/turns/last/").status_code == 200
    assert "Hale keeps the key" not in known_to(alice, branch, "Orla")
    assert "Hale keeps the key" in known_to(alice, secret_story.pk, "Orla")  # the source is as it was
