"""Budgets with a hard cap: what a story, and an account in a calendar month (UTC), may spend on models.

A cap only limits paid calls (USD at the connection's prices, ``Connection.cost_usd``): the offline narrator
costs nothing and always plays. The account's monthly cap is its tier's (``LUNA_MONTHLY_BUDGET_USD``), or
lower if the player set one; a story may have its own cap on top. Both belong to the story's owner, whoever
plays the turn.

Reserve before, settle after, on rows the database keeps (migration 0021): before a turn's first model call,
``turn_reserve`` estimates the turn's worst case (the chosen models' prices × the briefing's size and each
call's ``max_tokens``) and, in one short transaction holding both spend rows locked, refuses it if
spent + reserved + estimate would pass a cap, else holds the estimate as reserved. The calls' real costs
are added to "spent" by a trigger as each ``AgentCall`` is recorded; ``turn_settle`` then drops the
reservation. So concurrent turns at the cap cannot all pass: each sees the others' reservations, and
spending passes a cap only if a turn's real cost beats its estimate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from django.conf import settings
from django.db import connection as database
from django.urls import reverse
from django.utils import timezone

from accounts.quotas import tier_in_effect
from accounts.rls import acting_as
from core.errors import DomainError

from . import selectors
from .agents.prompts import STRATEGIST_SYSTEM, WRITER_SYSTEM
from .contracts import ResponseTemplate, StrategistBriefing
from .llm import LLMRequest
from .llm.connections import ModelChoice, choices_for, connection_named
from .models import MonthlySpend, Story, StorySpend

# Warnings at these shares of a cap (the story page and the profile show the highest reached).
WARNING_LEVELS = (100, 80, 50)
# Characters per token for the estimate: 3, where providers' tokenizers average about 4 for English, so a
# turn in another language or heavy in JSON still fits its reservation.
CHARS_PER_TOKEN = 3
# What the Writer's prompt adds to the briefing: the Strategist's plan (at most this many tokens).
PLAN_TOKENS = LLMRequest.max_tokens
# The Writer's max_tokens for the longest passage a plan may ask for (agents/writer.py).
WRITER_MAX_TOKENS = max(200, next(rule.le for rule in ResponseTemplate.model_fields["target_length"].metadata
                                  if hasattr(rule, "le")) * 2)


# How a refusal's message opens: the story page knows a turn refused for its budget by it.
REFUSAL_OPENING = "This turn could cost up to"


class BudgetExceeded(DomainError):
    """A paid turn that would pass a cap: the API answers 402 with ``code: budget_exceeded``."""

    def __init__(self, *, scope: str, cap: Decimal, spent: Decimal, estimate: Decimal, story_id):
        where = "this story's budget" if scope == "story" else "your monthly budget"
        message = (f"{REFUSAL_OPENING} ${estimate:.4f}, which would pass {where} of ${cap:.2f} "
                   f"(${spent:.4f} spent or held). Raise the budget, or switch the Writer to a cheaper model or "
                   "to the offline narrator, which is free and always plays.")
        super().__init__("budget_exceeded", message, details={
            "scope": scope, "cap_usd": str(cap), "spent_usd": str(spent), "estimate_usd": str(estimate),
            "budget_url": (reverse("story-detail", args=[story_id]) + "#budget") if scope == "story"
            else reverse("profile") + "#budget",
            "models_url": reverse("story-models", args=[story_id]),
        })
        self.scope = scope


@dataclass(frozen=True)
class Budget:
    """One cap and what is counted against it, for the API and the pages."""

    cap_usd: Decimal | None  # None: no cap
    spent_usd: Decimal
    reserved_usd: Decimal

    @property
    def remaining_usd(self) -> Decimal | None:
        return None if self.cap_usd is None else max(self.cap_usd - self.spent_usd - self.reserved_usd, Decimal(0))

    @property
    def warning_level(self) -> int:
        """The highest of 50/80/100 (% of the cap) that spent + reserved has reached; 0 below half or uncapped."""
        if self.cap_usd is None:
            return 0
        used = self.spent_usd + self.reserved_usd
        return next((level for level in WARNING_LEVELS if used >= self.cap_usd * level / 100), 0)

    def as_dict(self) -> dict:
        return {"cap_usd": _money(self.cap_usd), "spent_usd": _money(self.spent_usd),
                "reserved_usd": _money(self.reserved_usd), "remaining_usd": _money(self.remaining_usd),
                "warning_level": self.warning_level}


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount.quantize(Decimal("0.000001")))


# -- Caps ------------------------------------------------------------------------------------


def tier_monthly_cap(tier: str, subscription_expires_at=None) -> Decimal | None:
    return settings.LUNA_MONTHLY_BUDGET_USD.get(tier_in_effect(tier, subscription_expires_at))


def monthly_cap(*, tier: str, subscription_expires_at, own_cap: Decimal | None) -> Decimal | None:
    """The tier's cap, or the player's own if lower: a player's number can only lower it, so writing a higher
    one into the column (it is theirs to write) changes nothing."""
    tier_cap = tier_monthly_cap(tier, subscription_expires_at)
    if own_cap is None:
        return tier_cap
    return own_cap if tier_cap is None else min(own_cap, tier_cap)


# -- Estimating ---------------------------------------------------------------------------------


def _prompt_tokens(chars: int) -> int:
    """A prompt of ``chars`` characters in tokens, counted high (``CHARS_PER_TOKEN``, and 100 for the roles)."""
    return math.ceil(chars / CHARS_PER_TOKEN) + 100


def _priced(choice: ModelChoice, prompt_tokens: int, completion_tokens: int) -> Decimal:
    connection = connection_named(choice.connection)
    return Decimal(0) if connection is None else connection.cost_usd(choice.model, prompt_tokens, completion_tokens)


def turn_estimate_usd(*, user, story: Story, briefing: StrategistBriefing) -> Decimal:
    """The most this turn's model calls may cost: the Strategist's plan and its one repair, then the Writer's
    longest passage, each prompt the briefing in full, at the prices of the models chosen for them."""
    with acting_as(user):
        account_choices = selectors.model_choices(user=user)
    choices = choices_for(account_choices=account_choices, story_overrides=story.llm_overrides)
    briefing_chars = len(json.dumps(briefing.for_agents(), ensure_ascii=False))
    strategist_prompt = _prompt_tokens(len(STRATEGIST_SYSTEM) + briefing_chars)
    # The repair call resends the prompt with the first answer.
    calls = [("strategist", strategist_prompt, PLAN_TOKENS),
             ("strategist", strategist_prompt + PLAN_TOKENS + 100, PLAN_TOKENS),
             ("writer", _prompt_tokens(len(WRITER_SYSTEM) + briefing_chars) + PLAN_TOKENS, WRITER_MAX_TOKENS)]
    return sum((_priced(choices[agent], prompt_tokens, completion_tokens)
                for agent, prompt_tokens, completion_tokens in calls), Decimal(0))


def call_estimate_usd(*, choice: ModelChoice, request: LLMRequest) -> Decimal:
    """The most one call may cost: its prompt as written and its ``max_tokens`` at ``choice``'s prices (work
    outside a turn's reservation: the Dreamer's, a replay's Writer)."""
    prompt_chars = sum(len(str(message.get("content", ""))) for message in request.messages)
    return _priced(choice, _prompt_tokens(prompt_chars), request.max_tokens)


