from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from narrative_pipeline.llm import AGENTS, OFFLINE, config_for
from narrative_pipeline.llm.check import CheckReport, server_check


class Command(BaseCommand):
    help = ("Check the configured OpenAI-compatible server: its models, then per agent a tiny prompt's latency and "
            "whether JSON Schema output, JSON mode and usage in the stream work. Exit status 1 if an agent cannot "
            "complete a prompt.")

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default=None, help="instead of LLM_BASE_URL")
        parser.add_argument("--model", default=None, help="check this model for every agent")

    def handle(self, *, base_url, model, **options):
        base_url = base_url or settings.LLM_BASE_URL
        agent_models = {agent: model for agent in AGENTS} if model else {
            agent: config.model for agent in AGENTS if (config := config_for(agent)).provider != OFFLINE}
        if not agent_models:
            self.stdout.write("Every agent is on the offline narrator: no server to check "
                              "(give --model to check one on LLM_BASE_URL).")
            return
        report = server_check(base_url, settings.LLM_API_KEY, agent_models)
        self.write_report(report)
        if not report.ok:
            raise CommandError("an agent cannot complete a prompt on this server: see the problems above")

    def write_report(self, report: CheckReport) -> None:
        self.stdout.write(f"Server: {report.base_url}")
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(f"  problem: {problem}"))
        if report.problems:
            return
        listed = ", ".join(report.server_models) if report.server_models is not None else "(not listed)"
        self.stdout.write(f"Models: {listed or '(none)'}")
        yes_no = {True: "yes", False: "no"}
        for check in report.agents:
            self.stdout.write(f"{check.agent} ({check.model}):")
            if check.completes:
                self.stdout.write(f"  latency: {check.latency_ms} ms; JSON Schema: {yes_no[check.json_schema]}; "
                                  f"JSON mode: {yes_no[check.json_mode]}; "
                                  f"streaming usage: {yes_no[check.stream_usage]}")
            else:
                self.stdout.write(self.style.ERROR("  cannot complete a prompt"))
            for problem in check.problems:
                self.stdout.write(self.style.WARNING(f"  problem: {problem}"))
