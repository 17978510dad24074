"""``manage.py llm_check`` against the fake server: what it reports, its exit status, and never the key."""

import socket
from io import StringIO
from itertools import takewhile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ..fake_openai import error, ok, status, stream

PLANTED_KEY = "sk-planted-check-7f3a9c2e41b8d605"
JSON_ANSWER = '{"ok": true}'


def agent_replies() -> list[dict]:
    """What one agent's check takes: the plain prompt, JSON Schema, JSON mode, the stream."""
    return [ok(JSON_ANSWER), ok(JSON_ANSWER), ok(JSON_ANSWER), stream([JSON_ANSWER])]


def llm_check(*args: str) -> tuple[str, bool]:
    """The command's output, and whether it exited with status 0."""
    out = StringIO()
    try:
        call_command("llm_check", *args, stdout=out)
    except CommandError as failure:
        return out.getvalue() + str(failure), False
    return out.getvalue(), True


@pytest.fixture
def planted_key(settings):
    settings.LLM_API_KEY = PLANTED_KEY
    return PLANTED_KEY


def agent_lines(output: str, agent: str) -> str:
    """The agent's heading and the indented lines under it."""
    lines = output.splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith(f"{agent} ("))
    return "\n".join([lines[start], *takewhile(lambda line: line.startswith("  "), lines[start + 1:])])


def test_a_server_that_supports_everything_gets_yes_for_every_option(openai_server, planted_key):
    openai_server.script(*agent_replies(), *agent_replies())  # the strategist and the writer use the server
    output, succeeded = llm_check()
    assert succeeded
    assert "Models: fake-model" in output
    for agent in ("strategist", "writer"):
        line = agent_lines(output, agent)
        assert f"{agent} (fake-model)" in line
        assert "JSON Schema: yes; JSON mode: yes; streaming usage: yes" in line
        assert " ms;" in line
    assert "preprocessor" not in output  # on the offline narrator: nothing to check
    assert all(request["auth"] == f"Bearer {PLANTED_KEY}" for request in openai_server.requests)
    assert PLANTED_KEY not in output


def test_a_server_refusing_response_format_says_no_to_json_and_still_succeeds(openai_server, planted_key):
    openai_server.refuses = {"response_format"}
    openai_server.script(ok("ok"), stream(["ok"]), ok("ok"), stream(["ok"]))
    output, succeeded = llm_check()
    assert succeeded
    line = agent_lines(output, "writer")
    assert "JSON Schema: no; JSON mode: no; streaming usage: yes" in line
    assert PLANTED_KEY not in output


def test_a_server_refusing_only_the_schema_keeps_json_mode(openai_server, planted_key):
    openai_server.refuses = {"json_schema"}
    openai_server.script(ok(JSON_ANSWER), ok(JSON_ANSWER), stream(["ok"]))
    output, succeeded = llm_check("--model", "fake-model", "--base-url", openai_server.base_url)
    # --model checks every agent: the script runs out after the first, and the fake answers 500.
    assert not succeeded
    assert "JSON Schema: no; JSON mode: yes; streaming usage: yes" in agent_lines(output, "preprocessor")
    assert "the server answered HTTP 500 to a plain prompt" in output


def test_an_answer_that_is_not_json_is_no_even_when_the_option_is_accepted(openai_server):
    openai_server.script(ok("ok"), ok("Sure! Here you go."), ok("<think>{\"ok\": true}</think>ok"), stream(["ok"]),
                         *agent_replies())
    output, succeeded = llm_check()
    assert succeeded
    assert "JSON Schema: no; JSON mode: no" in agent_lines(output, "strategist")
    assert "JSON Schema: yes; JSON mode: yes" in agent_lines(output, "writer")


def test_streaming_without_a_usage_chunk_is_no(openai_server):
    from ..fake_openai import chunk, sse

    no_usage = sse([chunk({"content": "ok"})])
    openai_server.script(ok(JSON_ANSWER), ok(JSON_ANSWER), ok(JSON_ANSWER), no_usage, *agent_replies())
    output, succeeded = llm_check()
    assert succeeded
    assert "streaming usage: no" in agent_lines(output, "strategist")
    assert "streaming usage: yes" in agent_lines(output, "writer")


def test_an_unreachable_server_is_said_plainly_and_fails(settings, planted_key):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    output, succeeded = llm_check("--base-url", f"http://127.0.0.1:{port}/v1", "--model", "llama3.1")
    assert not succeeded
    assert f"cannot connect to http://127.0.0.1:{port}/v1 — is the server running?" in output
    assert PLANTED_KEY not in output


def test_a_password_in_the_base_url_is_not_shown(settings, planted_key):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    output, succeeded = llm_check("--base-url", f"http://me:{PLANTED_KEY}@127.0.0.1:{port}/v1", "--model", "m")
    assert not succeeded
    assert f"cannot connect to http://[redacted]@127.0.0.1:{port}/v1" in output
    assert PLANTED_KEY not in output


def test_a_refused_key_is_said_plainly_and_fails(openai_server, planted_key):
    openai_server.models = error(401, {"error": {"message": f"Incorrect API key provided: {PLANTED_KEY}"}})
    output, succeeded = llm_check()
    assert not succeeded
    assert "the server refused the API key (HTTP 401)" in output
    assert PLANTED_KEY not in output


def test_a_key_refused_only_for_completions_fails_the_agents(openai_server, planted_key):
    openai_server.script(error(403, {"error": {"message": f"key {PLANTED_KEY} may not use this model"}}),
                         *agent_replies())
    output, succeeded = llm_check()
    assert not succeeded
    assert "cannot complete a prompt" in agent_lines(output, "strategist")
    assert "the server refused the API key (HTTP 403)" in output
    assert "JSON Schema: yes" in agent_lines(output, "writer")
    assert PLANTED_KEY not in output


def test_a_model_the_server_does_not_have_is_named(openai_server, planted_key):
    openai_server.models = ["llama3.1", "qwen2.5"]
    openai_server.script(error(404, {"error": {"message": "model 'fake-model' not found"}}), *agent_replies())
    output, succeeded = llm_check()
    assert not succeeded
    assert "the server does not list a model named 'fake-model'; it lists: llama3.1, qwen2.5" in output
    assert "the server has no model named 'fake-model'" in output


def test_a_server_without_a_model_list_is_still_checked(openai_server):
    openai_server.models = status(404)
    openai_server.script(*agent_replies(), *agent_replies())
    output, succeeded = llm_check()
    assert succeeded
    assert "Models: (not listed)" in output


def test_every_agent_offline_needs_no_server(settings):
    settings.LLM_PROVIDER, settings.LLM_AGENTS = "offline", {}
    output, succeeded = llm_check()
    assert succeeded
    assert "offline narrator" in output