# -- Reserving and settling ----------------------------------------------------------------------


def turn_reserve(*, user, story: Story, estimate_usd: Decimal) -> str | None:
    """Hold ``estimate_usd`` against the story's and its owner's month's caps, or raise ``BudgetExceeded``
    before any call. A free turn holds nothing and is never refused. Returns the reservation to settle."""
    if estimate_usd <= 0:
        return None
    with acting_as(user), database.cursor() as cursor:
        cursor.execute("SELECT * FROM luna_budget_lock(%s)", [story.pk])
        (tier, expires_at, own_cap, story_cap, month_spent, month_reserved,
         story_spent, story_reserved) = cursor.fetchone()
        month_cap = monthly_cap(tier=tier, subscription_expires_at=expires_at, own_cap=own_cap)
        for scope, cap, used in (("story", story_cap, story_spent + story_reserved),
                                 ("month", month_cap, month_spent + month_reserved)):
            if cap is not None and used + estimate_usd > cap:
                raise BudgetExceeded(scope=scope, cap=cap, spent=used, estimate=estimate_usd, story_id=story.pk)
        cursor.execute("SELECT luna_budget_reserve(%s, %s)", [story.pk, estimate_usd])
        return str(cursor.fetchone()[0])


def turn_settle(*, user, reservation: str | None) -> None:
    """Release the turn's reservation: what its calls really cost is already counted as spent (a failed or
    stopped turn counts what it used, no more)."""
    if reservation is None:
        return
    with acting_as(user), database.cursor() as cursor:
        cursor.execute("SELECT luna_budget_settle(%s)", [reservation])


# -- Reading and setting the caps -------------------------------------------------------------------


def _this_month():
    return timezone.now().astimezone(UTC).date().replace(day=1)


def account_budget(*, user) -> Budget:
    """The player's monthly budget. Runs inside ``acting_as(user)``."""
    row = MonthlySpend.objects.filter(user_id=user.pk, month=_this_month()).first()
    cap = monthly_cap(tier=user.tier, subscription_expires_at=user.subscription_expires_at,
                      own_cap=user.monthly_budget_usd)
    return Budget(cap, row.spent_usd if row else Decimal(0), row.reserved_usd if row else Decimal(0))


def story_budget(*, story: Story) -> Budget:
    """The story's own budget (``cap_usd`` None: it has none). Runs inside ``acting_as``."""
    row = StorySpend.objects.filter(story_id=story.pk).first()
    return Budget(story.budget_usd, row.spent_usd if row else Decimal(0), row.reserved_usd if row else Decimal(0))


def story_budget_set(*, user, story_id, budget_usd: Decimal | None) -> Story:
    """Set or clear (None) a story's cap; only its owner may."""
    with acting_as(user):
        story = Story.objects.select_for_update().get(pk=story_id, user_id=user.pk)
        story.budget_usd = budget_usd
        story.save(update_fields=["budget_usd", "updated_at"])
    return story


def account_budget_set(*, user, budget_usd: Decimal | None) -> None:
    """Set the player's own monthly cap (None: the tier's). Higher than the tier's is refused: it would
    change nothing, and the player should know."""
    tier_cap = tier_monthly_cap(user.tier, user.subscription_expires_at)
    if budget_usd is not None and tier_cap is not None and budget_usd > tier_cap:
        raise DomainError("invalid", f"Your tier's monthly budget is ${tier_cap:.2f}: set that or less.",
                          field="monthly_budget_usd")
    with acting_as(user):
        user.monthly_budget_usd = budget_usd
        user.save(update_fields=["monthly_budget_usd"])
