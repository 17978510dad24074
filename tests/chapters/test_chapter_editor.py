"""Authors write chapters in the admin without JSON: conditions, beats and prerequisites as fields, or the
whole chapter as ‹chapter-N› text; every error names the field in words."""

import pytest
from django.urls import reverse

from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters import chapter_markup, services
from chapters.admin.chapter_form import ChapterForm, ChapterTextForm
from chapters.models import StoryChapter

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db
CHAPTERS = ("‹chapter-1› The Summons\nlocation: harbour\n\nOpen with a summons.\n\n"
            "‹chapter-2› The Bridge\nrequires: 1\n\nCross at dawn.\n")


@pytest.fixture
def story(alice):
    story = StoryFactory(user=alice, title="Alice's tale")
    with acting_as(alice):
        services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=chapter_markup.parse(CHAPTERS))
    return story


@pytest.fixture
def author(client, alice):
    user_become_author(user=alice)
    client.force_login(alice)
    return client


def fields(story, **overrides) -> dict:
    """Chapter 3 as the editor's fields post it."""
    return {"story": str(story.pk), "number": "3", "title": "The Tower", "description": "Up the stair.",
            "summary": "The horn calls the fleet.", "start_early": "on",
            "locations": "Old Tower, North Gate", "critical_location": "on", "characters": "Wren",
            "critical_character_present": "on", "items": "Signal Horn", "flags": "night, storm", "min_turn": "4",
            "required_previous_chapters": ["1"], "blocked_by": ["2"],
            "narrative_instructions": "Climb in the storm.",
            "suggested_beats-0-beat": "The horn sounds", "suggested_beats-0-priority": "high",
            "suggested_beats-1-beat": "Wren hesitates", "suggested_beats-1-priority": "low",
            "suggested_beats-2-beat": "", "suggested_beats-2-priority": "",
            "allow_divergence": "on", "min_similarity_threshold": "0.5", "visibility": "title", **overrides}


def bound(form_class, alice, data, instance=None):
    form = form_class(data=data, instance=instance)
    form.request_user = alice
    return form


EXPECTED = {"number": 3, "title": "The Tower", "description": "Up the stair.", "summary": "The horn calls the fleet.",
            "narrative_instructions": "Climb in the storm.", "start_early": True, "trigger_conditions": {
    "location": ["Old Tower", "North Gate"], "character_present": "Wren", "has_item": "Signal Horn",
    "flag": ["night", "storm"], "min_turn": 4}, "critical": ["location", "character_present"],
    "required_previous_chapters": [1], "blocked_by": [2],
    "suggested_beats": [{"beat": "The horn sounds", "priority": "high"}, {"beat": "Wren hesitates", "priority": "low"}],
    "min_similarity_threshold": 0.5, "visibility": "title", "allow_divergence": True}


def test_the_fields_become_the_chapters_json(alice, story):
    with acting_as(alice):
        form = bound(ChapterForm, alice, fields(story))
        assert form.is_valid(), form.errors
        chapter = form.chapter_fields()
    assert {key: chapter[key] for key in EXPECTED} == EXPECTED


def test_a_saved_chapter_shows_in_the_fields_and_saves_unchanged(alice, story):
    with acting_as(alice):
        form = bound(ChapterForm, alice, fields(story))
        assert form.is_valid()
        saved = services.chapter_create(story_id=story.pk, user_id=alice.pk, **form.chapter_fields())
        unbound = ChapterForm(instance=saved)
        rendered = {name: unbound[name].value() for name in unbound.fields}
        assert rendered["locations"] == "Old Tower, North Gate" and rendered["critical_location"]
        assert rendered["min_turn"] == 4 and not rendered["critical_has_item"]
        html = str(unbound["suggested_beats"])
        assert 'value="The horn sounds"' in html and '<option value="low" selected>' in html
        assert "1. The Summons" in str(unbound["required_previous_chapters"])  # the story's chapters by title
        again = bound(ChapterForm, alice, fields(story), instance=saved)
        assert again.is_valid(), again.errors
        assert again.changed_chapter_fields() == {}


def test_old_beats_read_as_beats(alice, story):
    with acting_as(alice):
        saved = StoryChapter.objects.get(story=story, number=1)
        saved.suggested_beats = [{"description": "A seal arrives", "priority": "high"}]
        form = ChapterForm(instance=saved)
    assert 'value="A seal arrives"' in str(form["suggested_beats"])


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"suggested_beats-1-priority": ""}, "suggested_beats", "Beats, row 2: choose a priority."),
    ({"suggested_beats-0-priority": "urgent"}, "suggested_beats",
     "Beats, row 1: the priority is high, medium or low, not “urgent”."),
    ({"suggested_beats-0-beat": "The horn\x00"}, "suggested_beats", "Beats, row 1: Text contains a control character"),
    ({"suggested_beats-1-beat": "x" * 501}, "suggested_beats", "Beats, row 2: at most 500 characters, not 501."),
    ({"required_previous_chapters": ["7"]}, "required_previous_chapters", "Requires: chapter 7 does not exist."),
    ({"blocked_by": ["3"]}, "blocked_by", "Blocked by: chapter 3 does not exist."),
    ({"number": "2"}, "number", "Number: Chapter 2: two chapters have this number."),
])
def test_errors_name_the_field_in_words(alice, story, overrides, field, message):
    with acting_as(alice):
        form = bound(ChapterForm, alice, fields(story, **overrides))
        assert not form.is_valid()
    assert any(error.startswith(message) for error in form.errors.get(field, []))


