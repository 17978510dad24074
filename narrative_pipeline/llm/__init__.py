"""LLM providers: one small interface, chosen per agent by settings and per story.

``offline`` is a deterministic narrator (no network, no cost) used by tests and the demo;
``openai`` talks to any OpenAI-compatible ``/v1/chat/completions`` server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ValidationError

AGENTS = ("preprocessor", "strategist", "writer", "dreamer")
OFFLINE = "offline"
OFFLINE_MODEL = "luna-offline-narrator"
# Set by ``offline_narrator()``: every agent is the offline narrator, whatever the settings and the story say.
_offline_only: ContextVar[bool] = ContextVar("offline_only", default=False)


@dataclass(frozen=True)
class LLMRequest:
    agent: str  # preprocessor | strategist | writer | dreamer
    messages: list[dict]
    # The same request as data, for the offline narrator (HTTP providers read the messages).
    payload: dict = field(default_factory=dict)
    json_mode: bool = False
    # The pydantic model the answer should be: servers that can are asked for JSON Schema structured output.
    contract: type | None = None
    max_tokens: int = 800
    temperature: float = 0.8


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    provider: str
    model: str
    # What the model thought before answering, kept out of ``text`` (see reasoning.py): for the writers' room.
    reasoning: str = ""


class LLMError(Exception):
    """A provider failed: timeout, HTTP error, unusable answer. The message is shown to players."""


class Provider(Protocol):
    name: str
    model: str

    def complete(self, request: LLMRequest) -> Completion: ...

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        """Text pieces as they come, then the finished Completion."""


@dataclass(frozen=True)
class ProviderConfig:
    provider: str
    model: str


def _operator_config(agent: str) -> ProviderConfig:
    agent_settings = settings.LLM_AGENTS.get(agent, {})
    return ProviderConfig(provider=agent_settings.get("provider") or settings.LLM_PROVIDER,
                          model=agent_settings.get("model") or settings.LLM_MODEL)


def allowed_models() -> set[ProviderConfig]:
    """What a story may choose: settings.LLM_ALLOWED_MODELS ("provider:model") and what the
    operator configured for each agent. The connection (base URL, key) is never a choice."""
    listed = {ProviderConfig(*entry.split(":", 1)) for entry in settings.LLM_ALLOWED_MODELS if ":" in entry}
    return listed | {_operator_config(agent) for agent in AGENTS}


def _chosen(default: ProviderConfig, choice: dict) -> ProviderConfig:
    return ProviderConfig(provider=choice.get("provider") or default.provider, model=choice.get("model") or default.model)


@contextmanager
def offline_narrator():
    """Every call made inside is the offline narrator's: the demo's turns are written the same on every
    machine, and need no model server to be up (``make run`` starts whatever the model settings)."""
    token = _offline_only.set(True)
    try:
        yield
    finally:
        _offline_only.reset(token)


def config_for(agent: str, story_overrides: dict | None = None) -> ProviderConfig:
    """Settings' LLM_PROVIDER / LLM_MODEL, per agent LLM_<AGENT>_*, then the story's own choice if
    the operator allows it (a choice stored before it was disallowed is passed over)."""
    if _offline_only.get():
        return ProviderConfig(provider=OFFLINE, model=OFFLINE_MODEL)
    config = _operator_config(agent)
    choice = (story_overrides or {}).get(agent)
    if isinstance(choice, dict) and choice and _chosen(config, choice) in allowed_models():
        config = _chosen(config, choice)
    if config.provider not in PROVIDERS:
        raise LLMError(f"Unknown LLM provider {config.provider!r}; use one of {', '.join(sorted(PROVIDERS))}.")
    return config


def overrides_validate(overrides) -> dict:
    """A story's per-agent choice, ``{"writer": {"provider": …, "model": …}}``, checked against the
    operator's allowed models. Raises ``ValidationError`` naming what is not allowed."""
    if not isinstance(overrides, dict):
        raise ValidationError('Give an object per agent, e.g. {"writer": {"provider": "openai", "model": "…"}}.')
    allowed = sorted(f"{config.provider}:{config.model}" for config in allowed_models())
    for agent, choice in overrides.items():
        if agent not in AGENTS:
            raise ValidationError(f"{agent!r} is not an agent; the agents are {', '.join(AGENTS)}.")
        if not isinstance(choice, dict) or set(choice) - {"provider", "model"}:
            raise ValidationError(f"For {agent}, choose only a provider and a model; the operator sets connections.")
        if not all(isinstance(value, str) for value in choice.values()):
            raise ValidationError(f"For {agent}, the provider and the model are names.")
        chosen = _chosen(_operator_config(agent), choice)
        if chosen not in allowed_models():
            raise ValidationError(f"{chosen.provider}:{chosen.model} is not a model this site offers for {agent}; "
                                  f"choose one of {', '.join(allowed)}.")
    return overrides


def provider_for(agent: str, story_overrides: dict | None = None) -> Provider:
    config = config_for(agent, story_overrides)
    return PROVIDERS[config.provider](model=config.model)


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
    """Price per million tokens from settings.LLM_PRICES (unknown models cost 0)."""
    prices = settings.LLM_PRICES.get(model) or {}
    per_million = Decimal(1_000_000)
    return (Decimal(str(prices.get("input", 0))) * prompt_tokens
            + Decimal(str(prices.get("output", 0))) * completion_tokens) / per_million


def approximate_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def _providers() -> dict:
    from .offline import OfflineProvider
    from .openai_compatible import OpenAICompatibleProvider

    return {"offline": OfflineProvider, "openai": OpenAICompatibleProvider}


PROVIDERS = _providers()
