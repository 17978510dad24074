"""What players read about chapters (issue 17, item 4): why the next one has not begun, how done ones
ended, and a dated note per change, without leaking chapters the author hid."""

import pytest

from accounts.rls import acting_as
from chapters import chapter_markup, healing, plain_words, services
from chapters.models import ChapterDivergenceLog, ChapterProgress, StoryChapter
from chapters.selectors import chapter_panel
from core.contracts import StoryState
from narrative_pipeline import selectors as story_selectors

from ..factories import story_with_turns

TEXT = """‹chapter-1› The Lamp
location: lighthouse
character_present: Aldric
description: The keeper's last night.
beats:
- [high] The lamp is lit
- [low] A gull cries

‹chapter-2› The Vault Below
requires: 1
visibility: hidden
location: cellar

‹chapter-3› The Bridge
requires: 1
visibility: title
description: Secret until reached.
"""


# Plain words, as pure functions.

def test_why_a_chapter_has_not_begun_reads_as_a_sentence():
    conditions = {"location": "lighthouse", "character_present": ["Aldric", "Mira"], "has_item": "lamp",
                  "flag": "storm", "min_turn": 5}
    assert plain_words.waiting_reason(conditions, ["location"]) == "Waits for you at the lighthouse."
    assert plain_words.waiting_reason(conditions, ["min_turn", "has_item", "character_present", "flag"]) == (
        "Waits for you with Aldric and Mira, carrying the lamp, once the moment is right, from turn 5 on.")
    assert plain_words.waiting_reason({"location": ["Old Bridge", "quay"]}, ["location"]) == (
        "Waits for you at Old Bridge or the quay.")
    assert plain_words.waiting_reason(conditions, []) == "Begins with your next turn."


def test_done_chapters_say_how_they_ended_in_words_not_enum_values():
    assert plain_words.outcome("natural") == "completed"
    assert plain_words.outcome("adapted") == "completed after the story changed it"
    assert plain_words.outcome("diverged_alternate", replaced_by="The Lamp: Another Road") == (
        "replaced by another road: “The Lamp: Another Road”")
    # The alternate itself completed: it is not "diverged", it is the road the story took.
    assert plain_words.outcome("diverged_alternate", alternate=True, alternate_of="The Lamp") == (
        "completed, another road to “The Lamp”")
    assert plain_words.outcome("diverged_alternate", alternate=True) == "completed, by another road"


def test_each_healing_is_told_in_plain_words():
    moved = {"trigger_conditions": {"before": {"location": "lighthouse"}, "after": {}}}
    assert plain_words.healed(strategy="relax", title="The Lamp", changes=moved, breakdown={"unmet": ["location"]}) == (
        "The story moved away from the lighthouse, so <em>The Lamp</em> will meet you where you are.")
    assert plain_words.healed(strategy="adapt", title="The Lamp", changes=moved, breakdown={"unmet": ["location"]}) == (
        "The story moved away from the lighthouse, so <em>The Lamp</em> was rewritten to meet you where you are.")
    assert plain_words.healed(strategy="relax", title="The Lamp", changes=moved, breakdown={"unmet": ["location"]},
                              reveal_place=False) == (
        "The story went its own way, so <em>The Lamp</em> will meet you where you are.")
    assert plain_words.healed(strategy="nudge", title="The Lamp", changes={"hook": "A gull drops a key."},
                              breakdown={}) == "Something pulls the story toward <em>The Lamp</em>."
    dead = {"impossible": ["character_present: aldric is dead"]}
    assert plain_words.healed(strategy="alternate", title="The Lamp", changes={"title": "x"}, breakdown=dead,
                              characters="Aldric", alternate_title="The Lamp: Another Road") == (
        "<em>The Lamp</em> could no longer happen (Aldric is dead); <em>The Lamp: Another Road</em> takes its place.")
    assert plain_words.healed(strategy="alternate", title="", changes={}, breakdown={}, alternate_title="") == (
        "A chapter ahead could no longer happen; another road takes its place.")


def test_titles_in_notes_are_escaped():
    assert "<em>&lt;b&gt;Lamp&lt;/b&gt;</em>" in plain_words.began("<b>Lamp</b>", 2)


# The selector, over the database.

@pytest.fixture
def story(alice):
    story = story_with_turns(alice, 6, state={"location": "the harbour"})
    with acting_as(alice):
        services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=chapter_markup.parse(TEXT))
    return story


def _chapter(number, story):
    return StoryChapter.objects.get(story=story, number=number)


def _progress(alice, story, number, **fields):
    # update_or_create: an alternate is given its progress row by the healing that writes it
    return ChapterProgress.objects.update_or_create(user_id=alice.pk, chapter=_chapter(number, story), story=story,
                                                    defaults={"upcoming_turn": 1, **fields})[0]


def _nudge(alice, story, number, turn):
    # The ladder's first rung (written by the ladder's own code): a hook, no new version.
    ChapterDivergenceLog.objects.create(user_id=alice.pk, chapter=_chapter(number, story), story=story,
                                        turn_number=turn, score=0.5, breakdown={"unmet": ["location"]},
                                        strategy="nudge", changes={"hook": "A gull drops the cellar key."})


def _panel(story):
    return story_selectors.story_chapter_panel(story=story)


