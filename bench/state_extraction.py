"""State extraction: precision and recall per field on the held-out action → state-change pairs
(tests/data/state_cases.json), for the deterministic rules in narrative_pipeline/state_extraction.py.

A fact is a location reached, an item gained or lost ("+ rope", "- brass lantern"), or a character
entering or leaving; names are compared case-folded without a leading "the". Precision = facts found that
were expected / facts found; recall = facts expected that were found / facts expected (1.0 when there is
nothing to find). Each suite was written by someone who never saw the rules, before the rules were run on
it; general fixes (never a rule for one case) followed each suite's first run, except for the held-out set
(HELD_OUT), which no fix has seen, so its rows are still its first run. FIRST_RUNS keeps every suite's
first-run figures and EARLIER_HELD_OUT the pooled first runs of the sets held out before it, which no later
run can recompute.
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


# Each suite's figures the first time the rules met it (precision / recall for location, items, presence).
FIRST_RUNS = {
    "first": ("0.95 / 0.83", "0.93 / 0.93", "1.00 / 0.97"),
    "second": ("0.88 / 0.78", "0.77 / 0.91", "0.88 / 0.83"),
    "third": ("1.00 / 0.50", "0.60 / 0.38", "1.00 / 0.44"),
    "fourth": ("1.00 / 0.50", "0.78 / 0.78", "1.00 / 0.67"),
    "fifth": ("1.00 / 0.67", "1.00 / 0.75", "0.94 / 0.70"),
    "sixth": ("0.92 / 0.61", "0.84 / 0.73", "0.92 / 0.70"),
    "seventh": ("1.00 / 0.73", "0.94 / 0.85", "1.00 / 0.71"),
    "eighth": ("0.87 / 0.72", "0.96 / 0.92", "0.97 / 0.80"),
    "ninth": ("0.92 / 0.73", "0.86 / 0.57", "0.93 / 0.68"),
    "tenth": ("1.00 / 0.81", "1.00 / 0.92", "1.00 / 0.70"),
    "eleventh": ("0.71 / 0.36", "0.95 / 0.90", "0.92 / 0.59"),
    "twelfth": ("0.92 / 0.86", "0.89 / 0.81", "0.97 / 0.89"),
    "thirteenth": ("1.00 / 0.91", "0.95 / 0.87", "0.98 / 0.87"),
    "fourteenth": ("0.96 / 1.00", "0.82 / 0.78", "0.97 / 0.98"),
    "fifteenth": ("0.96 / 0.92", "0.95 / 0.81", "1.00 / 0.90"),
    "sixteenth": ("0.95 / 0.83", "1.00 / 0.92", "0.98 / 0.87"),
    "seventeenth": ("0.95 / 0.83", "1.00 / 0.88", "1.00 / 0.88"),
    "eighteenth": ("1.00 / 0.87", "1.00 / 0.81", "1.00 / 0.90"),
    "nineteenth": ("1.00 / 0.78", "1.00 / 0.91", "1.00 / 0.90"),
    "twentieth": ("0.92 / 0.96", "0.91 / 0.88", "0.97 / 0.94"),
    "twenty-first": ("1.00 / 0.96", "1.00 / 0.83", "0.98 / 0.94"),
    "twenty-second": ("0.95 / 0.91", "0.88 / 0.88", "0.95 / 0.84"),
    "twenty-third": ("1.00 / 0.83", "1.00 / 0.92", "1.00 / 0.85"),
    "twenty-fourth": ("1.00 / 1.00", "0.91 / 0.80", "0.98 / 0.93"),
    "twenty-fifth": ("1.00 / 0.76", "0.96 / 0.79", "0.98 / 0.75"),
    "twenty-sixth": ("0.90 / 0.90", "0.95 / 0.81", "0.95 / 0.89"),
    "twenty-seventh": ("0.91 / 0.87", "1.00 / 0.84", "0.94 / 0.88"),
    "twenty-eighth": ("1.00 / 1.00", "0.96 / 0.96", "0.99 / 0.99"),
    "twenty-ninth": ("0.95 / 0.87", "0.95 / 0.88", "0.97 / 0.93"),
    "thirtieth": ("1.00 / 0.96", "0.90 / 0.83", "1.00 / 0.93"),
    "thirty-first": ("0.86 / 0.78", "1.00 / 0.84", "0.97 / 0.86"),
    "thirty-second": ("0.81 / 0.77", "0.92 / 0.92", "0.94 / 0.92"),
    "thirty-third": ("0.90 / 0.86", "0.92 / 0.88", "0.97 / 0.92"),
    "thirty-fourth": ("0.89 / 0.77", "0.91 / 0.80", "1.00 / 0.86"),
    "thirty-fifth": ("0.95 / 0.91", "0.91 / 0.77", "0.97 / 0.87"),
    "thirty-sixth": ("0.94 / 0.68", "0.92 / 0.81", "0.97 / 0.84"),
    "thirty-seventh": ("1.00 / 0.95", "0.96 / 0.89", "0.99 / 0.97"),
    "thirty-eighth": ("0.96 / 1.00", "0.92 / 0.89", "1.00 / 0.99"),
    "thirty-ninth": ("1.00 / 0.90", "0.92 / 0.89", "1.00 / 0.90"),
    "fortieth": ("1.00 / 1.00", "1.00 / 0.93", "1.00 / 0.97"),
    "forty-first": ("1.00 / 0.91", "0.89 / 0.96", "1.00 / 0.91"),
    "forty-second": ("1.00 / 0.91", "0.96 / 0.92", "1.00 / 0.92"),
    "forty-third": ("1.00 / 1.00", "1.00 / 1.00", "0.99 / 0.99"),
    "forty-fourth": ("0.95 / 0.86", "0.93 / 0.96", "0.98 / 0.89"),
}
# The set held out now, named (in a commit) before it was run; pooled, it is the figure the goal is judged on.
HELD_OUT = ("forty-first", "forty-second", "forty-third", "forty-fourth")
# Sets held out before, each named before its run, with their pooled first-run figures (precision / recall for
# location, items, presence), before the fixes their misses prompted.
EARLIER_HELD_OUT = {
    "twenty-fifth, twenty-sixth (140)": ("0.95 / 0.83", "0.96 / 0.80", "0.96 / 0.82"),
    "twenty-ninth, thirtieth (140)": ("0.98 / 0.91", "0.93 / 0.85", "0.99 / 0.93"),
    "thirty-first, thirty-second (140)": ("0.83 / 0.78", "0.96 / 0.88", "0.95 / 0.89"),
    "thirty-third to thirty-sixth (280)": ("0.92 / 0.81", "0.91 / 0.82", "0.98 / 0.87"),
    "thirty-seventh to fortieth (280)": ("0.99 / 0.97", "0.95 / 0.90 (97 of 108, 0.898)", "1.00 / 0.96"),
}


def _row(name: str, count: int, table) -> str:
    return f"| {name} ({count}) | " + " | ".join(
        f"{precision:.2f} / {recall:.2f}" for precision, recall, *_ in table.values()) + " |"


def run() -> str:
    suites = load_suites()
    header = ["| suite (cases) | location P / R | items P / R | presence P / R |", "|---|---|---|---|"]
    lines = [f"{sum(len(suite['cases']) for suite in suites)} cases in {len(suites)} suites "
             "(tests/data/state_cases.json), offline rules, no model. P = precision, R = recall.", "", *header]
    everything, misses = [], []
    for suite in suites:
        results = case_results(suite["scene"], suite["cases"])
        everything += results
        lines.append(_row(suite["name"], len(results), scores(results)))
        wrong = [case["action"] for case, expected, found in results if expected != found]
        misses.append(f"- **{suite['name']}**: {len(wrong)} of {len(results)}"
                      + (": " + "; ".join(f"“{action}”" for action in wrong) if wrong else ""))
    lines += [_row("all", len(everything), scores(everything)), "", "Not exactly right:", "", *misses, ""]
    held_out = [result for suite in suites if suite["name"] in HELD_OUT
                for result in case_results(suite["scene"], suite["cases"])]
    pooled = scores(held_out)
    lines += [f"**Held out: the {', '.join(HELD_OUT)} suites, pooled ({len(held_out)} cases).** Every suite was "
              "written blind to the rules, before they were run on it, and general fixes (never a rule for one case) "
              "followed the first runs of all the others, so their rows above are on phrasing the rules have seen. "
              "The held-out set was named before it was run and no fix has seen it: its rows above are its first run, "
              "the honest figure for phrasing no rule has met.", "", header[0], header[1],
              _row("held out, pooled", len(held_out), pooled), "",
              "The sets held out before it, pooled at their first runs (before the fixes their misses prompted):", "",
              "| held-out set (cases) | location P / R | items P / R | presence P / R |", "|---|---|---|---|"]
    lines += [f"| {name} | " + " | ".join(figures) + " |" for name, figures in EARLIER_HELD_OUT.items()]
    lines += ["", "Every suite's first run:", "", *header]
    lines += [f"| {name} first run | " + " | ".join(figures) + " |" for name, figures in FIRST_RUNS.items()]
    short = [f"{field} {kind} {value:.2f}" for field, (precision, recall, *_) in pooled.items()
             for kind, value in (("precision", precision), ("recall", recall)) if value < 0.9]
    lines += ["", "On the held-out set " + (f"below the 0.9 goal: {', '.join(short)}; the misses are phrasing no "
              "rule has met yet (listed above)." if short else "every field meets the 0.9 goal.")]
    return "\n".join(lines)
