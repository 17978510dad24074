from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.rls import acting_as
from chapters import lore
from narrative_pipeline.commands import owner_and_story


class Command(BaseCommand):
    help = "Export a story's chapters and lore in a format, to a file or standard output."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True)
        parser.add_argument("--story", required=True)
        parser.add_argument("--format", dest="lore_format", required=True, choices=lore.FORMATS)
        parser.add_argument("--output", default=None)

    def handle(self, *, user, story, lore_format, output, **options):
        owner, found = owner_and_story(user, story)
        try:
            with acting_as(owner):
                text, _ = lore.lore_export(story_id=found.pk, lore_format=lore_format)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stdout.write(self.style.SUCCESS(f"Wrote {output}"))
        else:
            self.stdout.write(text, ending="")
