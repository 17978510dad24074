from django.core.management.base import BaseCommand, CommandError

from narrative_pipeline.llm import AGENTS
from narrative_pipeline.llm.check import CheckReport, choices_check, server_check
from narrative_pipeline.llm.connections import DEFAULT, api_key_read, connection_named, operator_choice


class Command(BaseCommand):
    help = ("Check the model servers the agents use: their models, then per agent a tiny prompt's latency and "
            "whether JSON Schema output, JSON mode and usage in the stream work. Exit status 1 if an agent cannot "
            "complete a prompt.")

    def add_arguments(self, parser):
        parser.add_argument("--connection", default=None, help="check this connection (default: the ones the "
                                                                "agents use; 'default' is LLM_BASE_URL)")
        parser.add_argument("--base-url", default=None, help="instead of the connection's base URL")
        parser.add_argument("--model", default=None, help="check this model for every agent")

    def handle(self, *, connection, base_url, model, **options):
        if connection or base_url or model:
            reports = [self.one_server(connection or DEFAULT, base_url, model)]
        else:
            reports = choices_check({agent: operator_choice(agent) for agent in AGENTS}, for_operator=True)
        if not reports:
            self.stdout.write("Every agent is on the offline narrator: no server to check "
                              "(give --model to check one on LLM_BASE_URL, or --connection).")
            return
        for report in reports:
            self.write_report(report)
        if not all(report.ok for report in reports):
            raise CommandError("an agent cannot complete a prompt on this server: see the problems above")

    def one_server(self, name: str, base_url: str | None, model: str | None) -> CheckReport:
        found = connection_named(name)
        if found is None:
            raise CommandError(f"There is no connection named {name!r}.")
        models = [model] if model else list(found.models)
        if not models:
            raise CommandError(f"The connection {name!r} offers no model: give --model.")
        agent_models = {agent: model for agent in AGENTS} if model else {
            agent: choice.model for agent in AGENTS if (choice := operator_choice(agent)).connection == name} or {
            "writer": models[0]}
        return server_check(base_url or found.base_url, api_key_read(found), agent_models)

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
