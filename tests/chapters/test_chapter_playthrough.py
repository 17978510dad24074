"""A five-chapter story played with the offline writers' room: followed, chapters complete
naturally; ignored, they heal up the ladder (nudge, relax, ...) and a dead critical character
gives an alternate."""

import pytest

from accounts.rls import acting_as
from chapters import services as chapter_services
from chapters.models import ChapterDivergenceLog, ChapterProgress, StoryChapter
from narrative_pipeline import orchestrator
from narrative_pipeline.agents import dreamer, preprocessor
from narrative_pipeline.dreams import chapter_heal
from narrative_pipeline.models import Story
from narrative_pipeline.services import story_update

from ..factories import StoryFactory

pytestmark = pytest.mark.django_db

CHAPTERS = [
    {"number": 1, "title": "The Summons", "summary": "A messenger brings the king's seal to the harbour.",
     "trigger_conditions": {"location": "harbour"},
     "suggested_beats": [{"description": "A messenger brings the king's seal", "priority": "high"}]},
    {"number": 2, "title": "The Lighthouse", "summary": "The keeper's log reveals the night of the wreck.",
     "required_previous_chapters": [1], "trigger_conditions": {"location": "lighthouse"},
     "suggested_beats": [{"description": "The keeper's log is found", "priority": "high"}]},
    {"number": 3, "title": "The Drowned Chapel", "summary": "Orla dives to the chapel with the lantern.",
     "required_previous_chapters": [2], "min_similarity_threshold": 0.2,
     "trigger_conditions": {"location": "cove", "has_item": "lantern", "character_present": "Orla"},
     "suggested_beats": [{"description": "Orla lights the lantern underwater", "priority": "high"}]},
    {"number": 4, "title": "The Abbess", "summary": "The drowned Abbess tells why the bell rings.",
     "required_previous_chapters": [3],
     "trigger_conditions": {"location": "chapel", "character_present": "The Abbess", "has_item": "lantern"},
     "suggested_beats": [{"description": "The Abbess speaks of the bell", "priority": "high"}]},
    {"number": 5, "title": "Dawn", "summary": "The bell falls silent at dawn.", "required_previous_chapters": [4],
     "trigger_conditions": {"location": "harbour"},
     "suggested_beats": [{"description": "The bell falls silent", "priority": "high"}]},
]


@pytest.fixture
def story(alice):
    story = StoryFactory(user=alice, title="The Drowned Bell", state={"location": "the harbour"}, characters=[
        {"name": "Wren", "is_player": True}, {"name": "Orla", "description": "a diver"}])
    with acting_as(alice):
        chapter_services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=[dict(c) for c in CHAPTERS])
    return story


class Player:
    def __init__(self, user, story, capture):
        self.user, self.story, self.capture, self.count, self.briefings = user, story, capture, 0, []

    def act(self, action: str):
        self.count += 1
        with self.capture(execute=True):  # the Dreamer and healing run as the worker would, after commit
            turn, _ = orchestrator.turn_submit(user=self.user, story_id=self.story.pk, action=action,
                                               idempotency_key=f"a{self.count}")
            turn = orchestrator.turn_generate(user=self.user, turn=turn)
        assert turn.status == "completed", turn.error
        self.briefings.append((turn.number, (turn.briefing or {}).get("chapter")))
        return turn

    def progress(self):
        with acting_as(self.user):
            return {p.chapter.number: (p.status, p.completion_method)
                    for p in ChapterProgress.objects.filter(story=self.story).select_related("chapter")}


def test_following_the_chapters_completes_them_naturally(alice, story, django_capture_on_commit_callbacks):
    player = Player(alice, story, django_capture_on_commit_callbacks)
    for action in ["I wait on the harbour wall.", "I ask the messenger for news.", "I walk to the lighthouse.",
                   "I search the keeper's desk.", "I take the lantern.", "I ask Orla to come with me.",
                   "I walk to the cove with Orla.", "We dive, Orla and I.", "I walk to the chapel.",
                   "I call out to the Abbess."]:
        player.act(action)
    with acting_as(alice):
        story_update(user=alice, story=story, state={"present_characters": ["Orla", "The Abbess"]})
    for action in ["I listen to the Abbess.", "I ask the Abbess about the bell.", "I walk to the harbour.",
                   "I watch the sea at dawn.", "I wait for the bell."]:
        player.act(action)
    progress = player.progress()
    assert [progress[n] for n in range(1, 6)] == [("completed", "natural")] * 5
    with acting_as(alice):
        assert not ChapterDivergenceLog.objects.filter(story=story).exists()
    # The Strategist was briefed with each chapter in turn.
    assert [b["number"] for _, b in player.briefings if b] == sorted(b["number"] for _, b in player.briefings if b)
    assert {b["number"] for _, b in player.briefings if b} == {1, 2, 3, 4, 5}


