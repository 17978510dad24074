"""A worker killed with SIGKILL mid-Dreamer task: the task is delivered again (acks_late: it was never
acknowledged) to the next worker, which finishes it with no duplicate summary or arc. A real worker process on
a queue of its own; the Dreamer on a fake model server that holds its second answer until the worker is dead."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from accounts.rls import acting_as
from accounts.tasks import email_send
from core import task_queue
from luna_site.celery import app as celery_app
from narrative_pipeline.models import StoryArc, TurnSummary
from narrative_pipeline.services import turn_opening
from narrative_pipeline.tasks import dream_turn

from .. import fake_openai as fake
from ..conftest import TEST_QUEUE
from ..factories import StoryFactory, UserFactory
from ..site.test_deploy_check import production_environment

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[2]
QUEUE = f"{TEST_QUEUE}-killed-{uuid.uuid4().hex[:8]}"
# The worker under test restores unacknowledged tasks after 1 s, from keys of its own: the shared Redis's
# other workers' tasks in flight are none of its business.
WORKER = f"""
import os
from luna_site.celery import app
app.conf.broker_url = os.environ.get("TEST_BROKER_URL", app.conf.broker_url)
app.conf.broker_transport_options = {{**app.conf.broker_transport_options, "visibility_timeout": 1,
    "unacked_key": "{QUEUE}-unacked", "unacked_index_key": "{QUEUE}-unacked-index",
    "unacked_mutex_key": "{QUEUE}-unacked-mutex"}}
app.worker_main(["worker", "--loglevel=WARNING", "--concurrency=1", "--without-gossip", "--without-mingle",
                 "--without-heartbeat"])
"""


def until(condition, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


def worker_started(model_server, log: Path, **environment: str) -> subprocess.Popen:
    database = settings.DATABASES["default"]
    environment = production_environment(
        DATABASE_URL=f"postgresql://{database['USER']}@{database['HOST'].replace('/', '%2F')}/{database['NAME']}",
        CELERY_QUEUE=QUEUE, LLM_BASE_URL=model_server.base_url, LLM_MAX_RETRIES="0",
        LLM_DREAMER_PROVIDER="openai", LLM_DREAMER_MODEL="fake-model",
        ARC_INTERVAL_TURNS="1", CHAPTER_SUGGESTION_TURNS="1000", **environment)
    with log.open("a") as output:
        return subprocess.Popen([sys.executable, "-c", WORKER], cwd=REPO, env=environment, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)


def killed(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool's child: the machine lost them
    worker.wait(timeout=10)


def test_the_dreamer_task_runs_again_after_sigkill_with_no_duplicate(tmp_path):
    user = UserFactory()
    story = StoryFactory(user=user, characters=[{"name": "Wren", "is_player": True}])
    with task_queue.held():  # sent below, to this test's worker
        turn = turn_opening(user=user, story=story, prose="Wren lights the lamp at the top of the lighthouse.")
    release = threading.Event()
    log = tmp_path / "worker.log"
    with fake.FakeOpenAI() as model_server:
        model_server.script(fake.ok("Wren lit the lamp."),  # the summary, committed before the kill
                            fake.held("never seen", release),  # the arc: the worker dies waiting for it
                            fake.ok("The story so far: Wren lit the lamp."))  # the arc, asked again
        first = worker_started(model_server, log)
        try:
            celery_app.conf.task_always_eager = False
            dream_turn.apply_async(args=[str(user.pk), str(turn.pk)], queue=QUEUE)
            until(lambda: len(model_server.requests) == 2, "the Dreamer asks for the arc")
            killed(first)
            with acting_as(user):
                assert TurnSummary.objects.filter(turn=turn).count() == 1
                assert not StoryArc.objects.filter(story=story).exists()
            second = worker_started(model_server, log)
            try:
                until(lambda: arcs(user, story) == 1, f"the next worker writes the arc\n{log.read_text()[-2000:]}")
            finally:
                killed(second)
        finally:
            celery_app.conf.task_always_eager = True
            release.set()
            if first.poll() is None:
                killed(first)
            with celery_app.connection_for_write() as connection:  # this test's keys leave the shared Redis
                connection.default_channel.client.delete(
                    QUEUE, *(f"{QUEUE}-unacked{suffix}" for suffix in ("", "-index", "-mutex")))
    with acting_as(user):
        assert TurnSummary.objects.filter(turn=turn).count() == 1
        assert StoryArc.objects.filter(story=story).count() == 1
    assert [request["body"]["messages"][-1]["content"].count("arc_summary") > 0
            for request in model_server.requests] == [False, True, True]  # the summary was not asked again


def arcs(user, story) -> int:
    with acting_as(user):
        return StoryArc.objects.filter(story=story).count()


def test_a_worker_carries_on_after_redis_restarts(broker_on, tmp_path):
    """The short broker timeouts a request needs (settings, "Faults") do not stop a worker reconnecting."""
    log = tmp_path / "worker.log"

    def mailed(subject: str) -> bool:
        return subject in log.read_text()  # the console e-mail backend writes to the worker's output

    with fake.FakeOpenAI() as model_server:
        worker = worker_started(model_server, log, TEST_BROKER_URL=f"redis+socket://{broker_on.socket}")
        try:
            email_send.apply_async(args=["-", "Before the restart", "Hello.", "a@example.com"], queue=QUEUE)
            until(lambda: mailed("Before the restart"), "the worker takes a task")
            broker_on.stop()
            broker_on.start()
            email_send.apply_async(args=["-", "After the restart", "Hello.", "a@example.com"], queue=QUEUE)
            until(lambda: mailed("After the restart"), f"the worker takes a task again\n{log.read_text()[-2000:]}")
            assert worker.poll() is None
        finally:
            killed(worker)
