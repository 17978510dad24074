"""The player's pages. Thin: each validates a form, calls a service or the orchestrator, renders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from accounts.quotas import QuotaExceeded
from accounts.rls import acting_as
from accounts.selectors import usage_summary
from accounts.throttles import rate_limited
from chapters import services as chapter_services
from chapters.models import ChapterSuggestion, StoryChapter
from core.errors import DomainError, error_text
from core.forms import form_error_from

from . import budgets, lore_files, lore_views, orchestrator, replays, selectors, services, snapshots, turn_history
from .contracts import MAX_PROSE_CHARS
from .export import story_markdown
from .forms import (
    ActionForm,
    BudgetForm,
    EditActionForm,
    ModelsForm,
    NewStoryForm,
    ReplayForm,
    StoryNotesForm,
    StoryStateForm,
)
from .llm.check import choices_check
from .llm.connections import ModelChoice
from .llm.status import model_status
from .starter_worlds import starter_world_cards

TURNS_PER_PAGE = 20


def _story(request, story_id):
    return selectors.story_get(user=request.user, story_id=story_id)


def _to_turn(story_id, number=None, anchor=None):
    """The story page, at the page and anchor of turn ``number`` when given (turns are numbered 1…n)."""
    url = reverse("story-detail", args=[story_id])
    if not number:
        return redirect(url)
    return redirect(f"{url}?page={(number - 1) // TURNS_PER_PAGE + 1}#{anchor or f'turn-{number}'}")


TURN_TOOLS_HEADER = "X-Turn-Tools"  # sent by static/js/turns.js, which updates the page in place


def _turn_answer(request, story_id, number=None, *, anchor=None):
    """After a turn tool: the story page at the turn (no JavaScript), or for turns.js the articles from
    the turn before ``number`` to the story's last, the notice, the state and the chapters, to swap in place."""
    if TURN_TOOLS_HEADER not in request.headers:
        return _to_turn(story_id, number, anchor)
    with acting_as(request.user):
        story = _story(request, story_id)
        turns = selectors.story_turns(story=story)
        last = turns.last()
        first = min(number or 1, last.number if last else 1) - 1
        return render(request, "narrative_pipeline/_turns_update.html", {
            "story": story, "turns": list(turns.filter(number__gte=max(first, 1))), "last_turn": last,
            "redo_number": turn_history.turn_redo_number(story=story),
            "turn_notices": list(messages.get_messages(request)),
            "can_play": last is None or last.status == "completed",
            "notes_form": StoryNotesForm.for_story(story), "state_form": StoryStateForm.for_story(story),
            "chapters": selectors.story_chapter_panel(story=story),
        })


@login_required
def story_list(request):
    return render(request, "narrative_pipeline/story_list.html", {
        "stories": selectors.story_list_with_activity(user=request.user)[:200],
        "usage_rows": usage_summary(request.user),
        "model_status": model_status(account_choices=selectors.model_choices(user=request.user)),
    })


@login_required
def story_new(request):
    """A premise, a starter world, or a file (a card or a world): a file is shown first as a preview of what it
    holds, then created on "Create story" (it waits in the cache between the two)."""
    token = request.POST.get("token", "")
    if request.method == "POST" and token:
        return _story_new_from_file(request, token)
    form = NewStoryForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["file"]:
                token, preview = lore_views.upload_pending(request, data["file"], title=data["title"])
                return _story_new_page(request, form, preview=preview, token=token, filename=data["file"].name)
            if data["world"]:
                story = services.story_create_from_world(user=request.user, world=data["world"])
            else:
                story = services.story_create(user=request.user, title=data["title"], premise=data["premise"],
                                              genre=data["genre"])
        except ValidationError as error:
            form.add_error("file", "; ".join(error.messages))
        except QuotaExceeded as error:
            form_error_from(form, error)
        else:
            messages.success(request, f"“{story.title}” is ready. What do you do?")
            return _to_turn(story.pk)
    return _story_new_page(request, form, status=400 if form.errors else 200)


def _story_new_page(request, form, *, status=200, **preview):
    return render(request, "narrative_pipeline/story_new.html",
                  {"form": form, "starter_worlds": starter_world_cards(), **preview}, status=status)


