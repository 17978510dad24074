from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chapters.lore import importers
from narrative_pipeline import lore_files
from narrative_pipeline.management.story_argument import owner_and_story


class Command(BaseCommand):
    help = ("Import a lore, character card, world or chapters file into a story, all or nothing "
            f"(formats: {', '.join(importers.FORMATS)}).")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--user", required=True)
        parser.add_argument("--story", required=True)
        parser.add_argument("--format", dest="lore_format", choices=list(importers.FORMATS), default=None,
                            help="detected from the content when left out")

    def handle(self, *, file, user, story, lore_format, **options):
        owner, found = owner_and_story(user, story)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No file {file}.")
        try:
            result = lore_files.import_file(user=owner, story=found, data=path.read_bytes(), lore_format=lore_format,
                                            filename=path.name)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        entries = sum(book["entries"] for book in result["lorebooks"])
        self.stdout.write(self.style.SUCCESS(
            f"Imported {path.name} as {result['format']}: {len(result['lorebooks'])} lorebook(s) with {entries} "
            f"entries, {len(result['characters'])} character(s), chapters {result['chapters'] or 'none'}."))
        for warning in result["warnings"]:
            self.stderr.write(f"warning: {warning}")
