"""Load through the production server (`bin/serve`: gunicorn gthread + a Celery worker), loopback only.

PLAYERS simulated players (threads with their own HTTP client) each sign in, create a story and play
TURNS turns against the offline narrator, browsing the marketplace before each turn and forking the
seeded published story every fifth; then the Celery backlog (the turns' Dreamer work) is timed until
it drains. CPU and resident memory of every process of the server are read with psutil. Run at
1 web + 1 worker and at 2 web + 2 workers. `make load` runs it; not part of `make test`.
"""

import contextlib
import json
import os
import signal
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil
import redis
from django.conf import settings
from django.db import connection

from bench import bench_database
from luna_site import scale_data

TITLE = "Load: players through bin/serve at 1 web + 1 worker and 2 web + 2 workers"
PLAYERS = int(os.environ.get("LOAD_PLAYERS", "50"))
TURNS = int(os.environ.get("LOAD_TURNS", "20"))
PORT = int(os.environ.get("LOAD_PORT", "8191"))
ROOT = Path(__file__).resolve().parent.parent
BASE = f"http://127.0.0.1:{PORT}"


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.turn_ms: list[float] = []
        self.requests = 0
        self.errors: list[str] = []

    def record(self, response: httpx.Response | None, what: str, error: str = "") -> None:
        with self.lock:
            self.requests += 1
            if response is None or response.status_code >= 400:
                self.errors.append(f"{what}: {error or response.status_code}")


def _player(number: int, listing_id: str, tally: Tally) -> None:
    name = scale_data.username(number)
    with httpx.Client(base_url=BASE, timeout=120) as client:
        def call(what: str, method: str, url: str, **kwargs) -> httpx.Response | None:
            try:
                response = client.request(method, url, **kwargs)
            except httpx.HTTPError as error:
                tally.record(None, what, repr(error))
                return None
            tally.record(response, what)
            return response

        token = call("sign in", "POST", "/api/auth/token/", json={"username": name, "password": scale_data.PASSWORD})
        if token is None or token.status_code != 200:
            return
        client.headers["Authorization"] = f"Bearer {token.json()['access']}"
        story = call("create story", "POST", "/api/stories/", json={"title": f"{name}'s story",
                                                                     "premise": "A harbour town at dusk."})
        if story is None or story.status_code != 201:
            return
        story_id = story.json()["id"]
        for turn in range(1, TURNS + 1):
            call("browse", "GET", "/api/marketplace/stories/?q=bells")
            if turn % 5 == 0:
                call("fork", "POST", f"/api/marketplace/stories/{listing_id}/fork/", json={})
            started = time.perf_counter()
            response = call("turn", "POST", f"/api/stories/{story_id}/turns/",
                            json={"action": f"I walk to the harbour, step {turn}.", "idempotency_key": uuid.uuid4().hex})
            if response is not None and response.status_code < 400:
                with tally.lock:
                    tally.turn_ms.append((time.perf_counter() - started) * 1000)


def _server_env(database: str, web: int, workers: int, queue: str) -> dict:
    host = connection.get_connection_params()["host"]
    return {**os.environ, "DATABASE_URL": f"postgresql://{connection.get_connection_params()['user']}@"
            f"{quote(host, safe='')}/{database}", "DJANGO_SETTINGS_MODULE": "luna_site.checkout_settings",
            "WEB_WORKERS": str(web), "CELERY_CONCURRENCY": str(workers), "CELERY_QUEUE": queue,
            "PORT": str(PORT), "LLM_PROVIDER": "offline"}


