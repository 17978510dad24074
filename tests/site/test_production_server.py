"""bin/serve, the production way (gunicorn with threads, a Celery worker, DEBUG off, collected static files),
started as a real process on a free loopback port against the test database: it serves a page, a static
file by its hashed name with far-future cache headers, and a turn whose events arrive while it is written."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil
import pytest
from django.conf import settings

from accounts.models import OutboxTask
from accounts.rls import acting_as
from accounts.tokens import EpochAccessToken
from core import task_queue
from narrative_pipeline.models import TurnSummary
from narrative_pipeline.services import turn_opening
from narrative_pipeline.tasks import dream_turn

from .. import fake_openai as fake
from ..conftest import TEST_QUEUE
from ..factories import StoryFactory, UserFactory
from .test_deploy_check import production_environment

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 180  # collectstatic, then the embedding model loaded by the web and worker processes


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def served_environment(*, port: int, static_root: Path, llm_base_url: str) -> dict[str, str]:
    """Production settings (not the checkout's) on the test database, with this process's signing keys so the
    test can hand the server a token; the Strategist and the Writer on the fake model server."""
    database = settings.DATABASES["default"]
    return production_environment(**{
        "DATABASE_URL": f"postgresql://{database['USER']}@{quote(database['HOST'], safe='')}/{database['NAME']}",
        "CELERY_QUEUE": f"{TEST_QUEUE}-served",  # its worker takes only the served app's tasks
        "PORT": str(port), "STATIC_ROOT": str(static_root),
        "EMBEDDING_BIND": f"127.0.0.1:{free_loopback_port()}",  # its own embedding service, never another run's
        "PROMETHEUS_MULTIPROC_DIR": str(static_root.parent / "metrics"),  # not left in the shared data folder
        "WEB_WORKERS": "1", "WEB_THREADS": "4", "CELERY_CONCURRENCY": "1",
        "LLM_BASE_URL": llm_base_url, "LLM_MAX_RETRIES": "0",
        "LLM_STRATEGIST_PROVIDER": "openai", "LLM_STRATEGIST_MODEL": "fake-model",
        "LLM_WRITER_PROVIDER": "openai", "LLM_WRITER_MODEL": "fake-model",
        "OUTBOX_DRAIN_SECONDS": "1", "OUTBOX_GRACE_SECONDS": "0",  # beat drains the outbox at once
    })


def wait_until_ready(server: subprocess.Popen, client: httpx.Client, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, f"bin/serve exited with {server.returncode}:\n{log.read_text()[-3000:]}"
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.2)
    pytest.fail(f"bin/serve not ready within {START_TIMEOUT_SECONDS} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def model_server():
    with fake.FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def served(django_db_setup, model_server, tmp_path_factory) -> Iterator[httpx.Client]:
    """A client of bin/serve, running for this module's tests."""
    folder = tmp_path_factory.mktemp("served")
    port = free_loopback_port()
    log = folder / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            ["bin/serve"], cwd=REPO, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            env=served_environment(port=port, static_root=folder / "static", llm_base_url=model_server.base_url))
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    client.bin_serve = psutil.Process(server.pid)
    try:
        wait_until_ready(server, client, log)
        yield client
    finally:
        client.close()
        os.killpg(server.pid, signal.SIGTERM)  # its own session: bin/serve, gunicorn and the worker
        server.wait(timeout=60)


def test_a_page_names_its_static_files_by_their_hashed_names(served):
    response = served.get("/accounts/login/")
    assert response.status_code == 200 and "Log in" in response.text
    assert 'href="/static/css/luna.css"' not in response.text
    assert "/static/css/luna." in response.text and response.headers["server"] == "gunicorn"