def _story_new_from_file(request, token: str):
    pending = lore_views.upload_taken(request, token)
    form = NewStoryForm()
    if pending is None:
        messages.error(request, "That upload has expired; choose the file again.")
        return redirect("story-new")
    try:
        story = lore_files.story_from_file(user=request.user, **pending)
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
        return _story_new_page(request, form, status=400)
    except QuotaExceeded as error:
        messages.error(request, error.message)
        return _story_new_page(request, form, status=400)
    lore_views.upload_done(request, token)
    messages.success(request, f"“{story.title}” is ready. What do you do?")
    return _to_turn(story.pk)


def _story_page(request, story, *, action_form=None, notes_form=None, state_form=None, status=200):
    turns = selectors.story_turns(story=story)
    paginator = Paginator(turns, TURNS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page") or paginator.num_pages)
    last = turns.last()
    return render(request, "narrative_pipeline/story_detail.html", {
        "story": story, "page": page, "last_turn": last,
        "action_form": action_form or ActionForm(),
        "notes_form": notes_form or StoryNotesForm.for_story(story),
        "state_form": state_form or StoryStateForm.for_story(story),
        "can_play": last is None or last.status == "completed",
        "redo_number": turn_history.turn_redo_number(story=story),
        "chapters": selectors.story_chapter_panel(story=story),
        "what_you_know": selectors.story_what_you_know(story=story),
        "model_status": model_status(account_choices=selectors.model_choices(user=request.user),
                                     story_overrides=story.llm_overrides),
        **_budget_context(request.user, story, last),
    }, status=status)


def _budget_context(user, story, last_turn) -> dict:
    """The story's and the month's budgets for the notice by the action box (the owner's: they pay)."""
    if story.user_id != user.pk:
        return {}
    return {"story_budget": budgets.story_budget(story=story), "month_budget": budgets.account_budget(user=user),
            "budget_form": BudgetForm(initial={"cap_usd": story.budget_usd}),
            "budget_refused": last_turn is not None and last_turn.status == "failed"
            and last_turn.error.startswith(budgets.REFUSAL_OPENING)}


@login_required
def story_detail(request, story_id):
    return _story_page(request, _story(request, story_id))


@login_required
@transaction.non_atomic_requests
@require_POST
@rate_limited("turns")
def story_play(request, story_id):
    """Without JavaScript: write the turn, then show the story (the page streams it with JavaScript)."""
    with acting_as(request.user):
        story = _story(request, story_id)
    form = ActionForm(request.POST)
    if not form.is_valid():
        with acting_as(request.user):
            return _story_page(request, story, action_form=form, status=400)
    try:
        turn, created = orchestrator.turn_submit(user=request.user, story_id=story.pk, **form.cleaned_data)
    except orchestrator.TurnRefused as refused:
        messages.error(request, refused.message)
        return _to_turn(story.pk)
    try:
        if created:
            turn = orchestrator.turn_generate(user=request.user, turn=turn)
    except budgets.BudgetExceeded as refused:
        messages.error(request, refused.message)
        return _to_turn(story.pk, turn.number)
    if turn.status == "failed":
        messages.error(request, f"Turn {turn.number} could not be written: {turn.error}")
    return _to_turn(story.pk, turn.number)


def _change_turn(request, story_id, change, **arguments):
    with acting_as(request.user):
        story = _story(request, story_id)
    try:
        turn = change(user=request.user, story_id=story.pk, **arguments)
    except (orchestrator.TurnRefused, budgets.BudgetExceeded) as refused:
        messages.error(request, refused.message)
        return _turn_answer(request, story.pk, arguments.get("number"))
    if turn.status == "failed" or turn.error:
        messages.error(request, f"Turn {turn.number} could not be written: {turn.error}")
    return _turn_answer(request, story.pk, turn.number)


@login_required
@transaction.non_atomic_requests
@require_POST
@rate_limited("rerolls")
def turn_reroll(request, story_id, number):
    return _change_turn(request, story_id, orchestrator.turn_reroll, number=number)


@login_required
@transaction.non_atomic_requests
@require_POST
@rate_limited("turns")
def turn_retry(request, story_id, number):
    return _change_turn(request, story_id, orchestrator.turn_retry, number=number)


@login_required
@transaction.non_atomic_requests
@require_POST
@rate_limited("turns")
def turn_edit(request, story_id, number):
    """Change the action of any turn; an earlier turn's later turns are kept in a branch first."""
    form = EditActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(form.errors["action"]))
        return _turn_answer(request, story_id, number)
    with acting_as(request.user):
        story = _story(request, story_id)
    try:
        edited = turn_history.turn_action_edit(user=request.user, story_id=story.pk, number=number,
                                               action=form.cleaned_data["action"])
    except (orchestrator.TurnRefused, budgets.BudgetExceeded) as refused:
        messages.error(request, refused.message)
        return _turn_answer(request, story.pk, number)
    if edited.branch is not None:
        messages.info(request, format_html(
            "Turns {}–{} were kept in the branch <a href=\"{}\">‘{}’</a>.", edited.kept_from, edited.kept_to,
            reverse("story-detail", args=[edited.branch.pk]), edited.branch.title))
    if edited.turn.status == "failed" or edited.turn.error:
        messages.error(request, f"Turn {edited.turn.number} could not be written: {edited.turn.error}")
    return _turn_answer(request, story.pk, number)


