"""Whether stories have a model to write with: the notice the story pages show.

A story is on the offline narrator when every agent is; otherwise the configured server is asked for
its models (``GET {LLM_BASE_URL}/models``, a short timeout) and the answer is cached for a minute, so a
page never waits on a server that is down for more than one short probe a minute.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.cache import cache

from . import AGENTS, OFFLINE, LLMError, config_for

PROBE_TIMEOUT_SECONDS = 1.5
PROBE_CACHE_SECONDS = 60
SERVER_TROUBLE = {500, 502, 503, 504}  # down, overloaded or still loading its model


@dataclass(frozen=True)
class ModelStatus:
    offline: bool  # every agent is the offline narrator
    problem: str = ""  # what is wrong with the model server, in plain words; "" when it answers

    @property
    def notice(self) -> str:
        if self.offline:
            return "No model connected — stories are written by the offline narrator."
        if self.problem:
            return (f"The model server {self.problem}, so new passages cannot be written just now. "
                    "Your actions are kept: retry them once it is back.")
        return ""


def model_status(story_overrides: dict | None = None) -> ModelStatus:
    """The status for a story with these overrides (None: the site's default models)."""
    try:
        providers = {config_for(agent, story_overrides).provider for agent in AGENTS}
    except LLMError as error:
        return ModelStatus(offline=False, problem=f"is not set up right ({error})")
    if providers == {OFFLINE}:
        return ModelStatus(offline=True)
    return ModelStatus(offline=False, problem=server_problem(settings.LLM_BASE_URL))


def server_problem(base_url: str) -> str:
    """What is wrong with the server at ``base_url`` ("" when it answers), cached per server."""
    key = "llm-server-problem:" + hashlib.sha256(base_url.encode()).hexdigest()[:16]
    problem = cache.get(key)
    if problem is None:
        problem = _probe(base_url)
        cache.set(key, problem, PROBE_CACHE_SECONDS)
    return problem


def _probe(base_url: str) -> str:
    headers = {"Authorization": f"Bearer {settings.LLM_API_KEY}"} if settings.LLM_API_KEY else {}
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
