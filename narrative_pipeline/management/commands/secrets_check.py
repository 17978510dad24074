"""``manage.py secrets_check --provider …``: the secret scenarios (issue #20) against a configured model.

The Strategist and the Writer use ``--provider`` (a connection: ``offline``, ``default`` for LLM_BASE_URL, or a
named one) and ``--model``; the Dreamer is not run. Everything it writes (a throwaway account, its stories, the
calls' records) is rolled back at the end. It reports the passages that state a secret before its reveal (the
leak rate a model has on this suite), and fails when a briefing told a character what it does not know or a
reveal missed its turn (those are the engine's, whatever the model)."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from narrative_pipeline.llm.connections import OFFLINE, choices_validate
from narrative_pipeline.secret_suite import SCENARIOS, SuiteResult, scenarios_load, suite_run


class _RollBack(Exception):
    pass


class Command(BaseCommand):
    help = "Play the secret scenarios with a model and report how often a passage states a secret before its reveal."

    def add_arguments(self, parser):
        parser.add_argument("--provider", default=OFFLINE, help="the connection the Strategist and Writer use")
        parser.add_argument("--model", default="", help="one of the connection's models (default: its first)")
        parser.add_argument("--scenarios", default=str(SCENARIOS), help="the scenarios file")
        parser.add_argument("--limit", type=int, default=0, help="play only the first N scenarios")

    def handle(self, *, provider, model, scenarios, limit, **options):
        try:
            choices = choices_validate({agent: {"connection": provider, "model": model}
                                        for agent in ("strategist", "writer")})
            played = scenarios_load(Path(scenarios))
        except (ValidationError, OSError, ValueError, KeyError) as error:
            raise CommandError(f"Cannot run the suite: {error}") from error
        played = played[:limit] if limit > 0 else played
        result = SuiteResult()
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(f"secrets-check-{uuid.uuid4().hex[:8]}", "",
                                                            uuid.uuid4().hex, max_stories=1_000,
                                                            storage_limit_mb=10_000)
                result = suite_run(user, played, choices=choices)
                raise _RollBack
        except _RollBack:
            pass
        self.report(result, provider, choices)

    def report(self, result: SuiteResult, provider: str, choices: dict) -> None:
        model = choices.get("writer", {}).get("model", "") if choices else ""
        self.stdout.write(f"Model: {provider} {model}".rstrip())
        self.stdout.write(f"Scenarios: {result.scenarios}; turns: {result.turns} ({result.failed_turns} failed)")
        self.stdout.write(f"Briefings telling a character what it does not know: {len(result.briefing_leaks)}")
        self.stdout.write(f"Reveals on their turn: {result.reveals_on_time} / {result.reveals_due}")
        self.stdout.write(f"Passages stating a secret before its reveal: {len(result.passage_leaks)} of "
                          f"{result.passages_checked} (leak rate {result.leak_rate:.1%})")
        for line in result.passage_leaks[:20]:
            self.stdout.write(f"  {line}")
        if result.briefing_leaks or result.reveal_errors:
            for line in [*result.briefing_leaks, *result.reveal_errors][:20]:
                self.stdout.write(self.style.ERROR(f"  {line}"))
            raise CommandError("the engine told a character a secret or missed a reveal: see above")
