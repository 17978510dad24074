"""LLM providers: one small interface, chosen per agent by settings and per story.

``offline`` is a deterministic narrator (no network, no cost) used by tests and the demo;
``openai`` talks to any OpenAI-compatible ``/v1/chat/completions`` server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from django.conf import settings


@dataclass(frozen=True)
class LLMRequest:
    agent: str  # preprocessor | strategist | writer | dreamer
    messages: list[dict]
    # The same request as data, for the offline narrator (HTTP providers read the messages).
    payload: dict = field(default_factory=dict)
    json_mode: bool = False
    max_tokens: int = 800
    temperature: float = 0.8


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    provider: str
    model: str


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


def config_for(agent: str, story_overrides: dict | None = None) -> ProviderConfig:
    """Settings' LLM_PROVIDER / LLM_MODEL, per agent LLM_<AGENT>_*, then the story's own choice."""
    agent_settings = settings.LLM_AGENTS.get(agent, {})
    chosen = (story_overrides or {}).get(agent, {})
    provider = chosen.get("provider") or agent_settings.get("provider") or settings.LLM_PROVIDER
    model = chosen.get("model") or agent_settings.get("model") or settings.LLM_MODEL
    if provider not in PROVIDERS:
        raise LLMError(f"Unknown LLM provider {provider!r}; use one of {', '.join(sorted(PROVIDERS))}.")
    return ProviderConfig(provider=provider, model=model)


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
