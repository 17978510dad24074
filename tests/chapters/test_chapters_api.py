"""Chapters through the API: validation naming chapter and field, preview, import/export all or nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.rls import acting_as
from chapters.models import StoryChapter

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db

CHAPTER_TEXT = """‹chapter-1› The Summons
location: harbour
beats:
- [high] A messenger brings the king's seal

Open with a summons.

‹chapter-2› The Bridge at Dawn
requires: 1
location: Old Bridge, North Gate
has_item: Signal Horn
min_turn: 5
start_early: yes
beats:
- [high] The guards change shift
threshold: 0.5
visibility: title

The guards are tired.
"""


@pytest.fixture
def story(alice):
    return StoryFactory(user=alice, state={"location": "the harbour", "inventory": ["Signal Horn"]})


@pytest.fixture
def api(api_as, alice):
    return api_as(alice)


def upload(api, story, text, **fields):
    return api.post(f"/api/stories/{story.pk}/lore/import/",
                    {"file": SimpleUploadedFile("chapters.txt", text.encode()), **fields})


def test_create_list_and_read_a_chapter(api, story):
    response = api.post(f"/api/stories/{story.pk}/chapters/", {
        "number": 1, "title": "The Summons", "trigger_conditions": {"location": "harbour"},
        "suggested_beats": [{"description": "A seal arrives", "priority": "high"}]}, content_type="application/json")
    assert response.status_code == 201, response.content
    rows = api.get(f"/api/stories/{story.pk}/chapters/").json()["results"]
    assert rows[0]["number"] == 1 and rows[0]["progress"] is None and rows[0]["version"] == 1
    assert set(rows[0]) >= {"number", "title", "trigger_conditions", "required_previous_chapters", "suggested_beats",
                            "narrative_instructions", "allow_divergence", "min_similarity_threshold", "visibility",
                            "progress"}


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"number": 1, "title": "A", "trigger_conditions": {"weather": "rain"}}, "trigger_conditions", "Unknown condition key"),
    ({"number": 1, "title": "A", "trigger_conditions": {"location": 5}}, "trigger_conditions", "location must be"),
    ({"number": 1, "title": "A", "required_previous_chapters": [9]}, "required_previous_chapters", "chapter 9"),
    ({"number": 1, "title": "A", "required_previous_chapters": [1]}, "required_previous_chapters", "itself"),
])
def test_bad_chapters_are_400_naming_chapter_and_field(api, story, body, field, message):
    response = api.post(f"/api/stories/{story.pk}/chapters/", body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()["errors"] and message in response.json()["detail"]
    assert "Chapter 1" in response.json()["detail"]


def test_a_prerequisite_cycle_is_refused(api, story):
    upload(api, story, CHAPTER_TEXT)
    response = api.patch(f"/api/stories/{story.pk}/chapters/1/", {"required_previous_chapters": [2]},
                         content_type="application/json")
    assert response.status_code == 400 and "cycle" in response.json()["detail"]


def test_duplicate_number_is_refused(api, story):
    upload(api, story, CHAPTER_TEXT)
    response = api.post(f"/api/stories/{story.pk}/chapters/", {"number": 2, "title": "Again"},
                        content_type="application/json")
    assert response.status_code == 400 and "two chapters have this number" in response.json()["detail"]


def test_import_and_export_round_trip(api, story, alice):
    response = upload(api, story, CHAPTER_TEXT)
    assert response.status_code == 201 and response.json() == {"format": "chapter_text", "chapters": [1, 2],
                                                      "lorebooks": [], "characters": [], "warnings": [],
                                                      "merged": {}, "skipped_books": [],
                                                      "merged_characters": [], "skipped_characters": [],
                                                      "renamed_characters": {}}
    exported = api.get(f"/api/stories/{story.pk}/lore/export/chapter_text/")
    assert exported.status_code == 200
    other = StoryFactory(user=alice)
    assert upload(api, other, exported.content.decode(), format="chapter_text").status_code == 201
    with acting_as(alice):
        fields = ["number", "title", "trigger_conditions", "required_previous_chapters", "suggested_beats",
                  "narrative_instructions", "min_similarity_threshold", "visibility", "start_early"]
        assert list(StoryChapter.objects.filter(story=story).values(*fields)) == list(
            StoryChapter.objects.filter(story=other).values(*fields))


def test_a_bad_line_rejects_the_whole_file(api, story, alice):
    response = upload(api, story, CHAPTER_TEXT.replace("threshold: 0.5", "threshold: lots"))
    assert response.status_code == 400 and "line 16: threshold is a number from 0 to 1" in response.json()["detail"]
    with acting_as(alice):
        assert not StoryChapter.objects.filter(story=story).exists()


def test_a_file_may_require_a_chapter_the_story_already_has(api, story):
    """‹chapter-4› requiring 3 is checked with the story's own chapters, not refused as naming a missing one."""
    assert upload(api, story, "‹chapter-3› The Gate\nlocation: gate\n\nReach the gate.\n").status_code == 201
    response = upload(api, story, "‹chapter-4› Beyond\nrequires: 3\nlocation: road\n\nGo on.\n")
    assert response.status_code == 201, response.content
    with acting_as(story.user):
        assert StoryChapter.objects.get(story=story, number=4).required_previous_chapters == [3]
    missing = upload(api, story, "‹chapter-6› Far\nrequires: 5\nlocation: sea\n\nSail.\n")
    assert missing.status_code == 400 and "names chapter 5, which does not exist" in str(missing.json())