def test_a_hashed_static_file_is_cached_for_a_year_and_compressed(served):
    page = served.get("/accounts/login/").text
    hashed = page.split('href="/static/css/luna.', 1)[1].split('"', 1)[0]
    response = served.get(f"/static/css/luna.{hashed}", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
    cache = response.headers["cache-control"]
    assert "immutable" in cache and int(cache.split("max-age=")[1].split(",")[0]) >= 365 * 24 * 3600
    assert response.headers["content-encoding"] == "gzip"


def test_the_probes_answer_through_the_production_server(served):
    assert served.get("/healthz").text == "ok"
    assert served.get("/readyz").json() == {"ready": True, "failed": {}}


DREAMT = 'luna_celery_task_runs_total{outcome="success",task="narrative_pipeline.tasks.dream_turn"}'


def metric_value(body: str, sample: str) -> float:
    """A sample's value in a Prometheus text scrape; 0 while it has not been written."""
    line = next((line for line in body.splitlines() if line.startswith(sample + " ")), None)
    return float(line.split()[-1]) if line else 0.0


def dreamt(served) -> float:
    return metric_value(served.get("/metrics").text, DREAMT)


def wait_until_dreamt(served, before: float) -> str:
    """Until the served worker has run one more Dreamer task than ``before``: a task left running meets the
    next test's flush (a deadlock); returns the scrape that showed it."""
    deadline = time.monotonic() + 60
    while metric_value(body := served.get("/metrics").text, DREAMT) <= before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert metric_value(body, DREAMT) > before
    return body


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])


def test_a_streamed_turn_arrives_piece_by_piece_before_it_ends(served, model_server):
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    writer_released = threading.Event()
    before = dreamt(served)
    model_server.script(fake.ok('{"beats": [{"description": "Bells"}]}'),
                        fake.stream(["The bell ", "rings ", "twice."], release=writer_released))
    token = str(EpochAccessToken.for_user(user))
    # Were the stream buffered, its first event would come only once the Writer is released, which this test
    # does only after reading it: the read would time out (10 s, while the held Writer waits up to 60 s).
    with served.stream("POST", f"/api/stories/{story.pk}/turns/stream/", headers={"Authorization": f"Bearer {token}"},
                       json={"action": "I ring the bell.", "idempotency_key": "served-1"}, timeout=10) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = (event for event in sse_events(response.iter_lines()) if event[0] != "stage")
        first = [next(events), next(events)]
        # The Writer is held after its first piece, so the turn cannot have ended: the events came as written.
        assert [kind for kind, _ in first] == ["turn", "text"] and first[1][1] == {"text": "The bell "}
        writer_released.set()
        received = first + list(events)
    kinds = [kind for kind, _ in received]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    finished = received[-1][1]
    assert finished["status"] == "completed"
    assert "".join(data["text"] for kind, data in received if kind == "text").strip() == finished["prose"]
    wait_until_dreamt(served, before)


def test_a_stop_reaches_the_writer_on_another_thread_and_the_dreamer_runs_on_the_shorter_turn(served, model_server):
    """The Stop is a second request (another of gunicorn's threads, or another worker): the Writer's loop reads
    its flag from Redis, ends the stream with what was shown, and the turn completes as any other."""
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    writer_released = threading.Event()
    before = dreamt(served)
    model_server.script(fake.ok('{"beats": [{"description": "Bells"}]}'),
                        fake.stream(["The bell ", "rings ", "twice."], release=writer_released))
    headers = {"Authorization": f"Bearer {EpochAccessToken.for_user(user)}"}
    try:
        with served.stream("POST", f"/api/stories/{story.pk}/turns/stream/", headers=headers,
                           json={"action": "I ring the bell.", "idempotency_key": "served-stop"}, timeout=10) as response:
            events = (event for event in sse_events(response.iter_lines()) if event[0] != "stage")
            number = next(events)[1]["number"]
            assert next(events) == ("text", {"text": "The bell "})
            assert served.post(f"/api/stories/{story.pk}/turns/{number}/stop/", headers=headers).status_code == 202
            writer_released.set()
            received = list(events)
    finally:
        writer_released.set()
    assert [kind for kind, _ in received] == ["done"]
    done = received[0][1]
    assert done["stopped"] is True and done["status"] == "completed" and done["prose"] == "The bell"
    wait_until_dreamt(served, before)


