"""Input that reached the database as a 500: NUL bytes and control characters, JSON nested past the
interpreter's recursion, bodies past the size limit. Each is a 400 (or 413) with a clear message."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.rls import acting_as
from chapters import json_limits
from chapters.models import LoreEntry

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(api_as, alice):
    return api_as(alice)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "escape\x1b[31m", "del\x7f"])
def test_control_characters_in_a_text_field_are_400(api, text):
    response = api.post("/api/stories/", {"title": text, "premise": "p"}, content_type="application/json")
    assert response.status_code == 400
    assert "control character" in response.json()["detail"] and "title" in response.json()["detail"]


def test_a_nul_inside_a_json_object_field_is_400_not_500(api, alice):
    story = StoryFactory(user=alice)
    response = api.patch(f"/api/stories/{story.pk}/", {"state": {"location": "the\x00harbour"}},
                         content_type="application/json")
    assert response.status_code == 400 and "state.location" in response.json()["detail"]
    response = api.patch(f"/api/stories/{story.pk}/", {"state": {"tracked": {"k\x00": 1}}},
                         content_type="application/json")
    assert response.status_code == 400


def test_tabs_and_newlines_are_text(api):
    response = api.post("/api/stories/", {"title": "Two\tparts", "premise": "Line one\r\nline two"},
                        content_type="application/json")
    assert response.status_code == 201


def test_a_nul_in_a_query_parameter_or_the_path_is_400(api, client):
    response = api.get("/api/marketplace/stories/?q=sea%00")
    assert response.status_code == 400 and "control character" in response.json()["detail"]
    assert client.get("/marketplace/?q=sea%00").status_code == 400  # the pages too
    assert api.get("/api/stories/x/lore/export/a%00b/").status_code in (400, 404)


@pytest.mark.parametrize("depth", [65, 5_000, 200_000])
def test_json_nested_too_deep_is_400(api, depth):
    response = api.post("/api/stories/", f'{{"title": "t", "state": {nested(depth)}}}',
                        content_type="application/json")
    assert response.status_code == 400 and "deeper than 64" in response.json()["detail"]


def test_nan_is_not_json(api):
    response = api.post("/api/stories/", '{"title": "t", "state": {"x": NaN}}', content_type="application/json")
    assert response.status_code == 400 and "NaN" in response.json()["detail"]


def test_a_body_over_the_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = api.post("/api/stories/", json.dumps({"title": "t", "premise": "x" * 2_000}),
                        content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    form = api.post("/api/stories/", f"title=t&premise={'x' * 2_000}",
                    content_type="application/x-www-form-urlencoded")
    assert form.status_code == 413 and form.json()["code"] == "too_large"


def test_control_characters_in_a_multipart_field_are_400(api, alice):
    story = StoryFactory(user=alice)
    upload = SimpleUploadedFile("lore.json", b'{"entries": {}}')
    response = api.post(f"/api/stories/{story.pk}/lore/import/", {"file": upload, "format": "a\x00"})
    assert response.status_code == 400 and "control character" in response.json()["detail"]


@pytest.mark.parametrize("body", [
    '{"entries": {"0": {"uid": 0, "key": ["a"], "content": "x", "extensions": ' + nested(100_000) + '}}}',
    '{"entries": {"0": {"uid": 0, "key": ["a"], "content": "the\\u0000end"}}}',
    '{"entries": {"0": {"uid": 0, "key": ["a"], "content": "x"}}}\x00',
    "‹chapter-1› The Summons\nlocation: harbour\x00\n\nOpen.\n",
])
def test_an_uploaded_file_too_deep_or_with_control_characters_is_refused_whole(api, alice, body):
    story = StoryFactory(user=alice)
    upload = SimpleUploadedFile("lore.json", body.encode())
    response = api.post(f"/api/stories/{story.pk}/lore/import/", {"file": upload})
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert "deeper than 64" in detail or "control character" in detail
    with acting_as(alice):
        assert not LoreEntry.objects.filter(story_id=story.pk).exists()


def test_the_bounded_loader_walks_without_recursing():
    json_limits.check_value(json.loads(nested(900)), max_depth=1_000)  # no RecursionError in the walk
    with pytest.raises(json_limits.UntrustedInputError, match="a key"):
        json_limits.loads('{"ok": {"bad\\u0001": 1}}')