@login_required
@require_POST
def turn_text(request, story_id, number):
    """Rewrite a passage by hand. On a story based on a snapshot (a fork, a branch) the new text is
    the story's own override; the snapshot it reads from stays as it was."""
    story = _story(request, story_id)
    prose = request.POST.get("prose", "").replace("\r\n", "\n")
    if len(prose) > MAX_PROSE_CHARS:
        messages.error(request, f"A passage is at most {MAX_PROSE_CHARS:,} characters; this one has {len(prose):,}.")
        return _to_turn(story.pk, number)
    try:
        turn = snapshots.turn_text_set(user=request.user, story=story, number=number, prose=prose)
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    except QuotaExceeded as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Turn {turn.number} has its new text.")
    return _turn_answer(request, story.pk, number)


@login_required
@require_POST
def turn_undo(request, story_id):
    """Undo the last turn; the page's notice then says so and offers to redo it."""
    story = _story(request, story_id)
    try:
        turn = orchestrator.turn_undo(user=request.user, story_id=story.pk)
    except orchestrator.TurnRefused as refused:
        messages.error(request, refused.message)
        return _turn_answer(request, story.pk)
    return _turn_answer(request, story.pk, turn.number - 1 or None, anchor="turn-notice")


@login_required
@require_POST
def turn_redo(request, story_id):
    story = _story(request, story_id)
    if not services.can_change_story(request.user, story):
        messages.error(request, "You may read this story but not change it.")
        return _turn_answer(request, story.pk)
    try:
        turn = turn_history.turn_redo(user=request.user, story_id=story.pk)
    except orchestrator.TurnRefused as refused:
        messages.error(request, refused.message)
        return _turn_answer(request, story.pk)
    messages.info(request, f"Turn {turn.number} is back.")
    return _turn_answer(request, story.pk, turn.number)


@login_required
@require_POST
def turn_choose(request, story_id, number):
    """Make one version of a passage the one the story reads (the replaced one stays a version)."""
    story = _story(request, story_id)
    if not services.can_change_story(request.user, story):
        messages.error(request, "You may read this story but not change it.")
        return _turn_answer(request, story.pk)
    try:
        version = int(request.POST.get("version", ""))
        turn_history.turn_version_choose(user=request.user, story_id=story.pk, number=number, version=version)
    except ValueError:
        messages.error(request, "Choose a version by its number.")
    except orchestrator.TurnRefused as refused:
        messages.error(request, refused.message)
    return _turn_answer(request, story.pk, number)


@login_required
@require_POST
def chapter_start(request, story_id, number):
    story = _story(request, story_id)
    chapter = get_object_or_404(StoryChapter, story_id=story.pk, number=number)
    try:
        chapter_services.chapter_start(chapter=chapter, turn_number=selectors.turn_number_next(story=story))
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    else:
        messages.success(request, f"Chapter {chapter.number}, “{chapter.title}”, begins with your next action.")
    return _to_turn(story.pk)


@login_required
@require_POST
def suggestion_decide(request, story_id, suggestion_id, decision):
    if decision not in ("accept", "dismiss"):
        raise Http404
    story = _story(request, story_id)
    suggestion = get_object_or_404(ChapterSuggestion, story_id=story.pk, pk=suggestion_id)
    if decision == "accept":
        try:
            chapter = chapter_services.suggestion_accept(suggestion=suggestion)
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
        else:
            messages.success(request, f"“{chapter.title}” is the story's next chapter.")
    else:
        chapter_services.suggestion_dismiss(suggestion=suggestion)
        messages.info(request, "Suggestion dismissed.")
    return _to_turn(story.pk)


