"""The Writer: prose from the Strategist's template, streamed piece by piece where the provider streams."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..contracts import ResponseTemplate, StrategistBriefing
from ..llm import Completion, LLMRequest
from .prompts import WRITER_SYSTEM, briefing_block, briefing_laid_out


def request_for(briefing: StrategistBriefing, template: ResponseTemplate, *, attempt: int = 0) -> LLMRequest:
    messages = [
        {"role": "system", "content": WRITER_SYSTEM},
        {"role": "user", "content": "Write the next passage from this plan and story.\n"
                                    + briefing_block(briefing_laid_out(briefing.for_agents(), plan=template.model_dump()))},
    ]
    payload = {"task": "write", "template": template.model_dump(), "briefing": briefing.for_agents(),
               "attempt": attempt}
    return LLMRequest(agent="writer", messages=messages, payload=payload,
                      max_tokens=max(200, template.target_length * 2))


@dataclass(frozen=True)
class Passage:
    text: str
    # The player stopped the Writer: ``text`` is what it had written by then, every piece the player saw.
    stopped: bool = False


def write(briefing: StrategistBriefing, template: ResponseTemplate,
          stream: Callable[[LLMRequest], Iterator[str | Completion]], on_text: Callable[[str], None] | None = None,
          *, attempt: int = 0, stop_requested: Callable[[], bool] | None = None) -> Passage:
    pieces, written, passage = stream(request_for(briefing, template, attempt=attempt)), [], Passage("")
    for piece in pieces:
        if isinstance(piece, Completion):
            passage = Passage(piece.text.strip())
        # Asked between pieces: a piece that arrives after the Stop is neither shown nor kept.
        elif stop_requested is not None and stop_requested():
            pieces.close()  # closes the model's stream at once: no more tokens are asked for
            return Passage("".join(written).strip(), stopped=True)
        else:
            written.append(piece)
            if on_text is not None:
                on_text(piece)
    return passage
