"""Divergence between a chapter and the story (DESIGN §4), and which healing tier it calls for.

score = 0.7 × (unmet conditions / all conditions) + 0.3 × (1 − cosine similarity), cosine
clipped to [0, 1]; with no conditions the hard part is 0. Tiers, half-open: [0, t) on track,
[t, 0.7) relax, [0.7, 0.9) adapt, [0.9, 1] or an impossible critical condition: alternate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .triggers import ConditionResult

HARD_WEIGHT, SOFT_WEIGHT = 0.7, 0.3
ADAPT_FROM, ALTERNATE_FROM = 0.7, 0.9
Tier = Literal["none", "relax", "adapt", "alternate"]


@dataclass(frozen=True)
class Divergence:
    score: float
    hard: float
    soft: float
    unmet: list[str]
    similarity: float
    impossible: list[str]

    def as_dict(self) -> dict:
        return {"score": round(self.score, 4), "hard": round(self.hard, 4), "soft": round(self.soft, 4),
                "unmet": self.unmet, "similarity": round(self.similarity, 4), "impossible": self.impossible}


def divergence(conditions: ConditionResult, similarity: float) -> Divergence:
    total = len(conditions.met)
    hard = HARD_WEIGHT * (len(conditions.unmet) / total) if total else 0.0
    clipped = min(1.0, max(0.0, similarity))
    soft = SOFT_WEIGHT * (1 - clipped)
    return Divergence(score=hard + soft, hard=hard, soft=soft, unmet=conditions.unmet, similarity=clipped,
                      impossible=list(conditions.impossible))


def tier(result: Divergence, *, threshold: float, allow_divergence: bool = True) -> Tier:
    if not allow_divergence:
        return "none"
    if result.impossible or result.score >= ALTERNATE_FROM:
        return "alternate"
    if result.score >= ADAPT_FROM:
        return "adapt"
    if result.score >= threshold:
        return "relax"
    return "none"