@login_required
@require_POST
def story_budget(request, story_id):
    """Set or clear the story's own cap (its owner only: a co-author's turns spend the owner's money)."""
    story = _story(request, story_id)
    form = BudgetForm(request.POST)
    if not form.is_valid() or story.user_id != request.user.pk:
        messages.error(request, "Only the story's owner can set its budget, as an amount of 0 or more."
                       if form.is_valid() else error_text(ValidationError(form.errors["cap_usd"])))
        return redirect(reverse("story-detail", args=[story.pk]) + "#budget")
    budgets.story_budget_set(user=request.user, story_id=story.pk, budget_usd=form.cleaned_data["cap_usd"])
    messages.success(request, "Budget saved." if form.cleaned_data["cap_usd"] is not None
                     else "This story has no cap of its own now: only your monthly budget limits it.")
    return redirect(reverse("story-detail", args=[story.pk]) + "#budget")


@login_required
@require_POST
def account_budget(request):
    """Lower (or reset to the tier's) the player's monthly cap, from the profile."""
    form = BudgetForm(request.POST)
    if form.is_valid():
        try:
            budgets.account_budget_set(user=request.user, budget_usd=form.cleaned_data["cap_usd"])
        except DomainError as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, "Monthly budget saved.")
    else:
        messages.error(request, error_text(ValidationError(form.errors["cap_usd"])))
    return redirect(reverse("profile") + "#budget")


@login_required
@require_POST
def story_notes(request, story_id):
    story = _story(request, story_id)
    form = StoryNotesForm.for_story(story, request.POST)
    if form.is_valid():
        try:
            services.story_update(user=request.user, story=story, **form.changes())
        except (ValidationError, QuotaExceeded) as error:
            form_error_from(form, error)
        else:
            messages.success(request, "Saved: the writers' room will see it from the next turn.")
            return _to_turn(story.pk)
    return _story_page(request, story, notes_form=form, status=400)


@login_required
@require_POST
def story_state(request, story_id):
    """The State card fixed in place: the next turn starts from what the player wrote."""
    story = _story(request, story_id)
    form = StoryStateForm.for_story(story, request.POST)
    if form.is_valid():
        try:
            services.story_update(user=request.user, story=story, state=form.changes())
        except (ValidationError, QuotaExceeded) as error:
            form_error_from(form, error)
        else:
            messages.success(request, "State saved: the next turn starts from it.")
            return redirect(reverse("story-detail", args=[story.pk]) + "#story-state")
    return _story_page(request, story, state_form=form, status=400)


@login_required
def turn_detail(request, story_id, number):
    """The writers' room for one turn: what each agent saw and did, and what it cost."""
    story = _story(request, story_id)
    turn = selectors.turn_get(story=story, number=number)
    calls = selectors.turn_calls(turn=turn)
    return render(request, "narrative_pipeline/turn_detail.html", {
        "story": story, "turn": turn, "calls": calls, "total_cost": sum(call.cost_usd for call in calls),
        "replays": selectors.turn_replays(turn=turn),
        "briefing": turn.briefing or {}, "template": turn.template or {},
        "chapter": selectors.turn_chapter(turn=turn), "healings": selectors.turn_healings(turn=turn),
        "told": selectors.turn_knowledge_told(turn=turn),
    })