def test_unknown_format_and_not_text(api, story):
    assert upload(api, story, CHAPTER_TEXT, format="novelai_lorebook").status_code == 400
    response = api.post(f"/api/stories/{story.pk}/lore/import/",
                        {"file": SimpleUploadedFile("x.bin", b"\xff\xfe\x00binary")})
    assert response.status_code == 400 and "neither a PNG nor UTF-8 text" in response.json()["detail"]


def test_preview_reports_availability_activation_score_and_tier(api, story):
    upload(api, story, CHAPTER_TEXT)
    body = api.post(f"/api/stories/{story.pk}/chapters/preview/", {"state": {"location": "forest", "turn": 3}},
                    content_type="application/json").json()
    first, second = body["chapters"]
    assert body["state"]["inventory"] == ["Signal Horn"] and body["turn"] == 3
    assert first["available"] and not first["activates"] and first["divergence"]["unmet"] == ["location"]
    assert first["tier"] in ("adapt", "alternate") and first["divergence"]["hard"] == pytest.approx(0.7)
    assert not second["available"]
    at_harbour = api.post(f"/api/stories/{story.pk}/chapters/preview/", {}, content_type="application/json").json()
    assert at_harbour["chapters"][0]["activates"] and at_harbour["chapters"][0]["divergence"]["hard"] == 0


def test_start_early_only_where_allowed(api, story):
    upload(api, story, CHAPTER_TEXT)
    refused = api.post(f"/api/stories/{story.pk}/chapters/1/start/")
    assert refused.status_code == 400 and "does not allow" in refused.json()["detail"]
    started = api.post(f"/api/stories/{story.pk}/chapters/2/start/")
    assert started.status_code == 200 and started.json()["progress"]["status"] == "active"


def test_versions_and_divergence_log_routes(api, story):
    upload(api, story, CHAPTER_TEXT)
    api.patch(f"/api/stories/{story.pk}/chapters/1/", {"narrative_instructions": "Open with a storm."},
              content_type="application/json")
    versions = api.get(f"/api/stories/{story.pk}/chapters/1/versions/").json()["results"]
    assert [(v["number"], v["created_by"]) for v in versions] == [(1, "import"), (2, "manual")]
    assert api.get(f"/api/stories/{story.pk}/chapters/1/divergence/").json()["results"] == []


def test_another_users_chapters_are_404(api_as, bob, story):
    other = api_as(bob)
    assert other.get(f"/api/stories/{story.pk}/chapters/").status_code == 404
    assert upload(other, story, CHAPTER_TEXT).status_code == 404
    assert other.get(f"/api/stories/{story.pk}/lore/export/chapter_text/").status_code == 404


def test_commands_import_and_export(story, alice, tmp_path, capsys):
    source = tmp_path / "chapters.txt"
    source.write_text(CHAPTER_TEXT, encoding="utf-8")
    call_command("import_lore", str(source), "--user", "alice", "--story", str(story.pk))
    assert "as chapter_text: 0 lorebook(s) with 0 entries, 0 character(s), chapters [1, 2]" in capsys.readouterr().out
    target = tmp_path / "out.txt"
    call_command("export_lore", "--user", "alice", "--story", str(story.pk), "--format", "chapter_text",
                 "--output", str(target))
    assert "‹chapter-2› The Bridge at Dawn" in target.read_text(encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_text("‹chapter-9› X\nmood: grim\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 2: unknown key 'mood'"):
        call_command("import_lore", str(bad), "--user", "alice", "--story", str(story.pk))