def test_ignoring_the_chapters_heals_them(alice, story, django_capture_on_commit_callbacks):
    player = Player(alice, story, django_capture_on_commit_callbacks)
    for action in ["I wait on the harbour wall.", "I ask the messenger for news.", "I walk to the lighthouse.",
                   "I search the keeper's desk.", "I take the lantern.", "I ask Orla to come with me."]:
        player.act(action)
    assert player.progress()[2] == ("completed", "natural")
    wander = ["I walk to the market.", "I haggle for apples.", "I sit in the tavern.", "I listen to a fiddler.",
              "I walk to the mill.", "I count the sacks of flour."]
    turns = 6
    # From here the player ignores the chapters: chapter 3 is relaxed and then met elsewhere.
    while turns < 20:
        player.act(wander[turns % len(wander)])
        turns += 1
    # Chapter 4 asks for a chapel and the Abbess; the player keeps wandering: it is nudged, then relaxed.
    while turns < 40:
        player.act(wander[turns % len(wander)])
        turns += 1
    with acting_as(alice):
        ladder = [log.strategy for log in ChapterDivergenceLog.objects.filter(story=story, chapter__number=4)
                  .order_by("turn_number")]
    # Relaxed (the chapel dropped, the lantern held), only the Abbess is missing: off track, not far enough
    # off to be rewritten or replaced.
    assert ladder == ["nudge", "relax"]
    # The Abbess dies: the chapter is impossible, and an alternate path replaces it.
    with acting_as(alice):
        story_update(user=alice, story=story, state={"flags": ["dead:The Abbess"]})
    while turns < 60:
        player.act(wander[turns % len(wander)])
        turns += 1

    with acting_as(alice):
        strategies = [(log.chapter.number, log.strategy) for log in
                      ChapterDivergenceLog.objects.filter(story=story).select_related("chapter").order_by("turn_number")]
        versions = {c.number: c.versions.count() for c in StoryChapter.objects.filter(story=story)}
        alternate = StoryChapter.objects.get(story=story, alternate_of__number=4)
    assert [rung for number, rung in strategies if number == 3][:2] == ["nudge", "relax"]
    assert [rung for number, rung in strategies if number == 4] == ["nudge", "relax", "alternate"]
    assert versions[3] >= 2 and versions[4] >= 2
    progress = player.progress()
    assert progress[3] == ("completed", "relaxed")
    assert progress[4] == ("completed", "diverged_alternate")
    assert progress[alternate.number][0] in ("active", "completed")
    # The Strategist saw the chapters change: new versions and the alternate chapter.
    seen = {(b["number"], b["version"]) for _, b in player.briefings if b and b["status"] == "active"}
    assert any(number == alternate.number for number, _ in seen)
    assert any(number == 3 and version >= 2 for number, version in seen)  # the relaxed version


def test_an_llm_adapts_a_chapter_and_bad_json_is_retried(alice, story, openai_server, settings):
    """Healing with an OpenAI-compatible Dreamer (the fake server), not only the offline one."""
    from narrative_pipeline.llm import LLMError

    from .. import fake_openai as fake

    settings.LLM_AGENTS = {**settings.LLM_AGENTS, "dreamer": {"provider": "openai", "model": "fake-model"}}
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=1)
    openai_server.script(fake.ok("I cannot do that."))
    with pytest.raises(LLMError, match="not valid JSON"):
        chapter_heal(user_id=str(alice.pk), chapter_id=str(chapter.pk), turn_number=7, tier="adapt")
    openai_server.script(fake.ok('{"narrative_instructions": "The seal arrives by gull instead.", '
                                 '"suggested_beats": [{"description": "A gull drops the seal", "priority": "high"}, '
                                 '{"description": 42}]}'))
    chapter_heal(user_id=str(alice.pk), chapter_id=str(chapter.pk), turn_number=8, tier="adapt")
    with acting_as(alice):
        version = chapter.versions.order_by("-number").first()
        log = ChapterDivergenceLog.objects.get(chapter=chapter)
    assert version.narrative_instructions == "The seal arrives by gull instead."
    assert version.suggested_beats == [{"beat": "A gull drops the seal", "priority": "high"}]
    assert log.strategy == "adapt" and log.turn_number == 8


