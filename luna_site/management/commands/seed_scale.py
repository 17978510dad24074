import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from luna_site import scale_data


class Command(BaseCommand):
    help = ("Synthetic data for measurements at scale: --users users (scale-00001 …), each with --stories stories "
            "(one a fork of a seeded published story) of --turns turns and 2 chapters each. Users already there are "
            "skipped: running it again finishes an interrupted run and adds nothing twice. Only with DEBUG=1.")

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, required=True)
        parser.add_argument("--stories", type=int, default=10)
        parser.add_argument("--turns", type=int, default=50)

    def handle(self, *, users, stories, turns, **options):
        if not settings.DEBUG:
            # Every seeded user has the same known password: never on a server people use.
            raise CommandError("seed_scale creates users with a known password: it runs only with DEBUG=1.")
        started = time.monotonic()

        def progress(done: int) -> None:
            if done % 100 == 0:
                self.stdout.write(f"{done} users in {time.monotonic() - started:.0f} s")

        result = scale_data.scale_data_seed(users=users, stories=stories, turns=turns, progress=progress)
        self.stdout.write(self.style.SUCCESS(
            f"{result.created} users created, {result.existing} already there, in {time.monotonic() - started:.0f} s"))
