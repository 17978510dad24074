"""The Strategist: plans the passage as a validated ``ResponseTemplate``. The answer is read leniently
(``structured.parse_plan``); only what no lenient reading can fix costs the one repair call."""

from __future__ import annotations

from collections.abc import Callable

from ..contracts import ResponseTemplate, StrategistBriefing
from ..llm import Completion, LLMError, LLMRequest
from ..llm.reasoning import reasoning_split
from .prompts import STRATEGIST_SYSTEM, briefing_block, briefing_laid_out
from .structured import NoValidObject, parse_plan


def plan(briefing: StrategistBriefing, complete: Callable[[LLMRequest], Completion]) -> ResponseTemplate:
    messages = [
        {"role": "system", "content": STRATEGIST_SYSTEM},
        {"role": "user", "content": "Plan the next passage.\n" + briefing_block(briefing_laid_out(briefing.for_agents()))},
    ]
    payload = {"task": "plan", "briefing": briefing.for_agents()}
    answer = complete(LLMRequest(agent="strategist", messages=messages, payload=payload, json_mode=True,
                                 contract=ResponseTemplate, temperature=0.4)).text
    try:
        return parse_plan(answer)
    except NoValidObject as error:
        repair = messages + [
            {"role": "assistant", "content": reasoning_split(answer)[0]},  # its answer, not its thinking
            {"role": "user", "content": f"That was not a valid plan ({error}). "
                                        "Answer with the corrected JSON object only."},
        ]
        answer = complete(LLMRequest(agent="strategist", messages=repair, payload={**payload, "repair": True},
                                     json_mode=True, contract=ResponseTemplate, temperature=0.2)).text
        try:
            return parse_plan(answer)
        except NoValidObject as second:
            raise LLMError(f"The Strategist's plan was not valid twice: {second}") from second
