import contextlib
import os
import time
import uuid

import pytest

from luna_site import embedded
from luna_site.celery import app as celery_app
from luna_site.celery import deployment_queues

from .factories import TEST_PASSWORD, StoryFactory, UserFactory, played_story

# Its own queue, so a `make run` worker on the same Redis never takes a test's task, and two test
# runs on one machine (each with its own TEST_DATABASE_NAME) never take each other's.
TEST_QUEUE = f"luna-tests-{os.environ.get('TEST_DATABASE_NAME', 'test_luna')}"


def pytest_configure(config):
    # The suite starts the embedded servers itself (settings never do), before any test touches them.
    embedded.start_services()
    # Tasks run inline unless a test asks for the session's real worker (the `celery_worker` fixture).
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_default_queue = TEST_QUEUE


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A fresh key space in the real Redis cache per test: throttles start at zero, and
    # nothing of a developer's running app is flushed.
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}


@pytest.fixture
def password():
    return TEST_PASSWORD


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def alice_story(alice):
    return StoryFactory(user=alice, title="Alice's secret story")


@pytest.fixture
def bob_story(bob, settings, django_capture_on_commit_callbacks):
    """Bob's story with a row in every table of the storytelling engine (an arc every turn), and
    a branch of it with an edited turn."""
    settings.ARC_INTERVAL_TURNS = 1
    with django_capture_on_commit_callbacks(execute=True):
        return played_story(bob, title="Bob's secret story", turns=2)


@pytest.fixture
def as_alice(client, alice):
    """The test client, signed in as alice (the pages)."""
    client.force_login(alice)
    return client


def token_for(client, user) -> str:
    response = client.post("/api/auth/token/", {"username": user.username, "password": TEST_PASSWORD},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["access"]


@pytest.fixture
def api_as(client):
    """A test client that sends the given user's JWT with every request."""

    def make(user):
        from django.test import Client

        token = token_for(client, user)
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    return make


@pytest.fixture(scope="session")
def _session_worker(django_db_setup, django_db_blocker):
    """One real Celery worker on the real Redis broker for the whole session (DESIGN §6)."""
    from celery.contrib.testing.worker import start_worker

    with celery_app.connection_for_write() as conn:
        for queue in deployment_queues():
            conn.default_channel.queue_purge(queue)
    # It takes every queue of the test's deployment (the Dreamer's, healing, syncs, e-mail).
    with django_db_blocker.unblock(), start_worker(celery_app, pool="threads", concurrency=2, queues=deployment_queues(),
                                                   perform_ping_check=False, loglevel="WARNING") as worker:
        yield worker


@pytest.fixture
def celery_worker(_session_worker):
    """Tasks go to the session's worker during this test (use with transactional_db), and the
    test ends only once the worker is idle, so no task outlives the rows it works on."""
    from celery.result import allow_join_result

    celery_app.conf.task_always_eager = False
    # Celery keeps "result.get() would block" in one flag for the whole process, set around each eager task and
    # put back after: eager tasks overlapping in threads (the concurrent-turn tests) can leave it set, and then
    # result.get() refuses to wait in a test, which is not a task.
    with allow_join_result():
        yield _session_worker
    celery_app.conf.task_always_eager = True
    wait_for_idle_worker()


def wait_for_idle_worker(timeout: float = 60.0) -> None:
    """Until the session's worker has no task queued, reserved or running."""
    from celery.worker import state

    deadline = time.monotonic() + timeout
    with celery_app.connection_for_read() as conn:
        while (any(conn.default_channel.client.llen(queue) for queue in deployment_queues()) or state.active_requests
               or state.reserved_requests) and time.monotonic() < deadline:
            time.sleep(0.05)


def as_app_role(cursor, user_id) -> None:
    """Raw SQL: act as the app role for one user inside the current transaction."""
    cursor.execute("SET LOCAL ROLE luna_app")
    cursor.execute("SELECT set_config('app.current_user_id', %s, true)", [str(user_id) if user_id else ""])


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """One headless Debian chromium for the whole session, driven by Playwright."""
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls in the same
    # tests are still synchronous (DESIGN §6).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def embedding_model():
    """The session's one embedding model, loaded before a test waits on a page that needs it."""
    from core import embeddings

    return embeddings.model()


@pytest.fixture
def page_at(browser, live_server, embedding_model):
    """A new page of the given width against the live server, failing the test on console errors."""
    contexts, errors = [], []

    from playwright.sync_api import Error as PlaywrightError

    def make(width=1280, height=900):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_server.url)
        contexts.append(context)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        # A request still being served (an htmx fragment, an image) would hold locks while the test's
        # database is flushed: a deadlock at teardown. Wait until the pages are quiet.
        for page in context.pages:
            with contextlib.suppress(PlaywrightError):
                page.wait_for_load_state("networkidle", timeout=5_000)
        context.close()
    assert errors == []


@pytest.fixture
def openai_server(settings):
    """A fake OpenAI-compatible server that the Strategist and the Writer use (the Dreamer stays offline)."""
    from . import fake_openai

    with fake_openai.FakeOpenAI() as server:
        settings.LLM_BASE_URL, settings.LLM_MAX_RETRIES, settings.LLM_RETRY_BACKOFF_SECONDS = server.base_url, 0, 0
        settings.LLM_AGENTS = {**settings.LLM_AGENTS, "strategist": {"provider": "openai", "model": "fake-model"},
                               "writer": {"provider": "openai", "model": "fake-model"}}
        yield server


def screenshot(page, name: str, width: int, *, full_page: bool = True) -> None:
    """Pages as the tests saw them, into $LUNA_SCREENSHOTS (`make screenshots` sets docs/screenshots);
    ``full_page=False``: only what the screen shows (a phone's story page, with its pinned action box)."""
    import os
    from pathlib import Path

    folder = os.environ.get("LUNA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}-{'phone' if width < 600 else 'desktop'}.png"), full_page=full_page)


def wait_for_chart(page, element_id: str) -> None:
    """Until Chart.js has drawn the chart in ``element_id``. Not ``page.wait_for_function``: Playwright
    evaluates its predicate with ``eval``, which the pages' Content-Security-Policy forbids."""
    page.evaluate("""id => new Promise(done => {
        const drawn = () => window.Chart && Chart.getChart(document.getElementById(id))
            ? done(true) : requestAnimationFrame(drawn);
        drawn();
    })""", element_id)


def sign_in(page, user) -> None:
    """Log in through the site's own form, as a player would."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/stories/")


def admin_sign_in(page, user) -> None:
    """Log in to the Django admin, as an author does."""
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def fits(page, width: int) -> None:
    """Nothing scrolls sideways at this width."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """axe-core's violations of the given impacts on the page as it is now, one line each.

    axe is evaluated over the DevTools protocol, which the page's Content-Security-Policy does not apply to,
    so the page is checked exactly as served."""
    from pathlib import Path

    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate((Path(__file__).parent / "vendor" / "axe.min.js").read_text())
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                          ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))")
    return [f"{page.url}: {v['id']} ({v['impact']}) at {', '.join(v['nodes'][:3])}"
            for v in found if v["impact"] in impacts]
