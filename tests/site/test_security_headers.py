"""Security headers on every page and API answer, templates with no inline script or style, and
browsers that load the pages under the Content-Security-Policy without a single violation."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from luna_site.security import API_DOCS_POLICY, SITE_POLICY

from ..conftest import sign_in
from ..factories import StoryFactory, UserFactory, played_story

TEMPLATES = Path(settings.BASE_DIR) / "templates"
HEADERS = {
    "Content-Security-Policy": SITE_POLICY,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def assert_secured(response, path: str, policy: str = SITE_POLICY):
    for name, value in {**HEADERS, "Content-Security-Policy": policy}.items():
        assert response.get(name) == value, f"{path}: {name} is {response.get(name)!r}"


def test_the_site_policy_allows_no_inline_script_and_no_framing():
    directives = dict(part.split(" ", 1) for part in SITE_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in SITE_POLICY and "script-src 'self';" in API_DOCS_POLICY


def routes(patterns=None, prefix=""):
    """Every route of the URL conf as (path template, pattern name)."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.name


def filled(route: str, values: dict) -> str | None:
    """The route with every <converter:name> filled from ``values`` (None if one is unknown)."""
    if route.startswith("^") or "(?P" in route:  # the admin's regex routes (catch-all, app index)
        route = re.sub(r"\(\?P<app_label>[^)]*\)", "narrative_pipeline", route.strip("^$")).replace("\\", "")
    missing = [name for name in re.findall(r"<(?:\w+:)?(\w+)>", route) if name not in values]
    if missing:
        return None
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda match: str(values[match.group(1)]), route)


@pytest.mark.django_db
def test_every_route_answers_with_the_security_headers(client, bob, django_capture_on_commit_callbacks, settings):
    from accounts.models import User
    from accounts.rls import acting_as
    from marketplace.models import ForkRecord, Listing, SyncConflict

    settings.ARC_INTERVAL_TURNS = 1
    with django_capture_on_commit_callbacks(execute=True):
        story = played_story(bob, title="Bob's tale", turns=2)
    User.objects.filter(pk=bob.pk).update(is_staff=True, is_superuser=True)
    with acting_as(bob):
        fork = ForkRecord.objects.order_by("created_at").first()
        listing, conflict = Listing.objects.first(), SyncConflict.objects.first()
    values = {"story_id": story.pk, "number": 1, "listing_id": listing.pk,
              "fork_id": fork.pk, "conflict_id": conflict.pk, "lore_format": "sillytavern",
              "token": "not-a-token", "uidb64": "x", "suggestion_id": 1, "decision": "accept",
              "object_id": story.pk, "content_type_id": 1, "path": "x", "url": "x"}
    answered, ok = set(), 0
    for signed_in in (False, True):
        if signed_in:
            client.force_login(User.objects.get(pk=bob.pk))
        for route, name in routes():
            path = filled(route, values)
            if path is None or (signed_in and name == "logout"):
                continue
            response = client.get(path)
            assert_secured(response, path, API_DOCS_POLICY if name == "api-docs" else SITE_POLICY)
            answered.add(route)
            ok += response.status_code == 200
    assert len(answered) > 80 and ok > 60, (len(answered), ok)


@pytest.mark.django_db
def test_api_errors_and_throttled_answers_carry_the_headers_too(client, api_as, alice, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "registration": "1/hour"}
    assert_secured(client.get("/api/me/"), "/api/me/")
    assert_secured(client.get("/no-such-page/"), "/no-such-page/")
    for _ in range(2):
        answer = client.post("/api/auth/register/", {}, content_type="application/json")
    assert answer.status_code == 429
    assert_secured(answer, "/api/auth/register/")


def test_the_api_docs_script_is_a_file_not_inline(client):
    page = client.get("/api/docs/").content.decode()
    assert "<script>" not in page and 'src="/api/docs/?script="' in page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")


class InlineCode(HTMLParser):
    """Collects inline scripts, event handler attributes, style attributes and <style> blocks."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script":
            self._in_script = "src" not in names
        if tag == "style":
            self.found.append("a <style> block")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"an {name}= handler on <{tag}>")
            if name == "style":
                self.found.append(f"a style attribute on <{tag}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"a javascript: URL on <{tag}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append("an inline <script>")


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_no_template_holds_inline_script_or_style(template):
    text = re.sub(r"{#.*?#}|{%.*?%}|{{.*?}}", "", template.read_text(), flags=re.S)  # the HTML around the tags
    parser = InlineCode()
    parser.feed(text)
    assert parser.found == [], f"{template.relative_to(TEMPLATES)}: {parser.found}"


def test_the_template_check_finds_what_it_looks_for():
    parser = InlineCode()
    parser.feed('<script>alert(1)</script><a href="javascript:x" onclick="y" style="z">a</a><style>p{}</style>'
                '<script src="/static/ok.js"></script>')
    assert len(parser.found) == 5


# -- In a browser: the pages work under the policy -------------------------------------------------


@pytest.fixture
def violations(page_at):
    """A page that records every Content-Security-Policy violation (page_at also fails on console errors)."""
    page = page_at(1280)
    found: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and found.append(message.text))
    page.add_init_script("document.addEventListener('securitypolicyviolation', event => "
                         "console.error('Content Security Policy violation: ' + event.violatedDirective))")
    return page, found


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_story_page_plays_a_turn_with_no_policy_violation(violations):
    from playwright.sync_api import expect

    page, found = violations
    user = UserFactory()
    story = StoryFactory(user=user, title="The Quiet Harbour")
    sign_in(page, user)
    with page.expect_response(lambda answer: f"/stories/{story.pk}/" in answer.url) as loaded:
        page.goto(f"/stories/{story.pk}/")
    assert loaded.value.headers["content-security-policy"] == SITE_POLICY
    expect(page.locator("#marketplace-panel")).not_to_be_empty()  # loaded by htmx
    page.locator("#action-form textarea").fill("I look out over the harbour.")
    page.locator("#action-form").get_by_role("button", name="Play").click()  # the turn is put in place
    expect(page.locator("article.turn").last).to_contain_text("I look out over the harbour.")
    expect(page.locator("#turns[aria-busy]")).to_have_count(0)
    page.goto(f"/stories/{story.pk}/costs/")
    expect(page.locator("canvas").first).to_be_visible()
    page.goto("/marketplace/")
    assert found == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_admin_and_the_api_docs_work_with_no_policy_violation(violations, settings):
    from playwright.sync_api import expect

    from accounts.models import User
    from accounts.services import user_become_author

    page, found = violations
    user = UserFactory()
    user_become_author(user=user)
    story = played_story(user, title="The Quiet Harbour", turns=1)
    sign_in(page, user)
    for path in ("/admin/", f"/admin/narrative_pipeline/story/{story.pk}/change/", "/admin/chapters/storychapter/",
                 "/admin/chapters/storychapter/add/", "/admin/chapters/storychapter/analytics/",
                 f"/admin/narrative_pipeline/story/{story.pk}/test-play/"):
        page.goto(path)
        expect(page.locator("#content")).to_be_visible()
    page.get_by_label("Turns").fill("2")
    page.get_by_role("button", name=re.compile("Test-play|Run|Play")).click()
    expect(page.locator("#divergence-chart")).to_be_visible()
    User.objects.filter(pk=user.pk).update(is_superuser=True)
    page.goto("/admin/accounts/user/")
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("LUNA-Narrates API")
    assert found == []