def test_a_note_per_change_newest_first_with_its_turn_and_date(alice, story):
    with acting_as(alice):
        _nudge(alice, story, 1, turn=2)
        healing.relax(_chapter(1, story), state=StoryState(location="the harbour"), turn_number=3)
        _progress(alice, story, 1, status="completed", activated_turn=4, completed_turn=6, completion_method="adapted")
        notes = _panel(story).notes
    assert [(note["turn"], str(note["text"])) for note in notes] == [
        (6, "<em>The Lamp</em> was completed, after the story changed it."),
        (4, "<em>The Lamp</em> began at turn 4."),
        (3, "The story moved away from the lighthouse, so <em>The Lamp</em> will meet you where you are."),
        (2, "Something pulls the story toward <em>The Lamp</em>."),
    ]
    with acting_as(alice):
        turn_four = story_selectors.turn_get(story=story, number=4)
    assert notes[1]["date"] == turn_four.created_at


def test_a_hidden_chapter_is_in_no_note_until_it_begins(alice, story):
    with acting_as(alice):
        _progress(alice, story, 1, status="completed", activated_turn=1, completed_turn=2, completion_method="natural")
        _nudge(alice, story, 2, turn=3)
        healing.relax(_chapter(2, story), state=StoryState(location="the harbour"), turn_number=4)
        panel = _panel(story)
    shown = str(panel.notes) + str(panel.current) + str(panel.ahead) + str(panel.completed)
    assert "Vault" not in shown and "cellar" not in shown
    assert [note["turn"] for note in panel.notes] == [2, 1]
    with acting_as(alice):
        ChapterProgress.objects.filter(chapter=_chapter(2, story)).delete()
        _progress(alice, story, 2, status="active", activated_turn=5)
        notes = [str(note["text"]) for note in _panel(story).notes]
    assert notes[:3] == ["<em>The Vault Below</em> began at turn 5.",
                         "The story moved away from the cellar, so <em>The Vault Below</em> will meet you where you are.",
                         "Something pulls the story toward <em>The Vault Below</em>."]


def test_an_alternate_names_the_dead_and_takes_the_place_of_the_chapter(alice, story):
    with acting_as(alice):
        _progress(alice, story, 1, status="upcoming")
        dead = StoryState(location="the harbour", flags=["dead:Aldric"])
        alternate = healing.alternate(_chapter(1, story), state=dead, turn_number=3, title="The Lamp: Another Road",
                                      instructions="Mira keeps the lamp.", beats=[])
        _progress(alice, story, alternate.number, status="completed", activated_turn=4, completed_turn=5,
                  completion_method="diverged_alternate")
        panel = _panel(story)
    assert [str(note["text"]) for note in panel.notes] == [
        "<em>The Lamp: Another Road</em> was completed.",
        "<em>The Lamp: Another Road</em> began at turn 4.",
        "<em>The Lamp</em> could no longer happen (Aldric is dead); <em>The Lamp: Another Road</em> takes its place.",
    ]
    assert [(chapter["title"], chapter["outcome"]) for chapter in panel.completed] == [
        ("The Lamp", "replaced by another road: “The Lamp: Another Road”"),
        ("The Lamp: Another Road", "completed, another road to “The Lamp”")]


def test_a_replaced_hidden_chapter_keeps_its_title_to_itself(alice, story):
    with acting_as(alice):
        _progress(alice, story, 1, status="completed", activated_turn=1, completed_turn=2, completion_method="natural")
        _progress(alice, story, 2, status="upcoming")
        healing.alternate(_chapter(2, story), state=StoryState(location="the harbour"), turn_number=3,
                         title="The Open Road", instructions="", beats=[])
        panel = _panel(story)  # the alternate is current at once: shown, as a chapter that has begun
    assert panel.current["title"] == "The Open Road"
    assert "Vault" not in str(panel)
    assert str(panel.notes[1]["text"]) == "A chapter ahead could no longer happen; <em>The Open Road</em> takes its place."


def test_the_chapter_ahead_says_why_it_has_not_begun_as_its_visibility_allows(alice, story):
    with acting_as(alice):
        panel = chapter_panel(story_id=story.pk, state=StoryState(location="the harbour"), turn_number=7)
    assert panel.current["state"] == "ahead" and panel.current["title"] == "The Lamp"
    assert panel.current["reason"] == "Waits for you at the lighthouse, with Aldric."
    assert [beat["done"] for beat in panel.current["beats"]] == [False, False]
    assert [chapter["title"] for chapter in panel.ahead] == ["The Bridge"]  # title only; the hidden one not at all
    assert panel.ahead[0]["description"] == ""
    with acting_as(alice):
        _progress(alice, story, 1, status="completed", activated_turn=1, completed_turn=2, completion_method="natural")
        StoryChapter.objects.filter(story=story, number=2).update(blocked_by=[1])  # the vault can never come now
        panel = chapter_panel(story_id=story.pk, state=StoryState(), turn_number=7)
    # the title-only chapter is now the one ahead: its title, nothing of where it waits
    assert panel.current["title"] == "The Bridge" and panel.current["reason"] == ""
    assert panel.current["description"] == "" and panel.current["beats"] == []


def test_the_chapter_under_way_ticks_its_beats(alice, story):
    with acting_as(alice):
        _progress(alice, story, 1, status="active", activated_turn=2, beats_addressed=["The lamp is lit"])
        panel = chapter_panel(story_id=story.pk, state=StoryState(), turn_number=7)
    assert panel.current["state"] == "now" and panel.current["reason"] == ""
    assert panel.current["beats"] == [{"beat": "The lamp is lit", "priority": "high", "done": True},
                                      {"beat": "A gull cries", "priority": "low", "done": False}]
