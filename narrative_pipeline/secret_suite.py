"""The secret scenarios (issue #20): scripted stories with secrets, played through the real orchestrator, and
what leaked. ``bench/secrets.py`` runs it with the offline narrator; ``manage.py secrets_check`` against a model.

A scenario is data: a cast (a character may carry a secret description, ``known_by``/``reveal_when``), secrets
(a fact, its knowers, its reveal condition; ``lore_keys`` makes it a lore entry those words call up), chapters
in the ‹chapter-N› text whose beats reveal secrets (``chapter_beat``, ``chapter_completed``), scripted
turns (an action and the state before it, carried forward), and, written by hand for each secret, the turn its
reveal is due (``reveal_turn``, or null for never). The measures, per turn:
- a briefing leaks when a character's block (or the common knowledge every character plans from, or the cast's
  and lore notes the agents share) holds a secret that character does not know and that is not yet revealed;
- a reveal is on time when the secret's ``revealed_at_turn`` is its ``reveal_turn``;
- a passage leaks when it states (folded string match) a secret before its reveal turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from accounts.rls import acting_as
from chapters import chapter_markup
from chapters import services as chapter_services
from chapters.knowledge import services as knowledge_services
from chapters.knowledge.rules import FACTION, PLAYER, mentions
from chapters.models import Knowledge, LoreEntry
from core.task_queue import held

from . import dreams, lore_files, orchestrator
from .models import Turn
from .services import story_create, story_update

SCENARIOS = Path(settings.BASE_DIR) / "bench" / "data" / "secret_scenarios.json"


@dataclass
class SuiteResult:
    scenarios: int = 0
    turns: int = 0
    failed_turns: int = 0
    briefings: int = 0
    blocks: int = 0
    briefing_leaks: list[str] = field(default_factory=list)
    reveals_due: int = 0
    reveals_on_time: int = 0
    reveal_errors: list[str] = field(default_factory=list)
    passages_checked: int = 0  # passages with at least one secret not yet revealed
    passage_leaks: list[str] = field(default_factory=list)
    told_after_reveal: int = 0  # passages that state a revealed secret (the check is not vacuous)

    @property
    def leak_rate(self) -> float:
        return len(self.passage_leaks) / self.passages_checked if self.passages_checked else 0.0


def scenarios_load(path: Path = SCENARIOS) -> list[dict]:
    return json.loads(Path(path).read_text())["scenarios"]


@dataclass(frozen=True)
class _Secret:
    fact: str
    known_by: tuple[str, ...]
    reveal_turn: int | None

    def revealed(self, turn: int) -> bool:
        return self.reveal_turn is not None and self.reveal_turn <= turn


def _knows(secret: _Secret, member: dict) -> bool:
    """The oracle, written from the scenario's words: a name, ``player`` or one of the member's factions."""
    for who in (who.casefold() for who in secret.known_by):
        if who == member["name"].casefold() or (who == PLAYER and member.get("is_player")):
            return True
        if who.startswith(FACTION) and who[len(FACTION):] in {tag.casefold() for tag in member.get("factions", [])}:
            return True
    return False


def _secrets(scenario: dict) -> list[_Secret]:
    cast = [_Secret(member["description"], tuple(member["known_by"]), member.get("reveal_turn"))
            for member in scenario["cast"] if member.get("known_by")]
    return cast + [_Secret(item["fact"], tuple(item["known_by"]), item.get("reveal_turn"))
                   for item in scenario["secrets"]]


def _setup(user, scenario: dict, choices: dict | None):
    cast = [{key: value for key, value in member.items() if key != "reveal_turn"} for member in scenario["cast"]]
    story = story_create(user=user, title=scenario["name"], genre=scenario.get("genre", ""),
                         premise=scenario.get("premise", ""), state=scenario["state"], characters=cast)
    if choices:
        story = story_update(user=user, story=story, llm_overrides=choices)
    entries = {str(number): {"uid": number, "key": item["lore_keys"], "comment": f"secret {number}",
                             "content": item["fact"]}
               for number, item in enumerate(scenario["secrets"]) if item.get("lore_keys")}
    if scenario.get("chapters"):
        with acting_as(user):
            chapter_services.chapters_import(story_id=story.pk, user_id=user.pk,
                                             chapters=chapter_markup.parse(scenario["chapters"]))
    if entries:
        lore_files.import_file(user=user, story=story, data=json.dumps({"entries": entries}).encode(),
                               filename="secrets.json")
    with acting_as(user):
        for number, item in enumerate(scenario["secrets"]):
            if item.get("lore_keys"):
                LoreEntry.objects.filter(story=story, comment=f"secret {number}").update(
                    known_by=item["known_by"], reveal_when=item.get("reveal_when", {}))
            else:
                knowledge_services.knowledge_add(story_id=story.pk, user_id=user.pk, fact=item["fact"],
                                                 known_by=item["known_by"], reveal_when=item.get("reveal_when"))
    return story


def _briefing_leaks(briefing: dict, scenario: dict, secrets: list[_Secret], number: int) -> tuple[int, list[str]]:
    cast = {member["name"]: member for member in scenario["cast"]}
    kept = [secret for secret in secrets if not secret.revealed(number)]
    leaks = []
    brief = briefing.get("knowledge", {})
    for block in brief.get("characters", []):
        member = cast[block["name"]]
        for text in [*block["knows"], *brief.get("common", [])]:
            leaks += [f"{scenario['name']} turn {number}: {member['name']} is briefed on {secret.fact!r}"
                      for secret in kept if mentions(text, secret.fact) and not _knows(secret, member)]
    shared = "\n".join(str(value) for note in [*briefing.get("characters", []), *briefing.get("lore", [])]
                        for value in note.values())
    leaks += [f"{scenario['name']} turn {number}: the shared notes state {secret.fact!r}"
              for secret in kept if mentions(shared, secret.fact)]
    return len(brief.get("characters", [])), leaks


def scenario_play(user, scenario: dict, result: SuiteResult, *, choices: dict | None = None) -> None:
    story, secrets = _setup(user, scenario, choices), _secrets(scenario)
    state = dict(scenario["state"])
    for number, step in enumerate(scenario["turns"], start=1):
        state = {**state, **step.get("state", {})}  # the script's state, whatever the narrator did
        story = story_update(user=user, story=story, state=state)
        with held():  # the Dreamer is not run: the knowers stay as scripted (its learning has tests of its own)
            turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action=step["action"],
                                               idempotency_key=f"secret-{number}")
            turn = orchestrator.turn_generate(user=user, turn=turn)
        if scenario.get("chapters") and turn.status == Turn.Status.COMPLETED:
            # Only the Dreamer's beat confirmation, as its task would run it: what the passage told moves the
            # chapter on and reveals what those beats reveal, on this turn.
            dreams.turn_chapter_beats(user_id=str(user.pk), turn=turn)
        result.turns += 1
        if turn.status != Turn.Status.COMPLETED:
            result.failed_turns += 1
            continue
        result.briefings += 1
        blocks, leaks = _briefing_leaks(turn.briefing, scenario, secrets, number)
        result.blocks += blocks
        result.briefing_leaks += leaks
        kept = [secret for secret in secrets if not secret.revealed(number)]
        result.passages_checked += bool(kept)
        result.passage_leaks += [f"{scenario['name']} turn {number}: the passage states {secret.fact!r}"
                                 for secret in kept if mentions(turn.prose, secret.fact)][:1]
        result.told_after_reveal += any(secret.revealed(number) and mentions(turn.prose, secret.fact)
                                        for secret in secrets)
    with acting_as(user):
        revealed = {row.fact: row.revealed_at_turn for row in Knowledge.objects.filter(story=story)}
    for secret in secrets:
        result.reveals_due += 1
        if revealed.get(secret.fact) == secret.reveal_turn:
            result.reveals_on_time += 1
        else:
            result.reveal_errors.append(f"{scenario['name']}: {secret.fact!r} revealed at turn "
                                        f"{revealed.get(secret.fact)}, due at {secret.reveal_turn}")
    result.scenarios += 1


def suite_run(user, scenarios: list[dict], *, choices: dict | None = None) -> SuiteResult:
    result = SuiteResult()
    for scenario in scenarios:
        scenario_play(user, scenario, result, choices=choices)
    return result
