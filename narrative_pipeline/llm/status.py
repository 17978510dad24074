"""Whether stories have a model to write with: the notice the story pages show, linking to the Models page.

A story is on the offline narrator when every agent is; otherwise each connection its agents use is asked
for its models (``GET {base_url}/models``, a short timeout) and the answer is cached for a minute per
server, so a page never waits on a server that is down for more than one short probe a minute.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx
from django.core.cache import cache

from . import OFFLINE, LLMError
from .connections import api_key_read, choices_for, connection_named

PROBE_TIMEOUT_SECONDS = 1.5
PROBE_CACHE_SECONDS = 60
SERVER_TROUBLE = {500, 502, 503, 504}  # down, overloaded or still loading its model


@dataclass(frozen=True)
class ModelStatus:
    offline: bool  # every agent is the offline narrator
    problem: str = ""  # what is wrong with a model server, in plain words; "" when they answer

    @property
    def notice(self) -> str:
        if self.offline:
            return "No model connected — stories are written by the offline narrator."
        if self.problem:
            return (f"{self.problem}, so new passages cannot be written just now. "
                    "Your actions are kept: retry them once it is back, or choose another model.")
        return ""


def model_status(*, account_choices: dict | None = None, story_overrides: dict | None = None) -> ModelStatus:
    """The status for a story with these choices (none: a new story's)."""
    try:
        names = {choice.connection for choice in choices_for(account_choices=account_choices,
                                                             story_overrides=story_overrides).values()}
    except LLMError as error:
        return ModelStatus(offline=False, problem=f"The model settings are not right ({error})")
    if names == {OFFLINE}:
        return ModelStatus(offline=True)
    problems = []
    for name in sorted(names - {OFFLINE}):
        connection = connection_named(name)
        if connection is None:
            problems.append(f"The model connection “{name}” no longer exists")
            continue
        try:
            problem = server_problem(connection.base_url, api_key_read(connection))
        except LLMError as error:
            problem = str(error)
        if problem:
            problems.append(f"The model server {problem} (connection “{connection.label}”)")
    return ModelStatus(offline=False, problem="; ".join(problems))


def server_problem(base_url: str, api_key: str) -> str:
    """What is wrong with the server at ``base_url`` ("" when it answers), cached per server and key."""
    key = "llm-server-problem:" + hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()[:16]
    problem = cache.get(key)
    if problem is None:
        problem = _probe(base_url, api_key)
        cache.set(key, problem, PROBE_CACHE_SECONDS)
    return problem


def _probe(base_url: str, api_key: str) -> str:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(base_url.rstrip("/") + "/models", headers=headers, timeout=PROBE_TIMEOUT_SECONDS)
    except httpx.TimeoutException:
        return f"did not answer within {PROBE_TIMEOUT_SECONDS:g} s"
    except httpx.HTTPError:
        return "cannot be reached"
    if response.status_code in (401, 403):
        return f"refuses the site's key (HTTP {response.status_code})"
    if response.status_code in SERVER_TROUBLE:
        return f"answers with an error (HTTP {response.status_code})"
    return ""  # it answers; a server without a model list (404, 405, 501) can still write
