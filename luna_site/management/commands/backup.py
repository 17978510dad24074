from pathlib import Path

from django.core.management.base import BaseCommand

from luna_site import backups, embedded


class Command(BaseCommand):
    help = ("pg_dump of the app's database (every row: as a role that bypasses RLS) into a timestamped file; "
            "prints its path. docs/operations.md, \"Backups\".")

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, default=None, help="folder for the dump (default: .data/backups)")

    def handle(self, **options):
        target_dir = options["dir"] or embedded.data_dir() / "backups"
        self.stdout.write(str(backups.database_dump(conninfo=backups.server_conninfo(), target_dir=target_dir)))
