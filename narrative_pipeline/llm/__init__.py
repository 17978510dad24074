"""LLM providers: one small interface. Which one an agent uses is chosen per agent by the operator, the
account and the story, among the operator's connections (``connections.py``).

``offline`` is a deterministic narrator (no network, no cost) used by tests and the demo;
``openai`` talks to any OpenAI-compatible ``/v1/chat/completions`` server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

AGENTS = ("preprocessor", "strategist", "writer", "dreamer")
OFFLINE = "offline"
OFFLINE_MODEL = "luna-offline-narrator"


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
    # Of ``prompt_tokens``, how many the server read from its prompt cache (0 when it does not say).
    cached_tokens: int = 0


class LLMError(Exception):
    """A provider failed: timeout, HTTP error, unusable answer. The message is shown to players."""


class Provider(Protocol):
    name: str
    model: str

    def complete(self, request: LLMRequest) -> Completion: ...

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        """Text pieces as they come, then the finished Completion."""


def approximate_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0
