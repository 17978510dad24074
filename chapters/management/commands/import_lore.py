from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.rls import acting_as
from chapters import lore
from narrative_pipeline.commands import owner_and_story


class Command(BaseCommand):
    help = "Import a chapters or lore file into a story, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--user", required=True)
        parser.add_argument("--story", required=True)
        parser.add_argument("--format", dest="lore_format", choices=lore.FORMATS, default=None,
                            help="detected from the content when left out")

    def handle(self, *, file, user, story, lore_format, **options):
        owner, found = owner_and_story(user, story)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No file {file}.")
        try:
            with acting_as(owner):
                result = lore.lore_import(story_id=found.pk, user_id=owner.pk, data=path.read_bytes(),
                                          lore_format=lore_format)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(self.style.SUCCESS(
            f"Imported {len(result['chapters'])} chapter(s) as {result['format']}: {result['chapters']}"))
