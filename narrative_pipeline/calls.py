"""Every LLM call of the writers' room, timed and recorded as an ``AgentCall`` (DESIGN §3)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from decimal import Decimal

from accounts.rls import acting_as
from core import metrics

from . import budgets, selectors
from .llm import OFFLINE, OFFLINE_MODEL, Completion, LLMError, LLMRequest, approximate_tokens
from .llm.connections import ModelChoice, choice_source, choices_for, provider_for
from .llm.reasoning import reasoning_split
from .models import AgentCall

# How much of a call's reasoning the writers' room keeps: enough to see why, not a model's whole monologue.
REASONING_KEPT_CHARS = 20_000


class AgentCaller:
    """Calls providers for one story (and turn), as its owner, recording each call. A ``replay`` caller
    uses its ``choice`` for every agent, and its calls are marked as the replay's."""

    def __init__(self, *, user, story, turn=None, replay=None, reserves_each_call: bool = False):
        self.user, self.story, self.turn, self.replay = user, story, turn, replay
        # The Dreamer's work comes after its turn's reservation is settled: each of its paid calls reserves its
        # own estimate, and past a cap goes to the offline narrator instead (the story's memory is still kept,
        # for free), so a cap stays hard.
        self.reserves_each_call = reserves_each_call
        self._choices: dict[str, ModelChoice] | None = None
        self._sources: dict[str, str] = {}

    def _choice(self, agent: str) -> ModelChoice:
        """The story's choice for ``agent``, else the player's own (the account's), else the operator's;
        read once per caller (one turn, or one Dreamer task)."""
        if self.replay is not None:
            return ModelChoice(self.replay.connection, self.replay.model)
        if self._choices is None:
            with acting_as(self.user):
                account_choices = selectors.model_choices(user=self.user)
            self._choices = choices_for(account_choices=account_choices, story_overrides=self.story.llm_overrides)
            self._sources = {name: choice_source(name, choice, account_choices=account_choices,
                                                 story_overrides=self.story.llm_overrides)
                             for name, choice in self._choices.items()}
        return self._choices[agent]

    def complete(self, request: LLMRequest) -> Completion:
        started, choice = time.monotonic(), self._choice(request.agent)
        reservation = None
        if self.reserves_each_call:
            try:
                reservation = budgets.turn_reserve(
                    user=self.user, story=self.story,
                    estimate_usd=budgets.call_estimate_usd(choice=choice, request=request))
            except budgets.BudgetExceeded:
                choice = ModelChoice(OFFLINE, OFFLINE_MODEL)
        try:
            return self._complete(request, choice, started)
        finally:  # after the call's cost is recorded as spent: the reservation held it until then
            budgets.turn_settle(user=self.user, reservation=reservation)

    def _complete(self, request: LLMRequest, choice: ModelChoice, started: float) -> Completion:
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
        self._record_answered(request.agent, choice, connection, started, completion)
        return completion

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        started, choice = time.monotonic(), self._choice(request.agent)
        written: list[str] = []
        try:
            provider, connection = provider_for(choice)
            pieces = provider.stream(request)
            for piece in pieces:
                if isinstance(piece, Completion):
                    self._record_answered(request.agent, choice, connection, started, piece)
                else:
                    written.append(piece)
                yield piece
        except LLMError as error:
            self._record(request.agent, choice.connection, choice.model, started, error=str(error))
            raise
        except GeneratorExit:
            if isinstance(piece, Completion):
                raise  # closed after its last piece: already recorded
            # The reader stopped (the player's Stop): the model's stream is closed now, so no more tokens are
            # asked for, and the call is recorded as stopped with what it sent (counted, as the server would).
            pieces.close()
            text = "".join(written)
            prompt_tokens = approximate_tokens("\n".join(str(m.get("content", "")) for m in request.messages))
            stopped = Completion(text=text, prompt_tokens=prompt_tokens, completion_tokens=approximate_tokens(text),
                                 provider=choice.connection, model=choice.model)
            self._record_answered(request.agent, choice, connection, started, stopped,
                                  status=AgentCall.Status.STOPPED)
            raise

    def record_local(self, agent: str, *, model: str, tokens: int, started: float) -> None:
        """Work done here rather than by an LLM (the Preprocessor's retrieval): latency, no cost."""
        self._record(agent, "local", model, started,
                     completion=Completion(text="", prompt_tokens=tokens, completion_tokens=0, provider="local",
                                           model=model))

    def _record_answered(self, agent: str, choice: ModelChoice, connection, started: float, completion: Completion,
                         *, status: str = "") -> None:
        """A call with an answer (whole, or what it wrote before a Stop), priced at its connection's prices
        for the model that answered, with what the prompt cache saved."""
        model, tokens_in, cached = completion.model, completion.prompt_tokens, completion.cached_tokens
        self._record(agent, choice.connection, model, started, completion=completion, status=status,
                     cost=connection.cost_usd(model, tokens_in, completion.completion_tokens, cached),
                     saved=connection.cache_saved_usd(model, tokens_in, cached))

    def _record(self, agent, provider, model, started, *, completion: Completion | None = None,
                cost: Decimal = Decimal(0), saved: Decimal = Decimal(0), error: str = "", status: str = ""):
        seconds = time.monotonic() - started
        status = status or (AgentCall.Status.ERROR if error else AgentCall.Status.OK)
        with acting_as(self.user):
            AgentCall.objects.create(
                user_id=self.story.user_id, story_id=self.story.pk, turn_id=getattr(self.turn, "pk", None),
                agent=agent, provider=provider, model=model[:120],
                prompt_tokens=completion.prompt_tokens if completion else 0,
                completion_tokens=completion.completion_tokens if completion else 0,
                cached_tokens=completion.cached_tokens if completion else 0, cache_saved_usd=saved,
                cost_usd=cost, latency_ms=int(seconds * 1000), status=status, error=error[:2000],
                reasoning=completion.reasoning[:REASONING_KEPT_CHARS] if completion else "",
                routing="replay" if self.replay is not None else self._sources.get(agent, ""),
                replay_id=getattr(self.replay, "pk", None),
            )
        metrics.AGENT_CALLS.labels(agent=agent, provider=provider, status=status).inc()
        metrics.AGENT_LATENCY.labels(agent=agent, provider=provider).observe(seconds)
        metrics.AGENT_COST.labels(agent=agent, provider=provider).inc(float(cost))
