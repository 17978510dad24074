"""Every LLM call of the writers' room, timed and recorded as an ``AgentCall`` (DESIGN §3)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from decimal import Decimal

from accounts.rls import acting_as
from core import metrics

from . import selectors
from .llm import Completion, LLMError, LLMRequest
from .llm.connections import ModelChoice, choices_for, provider_for
from .llm.reasoning import reasoning_split
from .models import AgentCall

# How much of a call's reasoning the writers' room keeps: enough to see why, not a model's whole monologue.
REASONING_KEPT_CHARS = 20_000


class AgentCaller:
    """Calls providers for one story (and turn), as its owner, recording each call."""

    def __init__(self, *, user, story, turn=None):
        self.user, self.story, self.turn = user, story, turn
        self._choices: dict[str, ModelChoice] | None = None

    def _choice(self, agent: str) -> ModelChoice:
        """The story's choice for ``agent``, else the player's own (the account's), else the operator's;
        read once per caller (one turn, or one Dreamer task)."""
        if self._choices is None:
            with acting_as(self.user):
                account_choices = selectors.model_choices(user=self.user)
            self._choices = choices_for(account_choices=account_choices, story_overrides=self.story.llm_overrides)
        return self._choices[agent]

    def complete(self, request: LLMRequest) -> Completion:
        started, choice = time.monotonic(), self._choice(request.agent)
        try:
            provider, connection = provider_for(choice)
            completion = provider.complete(request)
        except LLMError as error:
            self._record(request.agent, choice.connection, choice.model, started, error=str(error))
            raise
        # Reasoning in the content is never an agent's answer (a summary, a plan): the agents get what is left.
        # A JSON answer keeps it: the parser strips it by the same rule, and still finds an answer a model
        # wrote inside a block it never closed (cut off mid-thought) before asking for a repair.
        visible, reasoning = reasoning_split(completion.text)
        completion = dataclasses.replace(completion, text=completion.text if request.json_mode else visible,
                                         reasoning="\n\n".join(filter(None, [completion.reasoning, reasoning])))
        self._record(request.agent, choice.connection, completion.model, started, completion=completion,
                     cost=connection.cost_usd(completion.model, completion.prompt_tokens, completion.completion_tokens))
        return completion

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        started, choice = time.monotonic(), self._choice(request.agent)
        try:
            provider, connection = provider_for(choice)
            for piece in provider.stream(request):
                if isinstance(piece, Completion):
                    self._record(request.agent, choice.connection, piece.model, started, completion=piece,
                                 cost=connection.cost_usd(piece.model, piece.prompt_tokens, piece.completion_tokens))
                yield piece
        except LLMError as error:
            self._record(request.agent, choice.connection, choice.model, started, error=str(error))
            raise

    def record_local(self, agent: str, *, model: str, tokens: int, started: float) -> None:
        """Work done here rather than by an LLM (the Preprocessor's retrieval): latency, no cost."""
        self._record(agent, "local", model, started,
                     completion=Completion(text="", prompt_tokens=tokens, completion_tokens=0, provider="local",
                                           model=model))

    def _record(self, agent, provider, model, started, *, completion: Completion | None = None,
                cost: Decimal = Decimal(0), error: str = ""):
        seconds, status = time.monotonic() - started, AgentCall.Status.ERROR if error else AgentCall.Status.OK
        with acting_as(self.user):
            AgentCall.objects.create(
                user_id=self.story.user_id, story_id=self.story.pk, turn_id=getattr(self.turn, "pk", None),
                agent=agent, provider=provider, model=model[:120],
                prompt_tokens=completion.prompt_tokens if completion else 0,
                completion_tokens=completion.completion_tokens if completion else 0,
                cost_usd=cost, latency_ms=int(seconds * 1000), status=status, error=error[:2000],
                reasoning=completion.reasoning[:REASONING_KEPT_CHARS] if completion else "",
            )
        metrics.AGENT_CALLS.labels(agent=agent, provider=provider, status=status).inc()
        metrics.AGENT_LATENCY.labels(agent=agent, provider=provider).observe(seconds)
        metrics.AGENT_COST.labels(agent=agent, provider=provider).inc(float(cost))
