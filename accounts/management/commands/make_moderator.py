from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import user_become_moderator


class Command(BaseCommand):
    help = "Make a user a moderator: staff in the moderators group (reports, hiding published stories)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *, username, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        user_become_moderator(user=user)
        self.stdout.write(self.style.SUCCESS(f"{username} is a moderator."))
