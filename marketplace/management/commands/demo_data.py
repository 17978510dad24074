from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import User
from accounts.rls import acting_as
from accounts.services import user_become_author
from chapters import chapter_markup
from chapters.services import chapters_import
from core import task_queue
from narrative_pipeline import orchestrator
from narrative_pipeline.llm.connections import offline_narrator
from narrative_pipeline.models import Story
from narrative_pipeline.services import story_create

from ... import services
from ...models import Listing

DEMO_PASSWORD = "demo-password"
DEMO_USERS = {
    "demo": {
        "title": "The Lighthouse Keeper", "genre": "mystery",
        "premise": "A keeper on a storm-bound island finds a stranger washed ashore.",
        "state": {"location": "the lighthouse"},
        "characters": [{"name": "Ada", "is_player": True, "description": "the keeper, sharp-eyed and tired"},
                       {"name": "The Stranger", "description": "half-drowned, speaks little"}],
        "opening": ["I help the stranger up the rocks to the lighthouse.", "I ask the stranger where the ship sank."],
        "chapters": """‹chapter-1› The Stranger's Name
location: lighthouse
character_present: The Stranger
beats:
- [high] The stranger gives a name that is not their own
- [medium] Ada sees rope burns on the stranger's hands
- [high] The stranger lets slip the name of the ship

Let the stranger lie at first; the truth comes out in a detail about the ship.

‹chapter-2› The Wreck at Low Tide
requires: 1
location: cove
has_item: lantern
beats:
- [high] The wreck's name is read from its hull
- [high] A bell lies in the wreck's hold, its rope cut

‹chapter-3› Who Rang the Bell
requires: 2
visibility: title
beats:
- [high] The keeper learns who rang the bell the night of the wreck
""",
    },
    "demo2": {
        "title": "Embers of the Iron Court", "genre": "fantasy",
        "premise": "An exiled heir returns to a city ruled by her father's killer.",
        "state": {"location": "the Ash Gate"},
        "characters": [{"name": "Seren", "is_player": True, "description": "the exiled heir"},
                       {"name": "Captain Voss", "description": "the gate captain, loyal to no one"}],
        "opening": ["I pull my hood low and walk to the Ash Gate.", "I ask Captain Voss who rules the city now."],
        "chapters": """‹chapter-1› Through the Gate
location: Ash Gate
character_present: Captain Voss
beats:
- [high] Voss names his price for the gate
- [medium] A guild token changes hands
- [high] Voss lets Seren through

‹chapter-2› The Guild of Glass
requires: 1
location: guild hall
beats:
- [high] The glassblowers recognise the signet ring
""",
    },
}


class Command(BaseCommand):
    help = "Create the demo players demo and demo2 (password demo-password), each with a started story."

    def handle(self, **options):
        for username, demo in DEMO_USERS.items():
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(username=username, email=f"{username}@example.com",
                                                password=DEMO_PASSWORD, email_verified_at=timezone.now())
            else:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            if not self._has_story(user, demo["title"]):
                fields = {key: value for key, value in demo.items() if key not in ("opening", "chapters")}
                story = story_create(user=user, **fields)
                with acting_as(user):
                    chapters_import(story_id=story.pk, user_id=user.pk, chapters=chapter_markup.parse(demo["chapters"]))
                self._opening(user, story, demo["opening"])
            if username == "demo":
                user_become_author(user=user)  # the demo author of the admin's chapter editor
                self._published(user, demo)  # something in the marketplace for demo2 to fork
            self.stdout.write(f"demo login: {username} / {DEMO_PASSWORD}")

    @staticmethod
    def _opening(user, story, actions: list[str]) -> None:
        """The demo's opening turns and the Dreamer's work on them, here and by the offline narrator:
        the same demo on every machine, and `make run` starts whatever the model settings (a model
        server that is down or misconfigured never stops it)."""
        with offline_narrator(), task_queue.held():
            for number, action in enumerate(actions, start=1):
                turn, _ = orchestrator.turn_submit(user=user, story_id=story.pk, action=action,
                                                   idempotency_key=f"demo-opening-{number}")
                orchestrator.turn_generate(user=user, turn=turn)
            task_queue.run_held()

    @staticmethod
    def _published(user, demo) -> None:
        with acting_as(user):
            story = Story.objects.get(title=demo["title"])
            if Listing.objects.filter(series__source_story=story).exists():
                return
            npc = story.characters.filter(is_player=False).order_by("name").values_list("name", flat=True).first()
        services.listing_publish(user=user, story=story, description=demo.get("premise", ""), tags=["demo", "mystery"],
                         licence="CC-BY", changelog="The demo's opening.")
        services.listing_publish(user=user, story=story, kind="chapters", description="The chapters of the demo's story.",
                         tags=["demo"], licence="CC-BY")  # and its chapters and a character, as assets of their own
        if npc:
            services.listing_publish(user=user, story=story, kind="character", character=npc, tags=["demo"], licence="CC-BY")

    @staticmethod
    def _has_story(user, title) -> bool:
        with acting_as(user):
            return Story.objects.filter(title=title).exists()
