"""What an OpenAI-compatible server can do for the agents: ``manage.py llm_check`` and the "Test" button.

The server's model list is read, then each agent's model gets a tiny prompt, timed, and is asked once for
each option the provider uses: JSON Schema structured output, JSON mode, usage in the stream. Every option
is asked for on its own (no step-down, no cache), so the answer says what this server does today.
Problems are worded for the person who set the server up; no server text and never the key is repeated.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import httpx

from . import OFFLINE, LLMError
from .connections import DEFAULT, ModelChoice, api_key_read, connection_named
from .openai_compatible import OpenAICompatibleProvider, redact
from .reasoning import reasoning_split

PROMPT = [{"role": "user", "content": 'Answer with this JSON object and nothing else: {"ok": true}'}]
# Reasoning models think before answering: a few words are not enough room.
MAX_TOKENS = 256
ANSWER_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
REFUSED_KEY = "the server refused the API key"


@dataclass
class AgentCheck:
    agent: str
    model: str
    latency_ms: int | None = None  # the plain prompt, there and back
    json_schema: bool = False
    json_mode: bool = False
    stream_usage: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def completes(self) -> bool:
        return self.latency_ms is not None


@dataclass
class CheckReport:
    base_url: str  # how the server is named: its URL redacted (for the operator), or a connection's label
    server_models: list[str] | None = None  # None: the server did not list them
    problems: list[str] = field(default_factory=list)  # about the server as a whole
    agents: list[AgentCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every agent can complete a prompt (options missing are stepped down by the provider)."""
        return not self.problems and all(agent.completes for agent in self.agents)


class _Unanswered(Exception):
    """The request got no usable answer; the message is the plain-language problem."""


def server_check(base_url: str, api_key: str, agent_models: dict[str, str], *, shown_as: str = "") -> CheckReport:
    """Check the server at ``base_url`` for each agent's model (``{"writer": "llama3.1", …}``). Players see
    the server named ``shown_as`` (a connection's label), never its address."""
    report = CheckReport(base_url=shown_as or redact(base_url.rstrip("/")))
    try:
        report.server_models = _server_models(base_url, api_key, report.base_url)
    except _Unanswered as problem:
        report.problems.append(str(problem))
        return report
    for agent, model in agent_models.items():
        report.agents.append(_agent_check(agent, model, base_url, api_key, report))
    return report


def _provider(base_url: str, api_key: str, model: str) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(model, base_url=base_url, api_key=api_key, max_retries=0)


def _server_models(base_url: str, api_key: str, shown_url: str) -> list[str] | None:
    with _provider(base_url, api_key, "").client() as client:
        response = _request(client, "GET", "/models", shown_url=shown_url, model="")
    if response.status_code >= 400:
        return None  # some servers have no model list and still write
    try:
        return sorted(str(entry["id"]) for entry in response.json()["data"])
    except (ValueError, KeyError, TypeError):
        return None


def _request(client: httpx.Client, method: str, path: str, *, shown_url: str, model: str, **kwargs) -> httpx.Response:
    """One request; the problems that stop everything raise ``_Unanswered`` in plain words."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise _Unanswered(f"{shown_url} did not answer within {client.timeout.read:g} s") from None
    except httpx.TransportError:
        raise _Unanswered(f"cannot connect to {shown_url} — is the server running?") from None
    if response.status_code in (401, 403):
        raise _Unanswered(f"{REFUSED_KEY} (HTTP {response.status_code}) — check the connection's key")
    if response.status_code == 404 and model:
        raise _Unanswered(f"the server has no model named {model!r}")
    return response


def _agent_check(agent: str, model: str, base_url: str, api_key: str, report: CheckReport) -> AgentCheck:
    check = AgentCheck(agent=agent, model=model)
    if report.server_models is not None and model not in report.server_models:
        check.problems.append(f"the server does not list a model named {model!r}; it lists: "
                              f"{', '.join(report.server_models) or 'none'}")
    body = {"model": model, "messages": PROMPT, "max_tokens": MAX_TOKENS, "temperature": 0}
    with _provider(base_url, api_key, model).client() as client:
        def post(**options) -> httpx.Response:
            return _request(client, "POST", "/chat/completions", shown_url=report.base_url, model=model,
                            json={**body, **options})

        try:
            started = time.perf_counter()
            response = post()
            elapsed_ms = round((time.perf_counter() - started) * 1000)
            if response.status_code >= 400:
                check.problems.append(f"the server answered HTTP {response.status_code} to a plain prompt")
                return check
            if _answer_text(response) is None:
                check.problems.append("the server's answer is not a chat completion")
                return check
            check.latency_ms = elapsed_ms
            check.json_schema = _parses(post(response_format={"type": "json_schema", "json_schema": {
                "name": "Check", "schema": ANSWER_SCHEMA, "strict": False}}))
            check.json_mode = _parses(post(response_format={"type": "json_object"}))
            check.stream_usage = _streams_usage(client, {**body, "stream": True,
                                                         "stream_options": {"include_usage": True}})
        except _Unanswered as problem:
            check.problems.append(str(problem))
    return check


def _answer_text(response: httpx.Response) -> str | None:
    try:
        return response.json()["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _parses(response: httpx.Response) -> bool:
    """The option was accepted and the answer, its reasoning taken out, is a JSON object."""
    if response.status_code >= 400:
        return False
    visible, _ = reasoning_split(_answer_text(response) or "")
    try:
        return isinstance(json.loads(visible.strip()), dict)
    except ValueError:
        return False


def _streams_usage(client: httpx.Client, body: dict) -> bool:
    try:
        with client.stream("POST", "/chat/completions", json=body) as response:
            if response.status_code >= 400:
                return False
            for line in response.iter_lines():
                data = line[5:].strip() if line.startswith("data:") else ""
                if data and data != "[DONE]":
                    try:
                        if (json.loads(data) or {}).get("usage"):
                            return True
                    except (ValueError, AttributeError):
                        return False
    except httpx.HTTPError:
        return False
    return False


def choices_check(effective: dict[str, ModelChoice], *, for_operator: bool) -> list[CheckReport]:
    """One report per connection the agents use (the offline narrator needs no check). The operator is
    shown each server's address; a player only the connection's label."""
    agent_models: dict[str, dict[str, str]] = {}
    for agent, choice in effective.items():
        if choice.connection != OFFLINE:
            agent_models.setdefault(choice.connection, {})[agent] = choice.model
    reports = []
    for name, models in agent_models.items():
        connection = connection_named(name)
        if connection is None:
            reports.append(CheckReport(base_url=name, problems=[f"there is no connection named {name!r}"]))
            continue
        shown_as = "" if for_operator else connection.label
        try:
            api_key = api_key_read(connection)
        except LLMError as error:
            reports.append(CheckReport(base_url=shown_as or name, problems=[str(error)]))
            continue
        report = server_check(connection.base_url, api_key, models, shown_as=shown_as)
        if for_operator and name != DEFAULT:
            report.base_url = f"{report.base_url} (connection {name})"
        reports.append(report)
    return reports


def report_data(report: CheckReport) -> dict:
    """A report as JSON, for the API (the same words the page and the command show)."""
    return {"server": report.base_url, "ok": report.ok, "models": report.server_models, "problems": report.problems,
            "agents": [{"agent": check.agent, "model": check.model, "completes": check.completes,
                        "latency_ms": check.latency_ms, "json_schema": check.json_schema,
                        "json_mode": check.json_mode, "stream_usage": check.stream_usage,
                        "problems": check.problems} for check in report.agents]}
