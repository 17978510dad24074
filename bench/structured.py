"""Structured output: time to read a plan from a model's answer (p50/p95), and the share of answers that would
need the Strategist's repair call, on a mix of answers written as real models write them.

The mix: the fake server's quirky plans (tests/fake_openai.py QUIRKY_PLANS), then seeded random plans each
written with one to three quirks at once (reasoning with a draft inside, fences, prose with braces, capitalised
enums and synonyms, beats as strings, worded lengths, trailing commas, single quotes). The greedy regex +
``json.loads`` the Strategist used before is measured on the same mix for comparison.
"""

import contextlib
import json
import random
import re
import statistics
import time

from narrative_pipeline.agents.structured import NoValidObject, parse_plan
from narrative_pipeline.contracts import ResponseTemplate
from tests.fake_openai import QUIRKY_PLANS

TITLE = "Structured output: reading a plan from real models' answers"
ANSWERS, ROUNDS, SEED = 2_000, 5, 15
WORDS = ["lantern", "tide", "Hale", "bell", "rope", "gull", "wreck", "chapel", "storm", "seal", "Wren", "harbour"]
PACING_WORDS = {"slow": "Leisurely", "measured": "Steady", "brisk": "Fast", "urgent": "FRANTIC"}
PRIORITY_WORDS = {"high": "Critical", "medium": "Normal", "low": "Optional"}


def _plan(rng: random.Random) -> dict:
    beats = [{"description": " ".join(rng.choices(WORDS, k=rng.randint(3, 9))).capitalize(),
              "priority": rng.choice(list(PRIORITY_WORDS))} for _ in range(rng.randint(1, 6))]
    return {"beats": beats, "tone": rng.choice(["uneasy", "warm", "grim"]), "pacing": rng.choice(list(PACING_WORDS)),
            "target_length": rng.randrange(80, 600, 10),
            "state_updates": {"flags_set": rng.sample(WORDS, rng.randint(0, 2))}}


def _loosened(plan: dict, rng: random.Random) -> str:
    """The plan as JSON text with the quirks that live inside the object."""
    loose = json.loads(json.dumps(plan))
    quirks = rng.sample(["enums", "strings", "length", "commas", "quotes"], rng.randint(0, 2))
    if "enums" in quirks:
        loose["pacing"] = PACING_WORDS[loose["pacing"]]
        for beat in loose["beats"]:
            beat["priority"] = PRIORITY_WORDS[beat["priority"]]
    if "strings" in quirks:
        loose["beats"] = [beat["description"] for beat in loose["beats"]]
    if "length" in quirks:
        loose["target_length"] = f"about {loose['target_length']} words"
    text = repr(loose) if "quotes" in quirks else json.dumps(loose, indent=rng.choice([None, 2]))
    return re.sub(r"([^\[{,\s])(\s*[}\]])", r"\1,\2", text) if "commas" in quirks else text


def _answer(rng: random.Random) -> str:
    """A random plan wrapped as a model might: reasoning with a draft, fences, prose with braces."""
    text = _loosened(_plan(rng), rng)
    wrappers = rng.sample(["reasoning", "fence", "prose_before", "prose_after"], rng.randint(1, 3))
    if "fence" in wrappers:
        text = f"```json\n{text}\n```"
    if "prose_before" in wrappers:
        text = "Here is the plan {as asked}:\n" + text
    if "prose_after" in wrappers:
        text += "\nI kept the {tone} steady; change {pacing} if you like."
    if "reasoning" in wrappers:
        draft = json.dumps({"beats": [{"description": "a draft"}]})
        text = f"<think>The player acts. First idea: {draft}. No, better.</think>\n{text}"
    return text


def _old_parse(text: str) -> ResponseTemplate:
    """The Strategist's parser before structured.py: a greedy regex and json.loads."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if not match:
        raise ValueError("no JSON object in the answer")
    return ResponseTemplate.model_validate(json.loads(match.group(0)))


def _share_failing(parse, answers: list[str]) -> float:
    failed = 0
    for answer in answers:
        try:
            parse(answer)
        except (NoValidObject, ValueError):
            failed += 1
    return failed / len(answers)


def run() -> str:
    rng = random.Random(SEED)
    answers = list(QUIRKY_PLANS.values()) + [_answer(rng) for _ in range(ANSWERS)]
    samples = []
    for _ in range(ROUNDS):
        for answer in answers:
            started = time.perf_counter()
            with contextlib.suppress(NoValidObject):
                parse_plan(answer)
            samples.append((time.perf_counter() - started) * 1_000_000)
    quantiles = statistics.quantiles(samples, n=100)
    sizes = sorted(len(answer) for answer in answers)
    return "\n".join([
        f"{len(answers):,} answers ({len(QUIRKY_PLANS)} from the fake server's quirks, the rest seeded random plans "
        f"with 1–3 quirks each; {sizes[len(sizes) // 2]:,} characters at the median, {sizes[-1]:,} at most), "
        f"each parsed {ROUNDS} times.",
        "",
        "| | |",
        "|---|---|",
        f"| parse time per plan, p50 | {quantiles[49]:.0f} µs |",
        f"| parse time per plan, p95 | {quantiles[94]:.0f} µs |",
        f"| answers needing a repair call (structured.py) | {_share_failing(parse_plan, answers):.1%} |",
        f"| answers needing a repair call (the greedy regex + json.loads before) | "
        f"{_share_failing(_old_parse, answers):.1%} |",
    ])