def test_the_dreamer_reads_an_adaptation_as_real_models_write_it(alice, story, openai_server, settings):
    """Reasoning with a draft inside, a fence, capitalised keys, beats as strings, a trailing comma, prose after."""

    from .. import fake_openai as fake

    settings.LLM_AGENTS = {**settings.LLM_AGENTS, "dreamer": {"provider": "openai", "model": "fake-model"}}
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=1)
    openai_server.script(fake.ok('<think>Draft: {"narrative_instructions": "draft"}</think>\n```json\n'
                                 '{"Narrative_Instructions": "The seal arrives by gull.", '
                                 '"suggested_beats": ["A gull drops the seal", "Orla reads it"],}\n```\n'
                                 'I kept {the intent}.'))
    chapter_heal(user_id=str(alice.pk), chapter_id=str(chapter.pk), turn_number=8, tier="adapt")
    with acting_as(alice):
        version = chapter.versions.order_by("-number").first()
    assert version.narrative_instructions == "The seal arrives by gull."
    assert version.suggested_beats == [{"beat": "A gull drops the seal", "priority": "high"},
                                       {"beat": "Orla reads it", "priority": "medium"}]
    assert openai_server.requests[0]["body"]["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(("text", "dead"), [
    ("Orla dies in the cold water.", True), ("The Abbess was killed by the tide.", True),
    ("Orla dives into the cold water.", False), ("Nobody died; Orla laughed.", False),
])
def test_the_dreamer_knows_a_death_when_it_reads_one(text, dead):

    assert dreamer.died("Orla" if "Orla" in text else "The Abbess", text) is dead


def test_a_death_in_the_story_sets_the_dead_flag(alice, story, django_capture_on_commit_callbacks):
    player = Player(alice, story, django_capture_on_commit_callbacks)
    player.act("I watch as Orla dies in the cold water.")
    with acting_as(alice):
        story.refresh_from_db()
    assert "dead:Orla" in story.state["flags"]


def test_the_preprocessor_returns_the_healing_and_queues_nothing(alice, story, django_capture_on_commit_callbacks):
    """The agent only reports the chapter to heal; the orchestrator sends it to the worker."""
    healings = []
    with django_capture_on_commit_callbacks() as queued:
        for number in range(1, 30):
            with acting_as(alice):
                wandering = Story.objects.get(pk=story.pk)
                wandering.state = {"location": "the market"}  # far from the harbour chapter 1 waits at
                context = preprocessor.build_context(story=wandering, action="I haggle for apples.",
                                                     turn_number=number)
            healings.append(context.healing)
    assert queued == []
    healed = [healing for healing in healings if healing is not None]
    with acting_as(alice):
        first = StoryChapter.objects.get(story=story, number=1)
    # The nudge needs no worker; the first healing queued is the next rung up, relax.
    assert healed and healed[0].chapter_id == str(first.pk) and healed[0].tier == "relax"


def test_a_chapter_reached_after_its_nudge_completes_as_nudged(alice, django_capture_on_commit_callbacks, settings):
    settings.CHAPTER_GRACE_TURNS = 2
    story = StoryFactory(user=alice, title="The Lamp", state={"location": "the market"},
                         characters=[{"name": "Wren", "is_player": True}])
    with acting_as(alice):
        chapter_services.chapters_import(story_id=story.pk, user_id=alice.pk, chapters=[
            {"number": 1, "title": "The Lamp", "trigger_conditions": {"location": "lighthouse"}, "critical": [],
             "suggested_beats": [{"beat": "The lamp is lit", "priority": "high"}]}])
    player = Player(alice, story, django_capture_on_commit_callbacks)
    for action in ["I haggle for apples.", "I sit in the tavern.", "I listen to a fiddler."]:
        player.act(action)
    assert player.briefings[-1][1]["nudge"] == "A message arrives asking you to come to the lighthouse."
    for _ in range(5):
        player.act("I walk to the lighthouse.")
        if player.progress()[1][0] == "completed":
            break
    assert player.progress()[1] == ("completed", "nudged")


@pytest.mark.parametrize("rung", ["relax", "alternate"])
def test_a_redelivered_healing_takes_its_rung_once(alice, story, rung):
    with acting_as(alice):
        chapter = StoryChapter.objects.get(story=story, number=1)
    for _ in range(2):
        chapter_heal(user_id=str(alice.pk), chapter_id=str(chapter.pk), turn_number=9, tier=rung)
    with acting_as(alice):
        assert ChapterDivergenceLog.objects.filter(chapter=chapter).count() == 1
        assert chapter.versions.count() == (2 if rung == "relax" else 1)
        assert StoryChapter.objects.filter(story=story, alternate_of=chapter).count() == (rung == "alternate")
