"""The Writer: prose from the Strategist's template, streamed piece by piece where the provider streams."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..contracts import ResponseTemplate, StrategistBriefing
from ..llm import Completion, LLMRequest
from .prompts import WRITER_SYSTEM, data_block


def request_for(briefing: StrategistBriefing, template: ResponseTemplate, *, attempt: int = 0) -> LLMRequest:
    messages = [
        {"role": "system", "content": WRITER_SYSTEM},
        {"role": "user", "content": "Write the next passage from this plan and story.\n"
                                    + data_block({"plan": template.model_dump(), "story": briefing.for_agents()})},
    ]
    payload = {"task": "write", "template": template.model_dump(), "briefing": briefing.for_agents(),
               "attempt": attempt}
    return LLMRequest(agent="writer", messages=messages, payload=payload,
                      max_tokens=max(200, template.target_length * 2))


def write(briefing: StrategistBriefing, template: ResponseTemplate,
          stream: Callable[[LLMRequest], Iterator[str | Completion]], on_text: Callable[[str], None] | None = None,
          *, attempt: int = 0) -> str:
    prose = ""
    for piece in stream(request_for(briefing, template, attempt=attempt)):
        if isinstance(piece, Completion):
            prose = piece.text
        elif on_text is not None:
            on_text(piece)
    return prose.strip()
