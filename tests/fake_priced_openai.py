"""An OpenAI-compatible server that answers every request by its kind, for many turns at once: a plan to a
JSON request, a streamed passage to a streamed one. It bills the worst case a budget must cover: every
call's usage is its prompt's characters / 4 and all of its ``max_tokens`` (tests/narrative_pipeline/
test_budgets.py, bench/budgets.py)."""

from __future__ import annotations

import json

from .fake_openai import FakeOpenAI, ok, stream

PLAN = {"beats": [{"description": "The lamp gutters", "priority": "high"}], "tone": "tense", "pacing": "brisk",
        "target_length": 120}
PASSAGE = ["The lamp ", "gutters, ", "and the dark leans in."]


def priced_answer(body: dict) -> dict:
    prompt = sum(len(str(message.get("content", ""))) for message in body["messages"])
    tokens = {"prompt_tokens": prompt // 4, "completion_tokens": body.get("max_tokens") or 800}
    return stream(PASSAGE, **tokens) if body.get("stream") else ok(json.dumps(PLAN), **tokens)


class PricedOpenAI(FakeOpenAI):
    def __init__(self):
        super().__init__()
        self.answer = priced_answer

    @property
    def calls(self) -> int:
        """The calls it answered (a model list asked for is no call)."""
        return sum(1 for request in self.requests if "body" in request)
