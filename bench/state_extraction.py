"""State extraction: precision and recall per field on the held-out action → state-change pairs
(tests/data/state_cases.json), for the deterministic rules in narrative_pipeline/state_extraction.py.

A fact is a location reached, an item gained or lost ("+ rope", "- brass lantern"), or a character
entering or leaving; names are compared case-folded without a leading "the". Precision = facts found that
were expected / facts found; recall = facts expected that were found / facts expected (1.0 when there is
nothing to find). Each suite was written before the rules were run on it; general fixes followed the
first runs of the first three, so only the last suite is still held out (BENCHMARKS.md gives every suite's
first-run figures).
"""

import json
import re
from pathlib import Path

from narrative_pipeline.state_extraction import Scene, state_change

TITLE = "State extraction: precision and recall on held-out actions"
CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "state_cases.json"
FIELDS = ("location", "items", "presence")


def _name(text: str) -> str:
    return re.sub(r"^the\s+", "", " ".join(text.split()).casefold())


def _facts(location, gained, lost, entering, leaving) -> dict[str, set]:
    return {"location": {_name(location)} if location else set(),
            "items": {("+", _name(item)) for item in gained} | {("-", _name(item)) for item in lost},
            "presence": {("+", _name(name)) for name in entering} | {("-", _name(name)) for name in leaving}}


def load_suites() -> list[dict]:
    """The suites, each with its ``name``, ``scene`` and ``cases``."""
    return json.loads(CASES.read_text())["suites"]


def case_results(scene_data: dict, cases: list[dict]) -> list[tuple[dict, dict, dict]]:
    """(case, expected facts, found facts) for each case."""
    results = []
    for case in cases:
        given = {**scene_data, **case.get("scene", {})}
        scene = Scene(location=given["location"], present=tuple(given["present"]), inventory=tuple(given["inventory"]),
                      cast=tuple(given["cast"]), player=given["player"], places=tuple(given["places"]))
        change = state_change(case["action"], scene=scene, prose=case.get("prose", ""))
        expected = _facts(case.get("location"), case.get("items_gained", []), case.get("items_lost", []),
                          case.get("entering", []), case.get("leaving", []))
        found = _facts(change.location, change.items_gained, change.items_lost, change.entering, change.leaving)
        results.append((case, expected, found))
    return results


def scores(results) -> dict[str, tuple[float, float, int, int, int]]:
    """Per field: precision, recall, true positives, found, expected."""
    table = {}
    for field in FIELDS:
        hits = sum(len(expected[field] & found[field]) for _, expected, found in results)
        found = sum(len(found[field]) for _, _, found in results)
        expected = sum(len(expected[field]) for _, expected, _ in results)
        table[field] = (hits / found if found else 1.0, hits / expected if expected else 1.0, hits, found, expected)
    return table


def run() -> str:
    suites = load_suites()
    lines = [f"{sum(len(suite['cases']) for suite in suites)} cases in {len(suites)} suites "
             "(tests/data/state_cases.json), offline rules, no model.", ""]
    everything = []
    for suite in suites:
        results = case_results(suite["scene"], suite["cases"])
        everything += results
        lines += [f"**{suite['name']}** ({len(suite['cases'])} cases)", "",
                  "| field | precision | recall | right / found / expected |", "|---|---|---|---|"]
        for field, (precision, recall, hits, found, expected) in scores(results).items():
            lines.append(f"| {field} | {precision:.2f} | {recall:.2f} | {hits} / {found} / {expected} |")
        misses = [case["action"] for case, expected, found in results if expected != found]
        lines += ["", f"Not exactly right: {len(misses)} of {len(results)}"
                  + (": " + "; ".join(f"“{action}”" for action in misses) if misses else "."), ""]
    lines += ["**all**", "", "| field | precision | recall |", "|---|---|---|"]
    lines += [f"| {field} | {precision:.2f} | {recall:.2f} |" for field, (precision, recall, *_) in scores(everything).items()]
    return "\n".join(lines)
