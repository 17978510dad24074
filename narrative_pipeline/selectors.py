"""Reads of stories. Callers run inside ``acting_as``; RLS restricts rows to the acting user.

``story_turns`` is the one reader of a story's turns (pages, API, export, the Preprocessor's
neighbours), so that later storage (forks) changes one place.
"""

from dataclasses import replace
from decimal import Decimal

from django.db.models import Avg, Count, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.shortcuts import get_object_or_404

from chapters import evaluation as chapter_evaluation
from chapters import plain_words
from chapters import selectors as chapter_selectors
from chapters.contracts import ChapterBrief
from chapters.evaluation import ChapterView
from chapters.knowledge import selectors as knowledge_selectors
from chapters.knowledge.rules import Member
from chapters.lore import services as chapter_lore
from chapters.lore.macros import macros_filled
from chapters.models import ChapterDivergenceLog, Lorebook, LoreEntry
from chapters.selectors import ChapterPanel
from core import embeddings
from core.contracts import StoryState

from .llm import AGENTS
from .llm.connections import choice_read, choices_for, connections
from .models import (
    AgentCall,
    Character,
    ModelChoices,
    Story,
    StoryArc,
    StoryCollaborator,
    StoryTurn,
    Turn,
    TurnOverride,
    TurnReplay,
)


def story_list(*, user):
    turns = StoryTurn.objects.filter(story=OuterRef("pk")).order_by().values("story").annotate(n=Count("*")).values("n")
    return (Story.objects.filter(user_id=user.pk).annotate(turn_count=Coalesce(Subquery(turns), 0))
            .order_by("-updated_at"))