@login_required
@transaction.non_atomic_requests
@rate_limited("rerolls")
def turn_replay(request, story_id, number):
    """Replay a turn's Writer with another model, beside the passage it wrote (GET shows the form and the
    replays so far; POST writes one and shows it)."""
    with acting_as(request.user):
        story = _story(request, story_id)
        turn = selectors.turn_get(story=story, number=number)
        every = list(selectors.turn_replays(turn=turn))
        shown = next((replay for replay in every if str(replay.pk) == request.GET.get("replay")),
                     every[0] if every else None)
        form = ReplayForm(request.POST or None, overview=selectors.models_overview(user=request.user, story=story),
                          initial={"choice": f"{shown.connection}:{shown.model}"} if shown else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                replay = replays.turn_replay(user=request.user, story_id=story.pk, number=number, **form.picked())
            except (orchestrator.TurnRefused, budgets.BudgetExceeded) as refused:
                form_error_from(form, refused)
            else:
                if replay.error:
                    messages.error(request, f"The replay could not be written: {replay.error}")
                return redirect(f"{reverse('turn-replay', args=[story.pk, number])}?replay={replay.pk}#replay")
        status = 400
    with acting_as(request.user):
        return render(request, "narrative_pipeline/turn_replay.html", {
            "story": story, "turn": turn, "form": form, "replays": every, "shown": shown,
            "original": selectors.turn_passage_origin(turn=turn),
            "can_change": services.can_change_story(request.user, story),
        }, status=status)


def _replay_decided(request, story_id, number, replay_id, decide):
    with acting_as(request.user):
        story = _story(request, story_id)
    try:
        return decide(user=request.user, story_id=story.pk, number=number, replay_id=replay_id), story
    except orchestrator.TurnRefused as refused:
        messages.error(request, refused.message)
        return None, story


@login_required
@require_POST
def replay_keep(request, story_id, number, replay_id):
    """The replay's passage becomes the turn's; the old one stays a version of it."""
    kept, story = _replay_decided(request, story_id, number, replay_id, replays.replay_keep)
    if kept is None:
        return redirect("turn-replay", story.pk, number)
    messages.success(request, f"Turn {number} now reads the replay; the passage it had is kept as a version.")
    return _to_turn(story.pk, number)


@login_required
@require_POST
def replay_branch(request, story_id, number, replay_id):
    """A branch of the story that ends at this turn with the replay's passage."""
    branch, story = _replay_decided(request, story_id, number, replay_id, replays.replay_branch)
    if branch is None:
        return redirect("turn-replay", story.pk, number)
    messages.success(request, format_html("The branch ‘{}’ ends with the replay; “{}” is unchanged.",
                                          branch.title, story.title))
    return _to_turn(branch.pk, number)


@login_required
def story_costs(request, story_id):
    story = _story(request, story_id)
    costs = selectors.story_costs(story=story)
    by_day = selectors.story_costs_by_day(story=story)
    chart = {
        "agents": list(costs["agents"]),
        "agent_cost": [float(agent["cost_usd"]) for agent in costs["agents"].values()],
        "agent_tokens": [agent["prompt_tokens"] + agent["completion_tokens"] for agent in costs["agents"].values()],
        "days": [row["day"].isoformat() for row in by_day],
        "day_cost": [float(row["cost_usd"] or 0) for row in by_day],
        "day_tokens": [row["tokens"] or 0 for row in by_day],
    }
    return render(request, "narrative_pipeline/story_costs.html", {
        "story": story, "costs": costs, "by_day": by_day, "chart": chart})


@login_required
def story_export(request, story_id):
    story = _story(request, story_id)
    response = HttpResponse(story_markdown(story), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{story.title[:80] or 'story'}.md")
    return response


@login_required
def story_delete(request, story_id):
    story = _story(request, story_id)
    if request.method == "POST":
        services.story_delete(user=request.user, story=story)
        messages.success(request, f"“{story.title}” is deleted.")
        return redirect("story-list")
    return render(request, "narrative_pipeline/story_delete.html", {"story": story})



@login_required
def models_page(request):
    return _models(request, story=None)


@login_required
def story_models(request, story_id):
    return _models(request, story=_story(request, story_id))


@login_required
@require_POST
@rate_limited("model_tests")
def models_test(request):
    return _models(request, story=None, test=True)


@login_required
@require_POST
@rate_limited("model_tests")
def story_models_test(request, story_id):
    return _models(request, story=_story(request, story_id), test=True)


def _models(request, *, story, test: bool = False):
    """The Models page, for the account (the default of every story) or for one story."""
    overview = selectors.models_overview(user=request.user, story=story)
    chosen, prefix = (overview["agents"], "Site default") if story is None else (overview["story"], "Your default")
    inherited = {agent: ModelsForm.inherited_text(prefix, choice, overview)
                 for agent, choice in overview["inherited"].items()}
    saving = request.method == "POST" and not test
    form = ModelsForm(request.POST if saving else None, overview=overview, inherited=inherited, chosen=chosen)
    if saving and form.is_valid():
        try:
            if story is None:
                services.model_choices_set(user=request.user,
                                           agents={agent: choice for agent, choice in form.choices().items() if choice})
            else:
                services.story_update(user=request.user, story=story, llm_overrides=form.choices())
        except ValidationError as error:
            form_error_from(form, error)
        else:
            messages.success(request, "Models saved. The next call of each agent uses them.")
            return redirect(reverse("story-models", args=[story.pk]) if story else reverse("models"))
    reports = choices_check({agent: ModelChoice(**choice) for agent, choice in overview["effective"].items()},
                            for_operator=False) if test else None
    return render(request, "narrative_pipeline/models.html", {
        "story": story, "form": form, "overview": overview, "reports": reports,
        "model_status": model_status(account_choices=selectors.model_choices(user=request.user),
                                     story_overrides=story.llm_overrides if story else None),
    })
