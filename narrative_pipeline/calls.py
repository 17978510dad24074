"""Every LLM call of the writers' room, timed and recorded as an ``AgentCall`` (DESIGN §3)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

from accounts.rls import acting_as

from .llm import Completion, LLMError, LLMRequest, cost_usd, provider_for
from .llm.reasoning import reasoning_split
from .models import AgentCall

# How much of a call's reasoning the writers' room keeps: enough to see why, not a model's whole monologue.
REASONING_KEPT_CHARS = 20_000


class AgentCaller:
    """Calls providers for one story (and turn), as its owner, recording each call."""

    def __init__(self, *, user, story, turn=None):
        self.user, self.story, self.turn = user, story, turn

    def complete(self, request: LLMRequest) -> Completion:
        provider = provider_for(request.agent, self.story.llm_overrides)
        started = time.monotonic()
        try:
            completion = provider.complete(request)
        except LLMError as error:
            self._record(request.agent, provider.name, provider.model, started, error=str(error))
            raise
        # Reasoning in the content is never an agent's answer (a summary, a plan): the agents get what is left.
        visible, reasoning = reasoning_split(completion.text)
        completion = dataclasses.replace(completion, text=visible,
                                         reasoning="\n\n".join(filter(None, [completion.reasoning, reasoning])))
        self._record(request.agent, provider.name, completion.model, started, completion=completion)
        return completion

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        provider = provider_for(request.agent, self.story.llm_overrides)
        started = time.monotonic()
        try:
            for piece in provider.stream(request):
                if isinstance(piece, Completion):
                    self._record(request.agent, provider.name, piece.model, started, completion=piece)
                yield piece
        except LLMError as error:
            self._record(request.agent, provider.name, provider.model, started, error=str(error))
            raise

    def record_local(self, agent: str, *, model: str, tokens: int, started: float) -> None:
        """Work done here rather than by an LLM (the Preprocessor's retrieval): latency, no cost."""
        self._record(agent, "local", model, started,
                     completion=Completion(text="", prompt_tokens=tokens, completion_tokens=0, provider="local",
                                           model=model))

    def _record(self, agent, provider, model, started, *, completion: Completion | None = None, error: str = ""):
        with acting_as(self.user):
            AgentCall.objects.create(
                user_id=self.story.user_id, story_id=self.story.pk, turn_id=getattr(self.turn, "pk", None),
                agent=agent, provider=provider, model=model[:120],
                prompt_tokens=completion.prompt_tokens if completion else 0,
                completion_tokens=completion.completion_tokens if completion else 0,
                cost_usd=cost_usd(model, completion.prompt_tokens, completion.completion_tokens) if completion else 0,
                latency_ms=int((time.monotonic() - started) * 1000),
                status=AgentCall.Status.ERROR if error else AgentCall.Status.OK, error=error[:2000],
                reasoning=completion.reasoning[:REASONING_KEPT_CHARS] if completion else "",
            )
