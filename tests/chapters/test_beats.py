"""Beats in the seed's shape, {"beat", "priority"}: accepted and returned by the API, `description` read as an
alias, priorities checked everywhere (API, services, the chapter text format), and what was stored before in
the old shape migrated both ways."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.rls import acting_as
from chapters import chapter_markup, services
from chapters.beats import BeatError, beats_from_model, beats_validate, high_beats
from chapters.migrations._beats_v1 import rename_beats
from chapters.models import StoryChapter

from ..factories import StoryFactory

SEED_BEATS = [{"beat": "Confront the king", "priority": "high"}, {"beat": "The court whispers", "priority": "low"}]


class TestValidate:
    def test_the_seed_shape_is_kept(self):
        assert beats_validate(SEED_BEATS) == SEED_BEATS

    def test_description_is_read_as_the_beat_and_medium_is_the_default(self):
        assert beats_validate([{"description": "Confront the king"}]) == [
            {"beat": "Confront the king", "priority": "medium"}]

    @pytest.mark.parametrize(("beats", "words"), [
        ([{"beat": "Confront the king", "priority": "urgent"}], "Beat 1 has priority 'urgent'"),
        ([{"beat": "ok"}, {"beat": "  "}], "Beat 2 needs its text"),
        ([{"beat": "ok", "weight": 3}], "Beat 1 has an unknown key 'weight'"),
        (["Confront the king"], "Beat 1 is not an object"),
        ({"beat": "x"}, "Beats are a list"),
        ([{"beat": "x" * 501}], "longer than 500"),
    ])
    def test_a_bad_beat_is_refused_naming_its_row(self, beats, words):
        with pytest.raises(BeatError, match=words):
            beats_validate(beats)

    def test_a_models_beats_are_read_leniently(self):
        assert beats_from_model([{"description": "A gull lands", "priority": "Critical"}, 42, {"beat": ""}]) == [
            {"beat": "A gull lands", "priority": "medium"}]

    def test_high_beats_complete_a_chapter_or_every_beat_when_none_is_high(self):
        assert high_beats(SEED_BEATS) == ["Confront the king"]
        assert high_beats([{"beat": "a", "priority": "low"}, {"beat": "b", "priority": "medium"}]) == ["a", "b"]


@pytest.mark.django_db
class TestApi:
    @pytest.fixture
    def story(self, alice):
        return StoryFactory(user=alice)

    def test_the_seeds_example_is_accepted_and_returned(self, api_as, alice, story):
        api = api_as(alice)
        response = api.post(f"/api/stories/{story.pk}/chapters/", {
            "number": 1, "title": "The Throne Room", "suggested_beats": [{"beat": "Confront the king",
                                                                          "priority": "high"}]},
            content_type="application/json")
        assert response.status_code == 201, response.content
        assert response.json()["suggested_beats"] == [{"beat": "Confront the king", "priority": "high"}]
        versions = api.get(f"/api/stories/{story.pk}/chapters/1/versions/").json()
        rows = versions["results"] if isinstance(versions, dict) else versions
        assert rows[0]["suggested_beats"] == [{"beat": "Confront the king", "priority": "high"}]

    def test_description_is_accepted_as_an_alias_and_stored_as_beat(self, api_as, alice, story):
        response = api_as(alice).post(f"/api/stories/{story.pk}/chapters/", {
            "number": 1, "title": "The Throne Room", "suggested_beats": [{"description": "Confront the king"}]},
            content_type="application/json")
        assert response.status_code == 201, response.content
        with acting_as(alice):
            assert StoryChapter.objects.get(story=story).suggested_beats == [
                {"beat": "Confront the king", "priority": "medium"}]

    @pytest.mark.parametrize("beat", [{"beat": "Confront the king", "priority": "urgent"}, {"priority": "high"}])
    def test_a_bad_priority_or_no_text_is_a_400_naming_the_field(self, api_as, alice, story, beat):
        response = api_as(alice).post(f"/api/stories/{story.pk}/chapters/", {
            "number": 1, "title": "The Throne Room", "suggested_beats": [beat]}, content_type="application/json")
        assert response.status_code == 400
        assert "0" in response.json()["errors"]["suggested_beats"]

    def test_the_services_refuse_a_bad_priority_whoever_calls_them(self, alice, story):
        with acting_as(alice), pytest.raises(ValidationError, match="priority 'urgent'"):
            services.chapter_create(story_id=story.pk, user_id=alice.pk, number=1, title="T",
                                    suggested_beats=[{"beat": "x", "priority": "urgent"}])


class TestChapterText:
    def test_beats_parse_to_the_seed_shape_and_write_back(self):
        chapters = chapter_markup.parse("‹chapter-1› The Throne\nbeats:\n- [high] Confront the king\n- The court\n")
        assert chapters[0]["suggested_beats"] == [{"beat": "Confront the king", "priority": "high"},
                                                  {"beat": "The court", "priority": "medium"}]
        assert "- [high] Confront the king" in chapter_markup.write(chapters)

    def test_an_unknown_priority_is_an_error_naming_the_line(self):
        with pytest.raises(chapter_markup.ChapterTextError, match="line 3.*urgent|urgent.*line 3"):
            chapter_markup.parse("‹chapter-1› The Throne\nbeats:\n- [urgent] Confront the king\n")


@pytest.mark.django_db
def test_beats_stored_in_the_old_shape_are_migrated_and_back(alice):
    story = StoryFactory(user=alice)
    with acting_as(alice):
        chapter = services.chapter_create(story_id=story.pk, user_id=alice.pk, number=1, title="T",
                                          suggested_beats=SEED_BEATS)
    places = [("chapters_storychapter", "suggested_beats", (), "")]
    editor = SimpleNamespace(connection=connection)
    rename_beats(editor, places, "beat", "description")
    with acting_as(alice):
        assert StoryChapter.objects.get(pk=chapter.pk).suggested_beats == [
            {"description": "Confront the king", "priority": "high"},
            {"description": "The court whispers", "priority": "low"}]
    rename_beats(editor, places, "description", "beat")
    with acting_as(alice):
        assert StoryChapter.objects.get(pk=chapter.pk).suggested_beats == SEED_BEATS