def story_list_with_activity(*, user):
    """My stories with their last turn's time and their cost so far, most recently played first."""
    last_turn = Turn.objects.filter(story=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    cost = (AgentCall.objects.filter(story=OuterRef("pk")).order_by().values("story")
            .annotate(total=Sum("cost_usd")).values("total"))
    return (story_list(user=user).annotate(last_activity=Coalesce(Subquery(last_turn), F("updated_at")),
                                           cost_usd=Coalesce(Subquery(cost), Value(Decimal(0))))
            .order_by("-last_activity"))


def story_get(*, user, story_id) -> Story:
    """The user's story, or 404 (another user's story is invisible, so it is 404 as well)."""
    return get_object_or_404(story_list(user=user), pk=story_id)


def story_get_shared(*, user, story_id) -> Story:
    """A story the user owns or was let into as a co-author (RLS shows no other), or 404. Only the turn routes a
    co-author may use read through it: the rest of the story API stays the owner's."""
    return get_object_or_404(Story.objects.all(), pk=story_id)


def story_owner_for_editor(*, editor_id, story_id) -> str | None:
    """The id of the story's owner when ``editor_id`` (the acting user) may change it: the owner, or a co-author
    with an ``edit`` grant. A grant row is written only for a story its writer owns (a definer check), so a task
    queued as a co-author acts as the owner only on the strength of the owner's own grant."""
    story = Story.objects.filter(pk=story_id).values("user_id").first()
    if story is None:
        return None
    owner_id = str(story["user_id"])
    if owner_id == str(editor_id) or StoryCollaborator.objects.filter(
            story_id=story_id, collaborator_id=editor_id, role=StoryCollaborator.Role.EDIT).exists():
        return owner_id
    return None


def turn_number_next(*, story: Story) -> int:
    """The number of the story's next turn: after its own last turn, and after the turns a fork reads
    from the snapshot it is based on (``base_turn``), which it does not store itself."""
    last = Turn.objects.filter(story=story).order_by("-number").values_list("number", flat=True).first()
    return max(last or 0, story.base_turn) + 1


def story_turns(*, story: Story):
    """The story's turns in order, as every reader sees them: for a story based on a snapshot, the
    snapshot's turns up to its base (with its overrides) and then its own, in one query."""
    return StoryTurn.objects.filter(story=story).order_by("number")


def turn_get(*, story: Story, number: int) -> StoryTurn:
    return get_object_or_404(story_turns(story=story), number=number)


# Copy-on-write storage as it is stored (a sync compares and records these rows; readers use ``story_turns``).

def turns_own(*, story: Story):
    """The turns the story holds itself: all of a plain story's or a full copy's, a fork's played after its base."""
    return Turn.objects.filter(story=story)


def turn_overrides(*, story: Story):
    """The story's override rows: the turns it edited of those it reads from its snapshot."""
    return TurnOverride.objects.filter(story=story)


def turn_written(*, story: Story, number: int) -> Turn | TurnOverride:
    """The row holding the story's own text of turn ``number``: its own turn, else its override
    (``TurnOverride.DoesNotExist`` when it has neither)."""
    return turns_own(story=story).filter(number=number).first() or turn_overrides(story=story).get(number=number)


def story_arcs(*, story: Story):
    return StoryArc.objects.filter(story=story).order_by("first_turn")


def story_costs(*, story: Story) -> dict:
    """Tokens, cost and latency per agent (every agent named, even with no calls) and in total, with the prompt
    tokens read from a provider's cache and what that saved (``cache_saved_usd``)."""
    rows = {row["agent"]: row for row in AgentCall.objects.filter(story=story).values("agent").annotate(
        calls=Count("id"), prompt_tokens=Sum("prompt_tokens"), completion_tokens=Sum("completion_tokens"),
        cached_tokens=Sum("cached_tokens"), cache_saved_usd=Sum("cache_saved_usd"),
        cost_usd=Sum("cost_usd"), latency_ms_total=Sum("latency_ms"), latency_ms_avg=Avg("latency_ms"))}
    agents = {}
    for agent in AGENTS:
        row = rows.get(agent, {})
        agents[agent] = {
            "calls": row.get("calls", 0),
            "prompt_tokens": row.get("prompt_tokens") or 0,
            "completion_tokens": row.get("completion_tokens") or 0,
            "cached_tokens": row.get("cached_tokens") or 0,
            "cache_saved_usd": str(row.get("cache_saved_usd") or "0.000000"),
            "cost_usd": str(row.get("cost_usd") or "0.000000"),
            "latency_ms_total": row.get("latency_ms_total") or 0,
            "latency_ms_avg": round(row.get("latency_ms_avg") or 0, 1),
        }
    errors = AgentCall.objects.filter(story=story, status=AgentCall.Status.ERROR).count()
    total = {key: sum(agent[key] for agent in agents.values())
             for key in ("calls", "prompt_tokens", "completion_tokens", "cached_tokens", "latency_ms_total")}
    for money in ("cost_usd", "cache_saved_usd"):
        total[money] = str(sum((row.get(money) or 0) for row in rows.values()) or "0.000000")
    total["failed_calls"] = errors
    return {"agents": agents, "total": total}


def story_costs_by_day(*, story: Story) -> list[dict]:
    return list(AgentCall.objects.filter(story=story).annotate(day=TruncDate("created_at")).values("day")
                .annotate(cost_usd=Sum("cost_usd"), tokens=Sum(F("prompt_tokens") + F("completion_tokens")),
                          calls=Count("id")).order_by("day"))


def turn_calls(*, turn: StoryTurn):
    """The calls that wrote the turn (a replay's calls are the replay's: ``replay_calls``)."""
    return AgentCall.objects.filter(turn_id=turn.id, replay__isnull=True).order_by("created_at")


def turn_replays(*, turn: StoryTurn):
    return TurnReplay.objects.filter(turn_id=turn.id).order_by("-created_at")


def turn_passage_origin(*, turn: StoryTurn) -> dict | None:
    """The model and cost of the passage the turn reads now: a kept replay's, else its last Writer call's."""
    kept = TurnReplay.objects.filter(turn_id=turn.id, outcome=TurnReplay.Outcome.KEPT, prose=turn.prose).last()
    if kept is not None:
        return {"connection": kept.connection, "model": kept.model, "cost_usd": kept.cost_usd}
    call = (AgentCall.objects.filter(turn_id=turn.id, agent="writer", replay__isnull=True)
            .exclude(status=AgentCall.Status.ERROR).order_by("created_at").last())
    if call is None:
        return None
    return {"connection": call.provider, "model": call.model, "cost_usd": call.cost_usd}


def user_total_cost(*, user) -> dict:
    totals = AgentCall.objects.filter(user_id=user.pk).aggregate(
        cost_usd=Sum("cost_usd"), tokens=Sum(F("prompt_tokens") + F("completion_tokens")), calls=Count("id"))
    return {"cost_usd": totals["cost_usd"] or Decimal(0), "tokens": totals["tokens"] or 0, "calls": totals["calls"]}


def model_choices(*, user) -> dict:
    """The account's own per-agent choices (``{}`` when they have made none): see ``llm/connections.py``.
    ``user`` is a user or, in tasks, a user's id."""
    return ModelChoices.objects.filter(user_id=getattr(user, "pk", user)).values_list("agents", flat=True).first() or {}


def models_overview(*, user, story: Story | None = None) -> dict:
    """For the Models page and ``/api/me/models/``: the connections offered (names, labels and models;
    never an address or a key), the account's own choices, what each agent uses — for ``story`` when
    given (its own choices first), else for a story with none — and what it would use if this layer (the
    story's, else the account's) chose nothing."""
    own = model_choices(user=user)
    overrides = story.llm_overrides if story is not None else None
    inherited = choices_for(account_choices=own) if story is not None else choices_for()
    overview = {
        "agents": {agent: vars(choice) for agent in AGENTS if (choice := choice_read(own.get(agent)))},
        "effective": {agent: vars(choice) for agent, choice in
                      choices_for(account_choices=own, story_overrides=overrides).items()},
        "inherited": {agent: vars(choice) for agent, choice in inherited.items()},
        "connections": [{"name": connection.name, "label": connection.label, "models": list(connection.models)}
                        for connection in connections().values()],
    }
    if story is not None:
        overview["story"] = {agent: vars(choice) for agent in AGENTS if (choice := choice_read(overrides.get(agent)))}
    return overview


def chapters_preview(*, story: Story, state: StoryState, turn_number: int) -> tuple[list[ChapterView],
                                                                                     ChapterBrief | None]:
    """What the story's chapters would do in ``state`` at ``turn_number`` (available, activating, their
    divergence and tier) and what the Strategist would see; changes nothing. The story admin's preview page and
    the chapter API's preview both show this."""
    return chapter_evaluation.preview(story_id=story.pk, state=state, turn_number=turn_number,
                                      state_vector=embeddings.embed_moment(state))


def story_chapter_panel(*, story: Story) -> ChapterPanel:
    """The chapter panel beside the story, its notes dated by the story's turns (read here, as every reader
    of turns does, through ``story_turns``)."""
    def turn_dates(numbers: set[int]) -> dict:
        return dict(story_turns(story=story).filter(number__in=numbers).values_list("number", "created_at"))

    return chapter_selectors.chapter_panel(story_id=story.pk, state=StoryState(**story.state),
                                           turn_number=turn_number_next(story=story), turn_dates=turn_dates)


def turn_chapter(*, turn) -> dict | None:
    """The chapter brief the Strategist got on this turn, in words (None when it got none)."""
    brief = (turn.briefing or {}).get("chapter")
    return plain_words.brief_in_words(brief) if brief else None


def turn_healings(*, turn) -> list[dict]:
    """The healings a turn triggered (the worker writes them after the turn, under its number)."""
    logs = (ChapterDivergenceLog.objects.filter(story_id=turn.story_id, turn_number=turn.number)
            .select_related("chapter").order_by("created_at", "pk"))
    return [{"chapter": str(log.chapter), "rung": plain_words.RUNGS.get(log.strategy, log.strategy),
             "score": log.score, "reason": log.reason} for log in logs]


def turn_knowledge_told(*, turn) -> dict:
    """The reveals and learning of a turn, as the story's facts record them now (``knowledge_told_in``): the
    briefing's list was fixed before the Dreamer read the passage."""
    return knowledge_selectors.knowledge_told_in(story_id=turn.story_id, turn_number=turn.number)


def character_names(*, story: Story) -> set[str]:
    """The names of the story's characters, casefolded (as ``services.character_names_check`` compares them)."""
    return {name.strip().casefold() for name in story.characters.values_list("name", flat=True)}


def story_what_you_know(*, story: Story) -> list:
    """The facts the player character knows (issue #20): never a secret of others before its reveal."""
    player = story.characters.filter(is_player=True).only("name", "factions").first()
    member = Member(name=player.name if player else "", is_player=True, factions=tuple(player.factions if player else ()))
    return knowledge_selectors.knowledge_known_to(story_id=story.pk, member=member)


# The cast beside the story ---------------------------------------------------------------------

def cast_names(*, story: Story) -> dict[str, str]:
    """The names card macros stand for (``macros_filled(text, **cast_names(story=…))``): ``user`` is the player
    character ("you" without one); ``char`` is a card's own character first, else the first other one."""
    cast = list(story.characters.values_list("name", "is_player", "source_format"))
    player = next((name for name, is_player, _ in cast if is_player), "you")
    others = sorted((not source_format.startswith("card"), name) for name, is_player, source_format in cast
                    if not is_player)
    return {"user": player, "char": others[0][1] if others else "the narrator"}


def story_cast(*, story: Story) -> list[dict]:
    """The story's characters for the Cast card: name, role, description with its macros filled, and
    whether a portrait (a PNG card's image) can be shown."""
    names = cast_names(story=story)
    return [{"id": row["id"], "name": row["name"], "is_player": row["is_player"],
             "description": macros_filled(row["description"], **names),
             "has_portrait": row["portrait_source_id"] is not None}
            for row in story.characters.order_by("-is_player", "name").values(
                "id", "name", "is_player", "description", "portrait_source_id")]


def character_portrait(*, story: Story, character_id: int) -> bytes | None:
    """The PNG a character came from (its card's image), or None; RLS shows only the acting user's."""
    image = (Character.objects.filter(story=story, pk=character_id, portrait_source__isnull=False)
             .values_list("portrait_source__image", flat=True).first())
    return bytes(image) if image else None


def lore_recent_texts(*, story: Story, before: int) -> list[str]:
    """The latest completed turns' text before turn ``before``, newest first, as far back as a lorebook scans:
    what lore activation reads besides the action (the Preprocessor and the player's key tester alike)."""
    rows = (story_turns(story=story).filter(number__lt=before, status=Turn.Status.COMPLETED).order_by("-number")
            .values("action", "prose")[: chapter_lore.MAX_SCAN_DEPTH])
    return [f"{row['action']}\n{row['prose']}" for row in rows]


LORE_BUDGET, LORE_CHARS = 4_800, 1_600  # each book keeps to its own token budget; this caps them together
BRIEFING_FULL = "the briefing's room for lore was full"
BOOK_BUDGET_SPENT = "its book's token budget was spent"


def briefing_lore_fits(contents: list[str]) -> int:
    """How many of the fired entries (most important first, as filled) fit the briefing's room for lore; each
    is cut to ``min(LORE_CHARS, what is left)``."""
    left = LORE_BUDGET
    for count, content in enumerate(contents):
        if left < 80:
            return count
        left -= min(len(content), LORE_CHARS, left)
    return len(contents)


def lore_tested(*, story: Story, action: str) -> chapter_lore.TurnLore:
    """What ``action`` would fire as the story's next turn, as the Preprocessor will compute it (same recent
    turns, same probability seed, same room in the briefing): ``TurnLore`` with the fired entries, those cut
    (by a book's budget or the briefing's room, the reason saying which), those not checked in time."""
    number = turn_number_next(story=story)
    lore = chapter_lore.lore_for_turn(story_id=story.pk, action=action, seed=f"{story.pk}:{number}",
                                      recent=lore_recent_texts(story=story, before=number))
    names = cast_names(story=story)
    fits = briefing_lore_fits([macros_filled(hit.content, **names) for hit in lore.fired])
    return chapter_lore.TurnLore(
        fired=lore.fired[:fits], skipped=lore.skipped,
        cut=[replace(hit, reason=f"{hit.reason}; {BOOK_BUDGET_SPENT}") for hit in lore.cut]
        + [replace(hit, reason=f"{hit.reason}; {BRIEFING_FULL}") for hit in lore.fired[fits:]])


def story_lorebooks(*, story: Story) -> list[dict]:
    """The story's books with their entries, content's macros filled for reading, in the books' own order."""
    names = cast_names(story=story)
    books = list(Lorebook.objects.filter(story=story).order_by("created_at", "id").values("id", "name", "enabled",
                                                                                          "token_budget"))
    entries: dict[int, list[dict]] = {book["id"]: [] for book in books}
    for entry in LoreEntry.objects.filter(story=story).order_by("lorebook", "position").values(
            "id", "lorebook_id", "comment", "keys", "content", "enabled", "constant"):
        entry["shown"] = macros_filled(entry["content"], **names)
        entries[entry["lorebook_id"]].append(entry)
    return [{**book, "entries": entries[book["id"]]} for book in books]
