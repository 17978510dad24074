"""The Strategist: plans the passage as a validated ``ResponseTemplate`` (one repair retry)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from pydantic import ValidationError

from ..contracts import ResponseTemplate, StrategistBriefing
from ..llm import Completion, LLMError, LLMRequest
from .prompts import STRATEGIST_SYSTEM, data_block


def parse_template(text: str) -> ResponseTemplate:
    """The JSON object in the answer (models wrap it in prose or code fences), validated."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if not match:
        raise ValueError("no JSON object in the answer")
    return ResponseTemplate.model_validate(json.loads(match.group(0)))


def plan(briefing: StrategistBriefing, complete: Callable[[LLMRequest], Completion]) -> ResponseTemplate:
    messages = [
        {"role": "system", "content": STRATEGIST_SYSTEM},
        {"role": "user", "content": "Plan the next passage.\n" + data_block(briefing.for_agents())},
    ]
    payload = {"task": "plan", "briefing": briefing.for_agents()}
    answer = complete(LLMRequest(agent="strategist", messages=messages, payload=payload, json_mode=True,
                                 temperature=0.4)).text
    try:
        return parse_template(answer)
    except (ValueError, ValidationError) as error:
        repair = messages + [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": f"That was not a valid plan ({_reason(error)}). "
                                        "Answer with the corrected JSON object only."},
        ]
        answer = complete(LLMRequest(agent="strategist", messages=repair, payload={**payload, "repair": True},
                                     json_mode=True, temperature=0.2)).text
        try:
            return parse_template(answer)
        except (ValueError, ValidationError) as second:
            raise LLMError(f"The Strategist's plan was not valid twice: {_reason(second)}") from second


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return str(error)[:200]
