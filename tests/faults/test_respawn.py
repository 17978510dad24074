"""bin/respawn, which bin/serve runs its Celery worker and beat under: a command that dies is started
again; one asked to stop is not."""

import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.02)


def started_lines(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def respawned(tmp_path, script: str) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "starts"
    process = subprocess.Popen([str(REPO / "bin/respawn"), "sh", "-c", script.replace("LOG", str(log))],
                               env={**os.environ, "RESPAWN_MAX_PAUSE": "1"}, stderr=subprocess.PIPE,
                               start_new_session=True)
    return process, log


def test_a_command_killed_with_sigkill_is_started_again(tmp_path):
    # Each start writes its pid and then waits to be killed, like a worker between tasks.
    process, log = respawned(tmp_path, "echo $$ >> LOG; exec sleep 60")
    try:
        until(lambda: len(started_lines(log)) == 1)
        os.kill(int(started_lines(log)[0]), signal.SIGKILL)
        until(lambda: len(started_lines(log)) == 2)
        os.kill(int(started_lines(log)[1]), signal.SIGKILL)
        until(lambda: len(started_lines(log)) == 3)
        assert process.poll() is None
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    assert b"exited with status 137; starting it again" in process.stderr.read()


def test_asked_to_stop_the_command_stops_and_is_not_started_again(tmp_path):
    # The command finishes its work on SIGTERM (a worker's warm stop): it says so, then exits.
    process, log = respawned(tmp_path, "echo $$ >> LOG; trap 'echo stopped >> LOG; exit 0' TERM; "
                                       "while true; do sleep 0.05; done")
    until(lambda: len(started_lines(log)) == 1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert started_lines(log)[1:] == ["stopped"]
    pid = int(started_lines(log)[0])
    until(lambda: not Path(f"/proc/{pid}").exists())