def test_concurrent_requests_on_the_thread_pool_each_see_only_their_own_user(served):
    """Pooled connections and threads are shared by requests for different users: each sees its own stories."""
    players = [UserFactory() for _ in range(4)]
    titles = {player.pk: StoryFactory(user=player, title=f"The story of {player.username}").title
              for player in players}
    tokens = {player.pk: str(EpochAccessToken.for_user(player)) for player in players}

    def seen_by(player_id) -> tuple:
        response = served.get("/api/stories/", headers={"Authorization": f"Bearer {tokens[player_id]}"})
        assert response.status_code == 200, response.text
        return player_id, [story["title"] for story in response.json()["results"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(seen_by, [player.pk for player in players] * 10))
    assert all(seen == [titles[player_id]] for player_id, seen in answers)


def test_metrics_add_up_the_web_and_worker_processes_and_refuse_a_proxied_scrape(served, model_server):
    """bin/serve's web and worker processes write to one PROMETHEUS_MULTIPROC_DIR: the web's /metrics shows
    the turn the web process wrote and the Dreamer task a worker process ran."""
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    model_server.script(fake.ok('{"beats": [{"description": "Gulls"}]}'), fake.stream(["Gulls ", "cry."]))
    token = str(EpochAccessToken.for_user(user))
    before = dreamt(served)  # earlier tests' turns were dreamt too
    response = served.post(f"/api/stories/{story.pk}/turns/", headers={"Authorization": f"Bearer {token}"},
                           json={"action": "I watch the gulls.", "idempotency_key": "served-metrics"}, timeout=30)
    assert response.status_code == 201 and response.json()["status"] == "completed", response.text
    body = wait_until_dreamt(served, before)
    assert 'luna_turns_total{outcome="completed"}' in body
    assert 'luna_agent_calls_total{agent="writer",provider="default",status="ok"}' in body
    assert served.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403


def served_celery(served, role: str, name: str = "") -> psutil.Process:
    """bin/serve's Celery ``worker`` or ``beat`` main process (the one bin/respawn started); a worker by the
    start of its node name (``dream.``: the Dreamer's queue)."""
    (process,) = [child for child in served.bin_serve.children(recursive=True)
                  if child.cmdline()[2:5] == ["-A", "luna_site", role] and "respawn" in child.parent().cmdline()[1]
                  and any(argument.startswith(name) for argument in child.cmdline()[5:])]
    return process


def test_beat_drains_the_outbox_into_the_served_worker(served):
    """A task a Redis outage left in the outbox is sent by bin/serve's beat and run by its worker."""
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    with task_queue.held():  # not sent: as if Redis was down at the commit
        turn = turn_opening(user=user, story=story, prose="The bell rings twice over the harbour.")
    OutboxTask.objects.create(user=user, task_name=dream_turn.name, args=[str(user.pk), str(turn.pk)])
    deadline = time.monotonic() + 60
    while OutboxTask.objects.exists() or not summarized(user, turn):
        assert time.monotonic() < deadline, "the outbox was not drained into the worker"
        time.sleep(0.1)
    assert served_celery(served, "beat").is_running()


def summarized(user, turn) -> bool:
    with acting_as(user):
        return TurnSummary.objects.filter(turn=turn).exists()


def test_a_worker_killed_with_sigkill_is_started_again(served):
    """Last in this module: it kills the served worker (nothing restarted it before bin/respawn)."""
    killed = served_celery(served, "worker", "dream.")
    killed.kill()
    killed.wait(timeout=10)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        assert served.bin_serve.is_running()
        ready = served.get("/readyz").json()
        if ready["ready"]:
            break
        assert time.monotonic() < deadline, f"no worker answered again: {ready}"
        time.sleep(0.2)
    assert served_celery(served, "worker", "dream.").pid != killed.pid