def _wait_up(server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("bin/serve exited while starting")
        try:
            if httpx.get(f"{BASE}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("bin/serve did not answer /healthz in 180 s")


def _processes(server: subprocess.Popen) -> dict[int, tuple[str, psutil.Process]]:
    """The server's Python processes by role; bin/respawn's shells are left out, and Celery's pool
    processes are found as they start (called again while the players play)."""
    found = {}
    for process in psutil.Process(server.pid).children(recursive=True):
        try:
            command = process.cmdline()
        except psutil.Error:
            continue
        if not command or "python" not in Path(command[0]).name:
            continue
        text = " ".join(command)
        role = ("embedding service" if "embedding_server" in text else "web" if "gunicorn" in text
                else "beat" if " beat" in text else "worker" if "celery" in text else "")
        if role:
            found[process.pid] = (role, process)
    return found


def _backlog(broker: redis.Redis, queue: str) -> int:
    """Tasks waiting in the queue and taken but not yet acknowledged (acks_late: until they end);
    kombu keeps the latter in one hash for every queue, as [message, exchange, routing key]."""
    taken = sum(1 for entry in broker.hvals("unacked") if json.loads(entry)[2] == queue)
    return broker.llen(queue) + taken


def _settle(processes: dict[int, tuple[str, psutil.Process]]) -> None:
    """Wait until the server is idle: every process has loaded what it loads as it starts (the
    embedding model), so the first players do not wait for it."""
    for _ in range(240):
        before = sum(sum(process.cpu_times()[:2]) for _, process in processes.values())
        time.sleep(0.5)
        if sum(sum(process.cpu_times()[:2]) for _, process in processes.values()) - before < 0.05:
            return


def _round(database: str, web: int, workers: int, listing_id: str) -> dict:
    queue = f"luna-load-{uuid.uuid4().hex[:8]}"
    server = subprocess.Popen([str(ROOT / "bin" / "serve")], cwd=ROOT, env=_server_env(database, web, workers, queue),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_up(server)
        processes = _processes(server)
        _settle(processes)
        cpu_before = {pid: sum(process.cpu_times()[:2]) for pid, (_, process) in processes.items()}
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL.replace("redis+socket://", "unix://"))
        tally, peak_rss = Tally(), {pid: 0 for pid in processes}
        players = [threading.Thread(target=_player, args=(number, listing_id, tally))
                   for number in range(1, PLAYERS + 1)]
        started = time.monotonic()
        for player in players:
            player.start()
        while any(player.is_alive() for player in players):
            for pid, found in _processes(server).items():
                processes.setdefault(pid, found)
                cpu_before.setdefault(pid, 0.0)
                with contextlib.suppress(psutil.Error):  # a process that has just exited
                    peak_rss[pid] = max(peak_rss.get(pid, 0), found[1].memory_info().rss)
            time.sleep(0.2)
        load_s = time.monotonic() - started
        backlog_at_end = _backlog(broker, queue)
        while _backlog(broker, queue) and time.monotonic() - started < load_s + 600:
            time.sleep(0.2)
        drain_s = time.monotonic() - started - load_s
        wall = time.monotonic() - started
        usage = {}
        for pid, (role, process) in processes.items():
            try:
                cpu = sum(process.cpu_times()[:2]) - cpu_before[pid]
            except psutil.Error:
                continue
            usage.setdefault(role, []).append((cpu / wall * 100, peak_rss[pid] / 2**20))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    turns = sorted(tally.turn_ms)
    centiles = statistics.quantiles(turns, n=100) if len(turns) > 1 else [0.0] * 99
    return {"web": web, "workers": workers, "turns": len(turns), "requests": tally.requests,
            "errors": tally.errors, "load_s": load_s, "p50": centiles[49], "p95": centiles[94], "p99": centiles[98],
            "backlog": backlog_at_end, "drain_s": drain_s, "usage": usage}


def _usage_text(usage: dict) -> str:
    return "; ".join(f"{role} " + ", ".join(f"{cpu:.0f}% / {rss:.0f} MB" for cpu, rss in sorted(rows, reverse=True))
                     for role, rows in sorted(usage.items()))


def run() -> str:
    with bench_database("load") as database:
        # The players and a published story to fork; the server's own connections see them once committed.
        listing_id = scale_data.scale_data_seed(users=PLAYERS, stories=0, turns=TURNS).listing_id
        connection.close()
        rounds = [_round(database, web, workers, listing_id) for web, workers in ((1, 1), (2, 2))]
    rows = "\n".join(
        f"| {r['web']} + {r['workers']} | {r['turns'] / r['load_s']:.1f} | {r['requests'] / r['load_s']:.1f} | "
        f"{r['p50']:.0f} / {r['p95']:.0f} / {r['p99']:.0f} | {len(r['errors'])} | {r['backlog']} → 0 in {r['drain_s']:.1f} s |"
        for r in rounds)
    processes = "\n".join(f"- {r['web']} + {r['workers']}: {_usage_text(r['usage'])}" for r in rounds)
    errors = sorted({error for r in rounds for error in r["errors"]})[:10]
    one, two = rounds
    return f"""
{PLAYERS} players at once, each: sign in (JWT), create a story, then {TURNS} turns against the offline
narrator (`POST /api/stories/{{id}}/turns/`, the whole turn in the request), a browse
(`GET /api/marketplace/stories/?q=bells`) before each turn and a fork of a published story every fifth.
`bin/serve` on loopback (gunicorn gthread, {os.environ.get('WEB_THREADS', '8')} threads a process; a
Celery worker with N processes), its own database on the embedded PostgreSQL and Redis.

| web + worker processes | turns/s | requests/s | turn p50 / p95 / p99 ms | errors | Celery backlog at the end → drained |
| --- | ---: | ---: | ---: | ---: | --- |
{rows}

**Scaling ratio 2 + 2 against 1 + 1: {(two['turns'] / two['load_s']) / (one['turns'] / one['load_s']):.2f}×** in turns/s
(on {os.cpu_count()} cores, shared by the players' threads, PostgreSQL and Redis).

CPU (% of one core over the run, load and drain) and peak resident memory per process:
{processes}
{"Errors: " + "; ".join(errors) if errors else ""}
"""
