"""Routes do only what they say: every route × method of the URL conf against the schema, the chapter
record routes read only, and a view-only co-author's writes refused with a 403 that says why."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.rls import acting_as
from chapters.models import StoryChapter
from narrative_pipeline.models import Character, Story, Turn
from narrative_pipeline.services import collaborator_add

from ..factories import UserFactory, played_story
from .test_fuzz_api import openapi_document

pytestmark = pytest.mark.django_db
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def api_routes() -> list[tuple[str, type]]:
    """Every /api/ route as the schema spells its path (``{story_id}``), with its view class."""
    found = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/"):
                view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
                found.append(("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), view))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_route_allows_exactly_the_methods_the_schema_documents():
    paths = openapi_document()["paths"]
    routes = [(path, view) for path, view in api_routes() if path not in ("/api/schema/", "/api/docs/")]
    assert len(routes) > 40
    for path, view in routes:
        allowed = {method for method in view().allowed_methods if method not in ("OPTIONS", "HEAD")}
        assert allowed == {method.upper() for method in paths[path]}, path


@pytest.fixture
def owner_world(db, django_capture_on_commit_callbacks, settings):
    settings.ARC_INTERVAL_TURNS = 1
    owner = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        story = played_story(owner, turns=2)
    return owner, story


def concrete(path: str, story) -> str:
    from marketplace.models import ForkRecord, Listing

    with acting_as(story.user_id):
        listing = Listing.objects.filter(author_id=story.user_id).first()
        fork = ForkRecord.objects.filter(user_id=story.user_id).first()
    return (path.replace("{story_id}", str(story.pk)).replace("{number}", "1").replace("{listing_id}", str(listing.pk))
            .replace("{fork_id}", str(fork.pk)).replace("{conflict_id}", "1").replace("{entry_id}", "1").replace("{knowledge_id}", "1").replace("{replay_id}", "1").replace("{lore_format}", "sillytavern"))


def test_every_route_answers_options_and_refuses_undocumented_methods_with_405(owner_world, api_as):
    owner, story = owner_world
    api, paths = api_as(owner), openapi_document()["paths"]
    for path, _view in api_routes():
        if path in ("/api/schema/", "/api/docs/"):
            continue
        url, documented = concrete(path, story), {method.upper() for method in paths[path]}
        options = api.options(url)
        assert options.status_code == 200, (path, options.content)
        assert set(options["Allow"].split(", ")) - {"OPTIONS", "HEAD"} == documented, path
        for method in set(WRITES) - documented:
            refused = api.generic(method, url, "{}", content_type="application/json")
            assert refused.status_code == 405, (method, path, refused.status_code)
            assert refused.json()["code"] == "method_not_allowed"


def test_chapter_versions_and_divergence_are_read_only(owner_world, api_as):
    owner, story = owner_world
    api = api_as(owner)
    for records in ("versions", "divergence"):
        url = f"/api/stories/{story.pk}/chapters/1/{records}/"
        assert api.get(url).status_code == 200
        assert api.delete(url).status_code == 405
        assert api.patch(url, {"title": "Renamed"}, content_type="application/json").status_code == 405
    assert api.delete(f"/api/stories/{story.pk}/chapters/1/start/").status_code == 405
    with acting_as(owner):
        assert StoryChapter.objects.get(story=story, number=1).title == "The Lighthouse"


@pytest.fixture
def viewer(owner_world):
    owner, story = owner_world
    reader = UserFactory()
    collaborator_add(owner=owner, story=story, username=reader.username, role="view")
    return reader


def test_a_view_only_coauthor_reads_the_chapters(owner_world, viewer, api_as):
    _, story = owner_world
    api = api_as(viewer)
    assert api.get(f"/api/stories/{story.pk}/chapters/").json()["count"] == 1
    assert api.get(f"/api/stories/{story.pk}/chapters/1/").json()["title"] == "The Lighthouse"


def test_a_view_only_coauthors_writes_are_403_with_a_message_and_change_nothing(owner_world, viewer, api_as):
    owner, story = owner_world
    api, base = api_as(viewer), f"/api/stories/{story.pk}"
    writes = [
        ("post", f"{base}/chapters/", {"number": 2, "title": "Theirs"}),
        ("patch", f"{base}/chapters/1/", {"title": "Theirs"}),
        ("delete", f"{base}/chapters/1/", None),
        ("post", f"{base}/chapters/1/start/", None),
        ("post", f"{base}/characters/", {"name": "Intruder"}),
        ("post", f"{base}/turns/", {"action": "I take the ship.", "idempotency_key": "viewer-1"}),
        ("patch", f"{base}/turns/1/", {"prose": "Rewritten."}),
        ("post", f"{base}/turns/2/reroll/", None),
        ("post", f"{base}/turns/2/edit/", {"action": "Something else."}),
        ("delete", f"{base}/turns/last/", None),
        ("patch", f"{base}/", {"title": "Taken"}),
        ("delete", f"{base}/", None),
        ("post", f"{base}/branch/", {"at_turn": 1}),
        ("post", f"/api/marketplace/stories/{story.pk}/publish/", {}),
    ]
    for method, url, body in writes:
        response = getattr(api, method)(url, body or {}, content_type="application/json")
        assert response.status_code == 403, (method, url, response.status_code, response.content)
        assert response.json() == {"code": "read_only", "detail": "You may read this story but not change it."}
    with acting_as(owner):
        assert Story.objects.get(pk=story.pk).title == story.title
        assert list(StoryChapter.objects.filter(story=story).values_list("title", flat=True)) == ["The Lighthouse"]
        assert Turn.objects.filter(story=story).count() == 2
        assert not Character.objects.filter(story=story, name="Intruder").exists()


def test_an_editing_coauthor_still_changes_chapters(owner_world, api_as):
    owner, story = owner_world
    editor = UserFactory()
    collaborator_add(owner=owner, story=story, username=editor.username, role="edit")
    response = api_as(editor).patch(f"/api/stories/{story.pk}/chapters/1/", {"title": "Ours"},
                                    content_type="application/json")
    assert response.status_code == 200 and response.json()["title"] == "Ours"
