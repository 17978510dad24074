from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from luna_site import backups


class Command(BaseCommand):
    help = ("Replace the app's database with a dump made by `manage.py backup` (one transaction: all or "
            "nothing). Stop the web and worker processes first. docs/operations.md, \"Backups\".")

    def add_arguments(self, parser):
        parser.add_argument("dump", type=Path)
        parser.add_argument("--noinput", action="store_true", help="do not ask for confirmation")

    def handle(self, **options):
        dump: Path = options["dump"]
        if not dump.is_file():
            raise CommandError(f"No dump at {dump}.")
        if not options["noinput"] and input(f"Replace every row of the database with {dump}? [y/N] ").lower() != "y":
            raise CommandError("Not restored.")
        backups.database_restore(conninfo=backups.server_conninfo(), dump=dump)
        self.stdout.write(f"Restored {dump}.")
