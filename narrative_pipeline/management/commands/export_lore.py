from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.rls import acting_as
from chapters.lore import importers
from narrative_pipeline import lore_files
from narrative_pipeline.management.story_argument import owner_and_story


class Command(BaseCommand):
    help = "Export a story's lore, cast and chapters in a format, to a file or standard output."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True)
        parser.add_argument("--story", required=True)
        parser.add_argument("--format", dest="lore_format", required=True, choices=list(importers.FORMATS))
        parser.add_argument("--output", default=None)
        parser.add_argument("--png", action="store_true", help="a character card inside a PNG image (needs --output)")

    def handle(self, *, user, story, lore_format, output, png, **options):
        owner, found = owner_and_story(user, story)
        if png and not output:
            raise CommandError("--png writes an image: give --output FILE.")
        try:
            with acting_as(owner):
                body, _, _, dropped = lore_files.export_file(story=found, lore_format=lore_format,
                                                             container="png" if png else "")
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        for note in dropped:
            self.stderr.write(f"not in {lore_format}: {note}")
        if output:
            Path(output).write_bytes(body)
            self.stdout.write(self.style.SUCCESS(f"Wrote {output}"))
        else:
            self.stdout.write(body.decode("utf-8"), ending="")
