import pytest

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db


def test_schema_is_openapi_3_and_lists_the_routes(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for route in ("/api/auth/register/", "/api/auth/token/", "/api/auth/token/refresh/", "/api/me/",
                  "/api/me/export/", "/api/stories/", "/api/stories/{story_id}/"):
        assert route in schema["paths"], route


def test_docs_page_is_served_without_a_cdn(client):
    page = client.get("/api/docs/").content.decode()
    assert "swagger" in page.lower() and "cdn" not in page.lower()


def test_lists_are_paginated_with_next_links(api_as, alice):
    alice.max_stories = 30
    alice.save()
    for n in range(25):
        StoryFactory(user=alice, title=f"tale {n}")
    first = api_as(alice).get("/api/stories/").json()
    assert first["count"] == 25 and len(first["results"]) == 20 and first["next"]
    second = api_as(alice).get(first["next"]).json()
    assert len(second["results"]) == 5 and second["next"] is None


def test_unknown_api_route_is_json_404(client):
    response = client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_bad_story_input_is_400_with_field_errors(api_as, alice):
    response = api_as(alice).post("/api/stories/", {"title": ""}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"]["title"]


def test_a_format_parameter_does_not_pick_a_renderer(api_as, alice):
    response = api_as(alice).get("/api/me/?format=xml")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