def test_a_new_chapter_without_a_story_takes_numbers_as_text(alice, story):
    form = ChapterForm()
    assert form["critical_character_present"].value() and not form["critical_location"].value()  # DESIGN §4 default
    assert form.fields["required_previous_chapters"].widget.input_type == "text"
    assert "separated by commas" in form.fields["required_previous_chapters"].help_text
    with acting_as(alice):
        typed = bound(ChapterForm, alice, fields(story, required_previous_chapters="2, 1", blocked_by=[]))
        assert typed.is_valid(), typed.errors
    assert typed.chapter_fields()["required_previous_chapters"] == [1, 2]


def test_boxes_for_the_story_chosen_in_the_link_are_all_read(author, alice, story):
    for query in (f"?story={story.pk}", f"?_changelist_filters=story__id__exact%3D{story.pk}"):  # or from its list
        page = author.get(reverse("admin:chapters_storychapter_add") + query).content.decode()
        assert 'type="checkbox" name="required_previous_chapters" value="2"' in page and "2. The Bridge" in page
        assert 'name="number" value="3"' in page  # the next free number
    response = author.post(reverse("admin:chapters_storychapter_add") + f"?story={story.pk}", fields(story))
    assert response.status_code == 302, response.content.decode()[:3000]
    with acting_as(alice):
        tower = StoryChapter.objects.get(story=story, number=3)
    assert tower.required_previous_chapters == [1] and tower.blocked_by == [2]


def test_the_text_mode_round_trips_a_chapter(alice, story):
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=2)
        form = ChapterTextForm(instance=chapter)
        text = form["chapter_text"].value()
        assert text.startswith("‹chapter-2› The Bridge\nrequires: 1\n")
        again = bound(ChapterTextForm, alice, {"story": str(story.pk), "chapter_text": text}, instance=chapter)
        assert again.is_valid(), again.errors
        assert again.changed_chapter_fields() == {}


@pytest.mark.parametrize(("text", "message"), [
    ("‹chapter-3› The Tower\nmood: grim\n", "Chapter text, line 2: unknown key 'mood'"),
    ("‹chapter-3› The Tower\nrequires: 9\n", "Chapter text: Chapter 3: names chapter 9, which does not exist."),
    ("‹chapter-3› A\n\n‹chapter-4› B\n", "Chapter text: write one chapter here"),
])
def test_text_mode_errors_name_the_line_or_the_field(alice, story, text, message):
    with acting_as(alice):
        form = bound(ChapterTextForm, alice, {"story": str(story.pk), "chapter_text": text})
        assert not form.is_valid()
    assert any(message in error for error in form.errors.get("chapter_text", []) + form.non_field_errors())


def test_an_author_saves_the_fields_as_json(author, alice, story):
    # A new chapter's story is not known until saved: prerequisites are typed as numbers.
    response = author.post(reverse("admin:chapters_storychapter_add"),
                           fields(story, required_previous_chapters="1", blocked_by="2"))
    assert response.status_code == 302, response.content.decode()[:3000]
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=3)
    assert {key: getattr(chapter, key) for key in EXPECTED} == EXPECTED
    page = author.get(reverse("admin:chapters_storychapter_change", args=[chapter.pk])).content.decode()
    assert 'name="suggested_beats-0-beat"' in page and "2. The Bridge" in page and "Edit as text" in page
    assert "trigger_conditions" not in page  # no JSON field left to type into


def test_an_admin_post_with_errors_shows_them_in_words(author, alice, story):
    response = author.post(reverse("admin:chapters_storychapter_add"),
                           fields(story, **{"suggested_beats-1-priority": "", "required_previous_chapters": "7"}))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Beats, row 2: choose a priority." in page and "Requires: chapter 7 does not exist." in page
    with acting_as(alice):
        assert not StoryChapter.objects.filter(story=story, number=3).exists()


def test_an_author_edits_the_whole_chapter_as_text(author, alice, story):
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=2)
    url = reverse("admin:chapters_storychapter_change", args=[chapter.pk]) + "?as=text"
    page = author.get(url).content.decode()
    assert "‹chapter-2› The Bridge" in page and "Edit with fields" in page
    text = "‹chapter-2› The Bridge at Dawn\nrequires: 1\nbeats:\n- [high] The guards change shift\n\nCross at dawn.\n"
    response = author.post(url, {"story": str(story.pk), "chapter_text": text})
    assert response.status_code == 302, response.content.decode()[:3000]
    with acting_as(alice):
        chapter.refresh_from_db()
        assert chapter.title == "The Bridge at Dawn" and chapter.versions.count() == 2
        assert [beat["priority"] for beat in chapter.suggested_beats] == ["high"]
    refused = author.post(url, {"story": str(story.pk), "chapter_text": text.replace("requires: 1", "mood: grim")})
    assert "Chapter text, line 2: unknown key" in refused.content.decode()


def test_a_new_chapter_written_as_text(author, alice, story):
    url = reverse("admin:chapters_storychapter_add") + "?as=text"
    response = author.post(url, {"story": str(story.pk),
                                 "chapter_text": "‹chapter-3› The Tower\nrequires: 2\nmin_turn: 3\n\nClimb.\n"})
    assert response.status_code == 302, response.content.decode()[:3000]
    with acting_as(alice):
        tower = StoryChapter.objects.get(story=story, number=3)
    assert tower.required_previous_chapters == [2] and tower.trigger_conditions == {"min_turn": 3}


def test_more_beats_than_a_chapter_holds_are_refused_by_the_service_in_words(alice, story):
    rows = {key: value for row in range(21)
            for key, value in ((f"suggested_beats-{row}-beat", f"Beat {row}"), (f"suggested_beats-{row}-priority", "low"))}
    with acting_as(alice):
        form = bound(ChapterForm, alice, fields(story, **rows))
        assert not form.is_valid()
    assert form.errors["suggested_beats"] == ["Beats: Chapter 3: A chapter has at most 20 beats, not 21."]
