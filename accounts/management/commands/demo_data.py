from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.rls import acting_as
from narrative_pipeline.models import Story
from narrative_pipeline.services import story_create

DEMO_PASSWORD = "demo-password"
DEMO_USERS = {
    "demo": ("The Lighthouse Keeper", "A keeper on a storm-bound island finds a stranger washed ashore.", "mystery"),
    "demo2": ("Embers of the Iron Court", "An exiled heir returns to a city ruled by her father's killer.", "fantasy"),
}


class Command(BaseCommand):
    help = "Create the demo players demo and demo2 (password demo-password), each with a started story."

    @transaction.atomic
    def handle(self, **options):
        for username, (title, premise, genre) in DEMO_USERS.items():
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(username=username, email=f"{username}@example.com",
                                                password=DEMO_PASSWORD, email_verified_at=timezone.now())
            else:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            if not self._has_story(user, title):
                story_create(user=user, title=title, premise=premise, genre=genre)
            self.stdout.write(f"demo login: {username} / {DEMO_PASSWORD}")

    @staticmethod
    def _has_story(user, title) -> bool:
        with acting_as(user):
            return Story.objects.filter(title=title).exists()
