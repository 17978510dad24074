import os

from django.conf import settings
from django.core.management.commands import dbshell

from luna_site import embedded


class Command(dbshell.Command):
    help = (
        "psql on the app's database as the owner role (never a superuser). No user-owned row is "
        "visible until a transaction does SET LOCAL ROLE luna_app and sets app.current_user_id."
    )

    def handle(self, **options):
        if not settings.DATABASE_URL:
            # The embedded server's own psql: the system one is older than the server.
            os.environ["PATH"] = f"{embedded.postgres_bin('psql').parent}{os.pathsep}{os.environ['PATH']}"
        super().handle(**options)
