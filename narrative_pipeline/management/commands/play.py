import itertools
import uuid

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from narrative_pipeline import orchestrator
from narrative_pipeline.management.story_argument import owner_and_story
from narrative_pipeline.models import Turn

SCRIPT = [
    "I look around carefully, taking in every detail.",
    "I ask the nearest stranger what happened here.",
    "I walk to the old gate at the edge of town.",
    "I take the lantern from its hook.",
    "I listen at the door before opening it.",
    "I follow the footprints into the dark.",
    "I tell my companion what I suspect.",
    "I run toward the sound of bells.",
]


class Command(BaseCommand):
    help = "Play N scripted turns of a story (demos and benchmarks), with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username of the story's owner")
        parser.add_argument("--story", required=True, help="the story's id")
        parser.add_argument("--turns", type=int, default=10)

    def handle(self, *, user, story, turns, **options):
        owner, found = owner_and_story(user, story)
        story_id = found.pk
        if turns < 1:
            raise CommandError("--turns must be at least 1.")
        run = uuid.uuid4().hex[:8]
        actions = itertools.cycle(SCRIPT)
        for index in tqdm(range(turns), desc="turns", unit="turn"):
            turn, _ = orchestrator.turn_submit(user=owner, story_id=story_id, action=next(actions),
                                               idempotency_key=f"play-{run}-{index}")
            turn = orchestrator.turn_generate(user=owner, turn=turn)
            if turn.status == Turn.Status.FAILED:
                raise CommandError(f"Turn {turn.number} failed: {turn.error} (retry it, or undo it, to go on).")
        self.stdout.write(self.style.SUCCESS(f"Played {turns} turns of {story}."))
