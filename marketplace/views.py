"""The marketplace's pages, and the fragment the core story page loads (DESIGN §5: the core shows
marketplace things only through URLs served here). Thin: each calls a service, a fork function or
a selector, and turns their errors into form errors, messages, 403 or 404 pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.quotas import QuotaExceeded
from narrative_pipeline import selectors as story_selectors
from narrative_pipeline.models import SnapshotSeries, StorageMode

from . import forks, selectors, services, sync
from .forms import BranchForm, BrowseForm, ForkForm, PublishForm, ReportForm
from .models import AssetKind, CommunityStory, Licence, StoryFork, SyncConflict, SyncRun

CARDS_PER_PAGE = 20
KIND_NAMES = {"turn": ("turn", "turns"), "chapter": ("chapter", "chapters"), "lorebook": ("lore book", "lore books"),
              "loreentry": ("lore entry", "lore entries"), "character": ("character", "characters")}


def _error_text(error: ValidationError) -> str:
    return "; ".join(error.messages)


def _forbidden(request, error: PermissionDenied):
    return render(request, "marketplace/forbidden.html", {"message": str(error) or "You may not do that."},
                  status=403)


def _listing(listing_id) -> CommunityStory:
    try:
        return selectors.listing_get(listing_id)
    except CommunityStory.DoesNotExist as missing:
        raise Http404("There is no such published story.") from missing


def _story(request, story_id):
    return story_selectors.story_get(user=request.user, story_id=story_id)


def _own_listing(user, story) -> CommunityStory | None:
    """The story's current listing, if its owner has it published (what ``services.publish`` updates)."""
    return (CommunityStory.objects.select_related("series")
            .filter(series__source_story=story, series__is_public=True, author_id=user.pk).first())


def _counted(count: int, kind: str) -> str:
    one, many = KIND_NAMES.get(kind, (kind, kind))
    return f"{count:,} {one if count == 1 else many}"


def _last_turn_number(story) -> int:
    last = story_selectors.story_turns(story=story).values_list("number", flat=True).last()
    return last or 0


def _with_source_latest(forks_query):
    """Each fork with ``source_latest``: its series' latest version (``None`` where the series is not
    readable), by a sub-query, so a fork is never dropped by a join. A fork is behind when
    ``source_latest`` is above its ``version``: the update badge."""
    return forks_query.annotate(source_latest=Subquery(
        SnapshotSeries.objects.filter(pk=OuterRef("series_id")).values("latest_version")[:1]))


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


# -- Browse ----------------------------------------------------------------------------------


@login_required
def browse(request):
    form = BrowseForm(request.GET)
    error, page = "", None
    filters = form.filters()
    try:
        if len(filters["tags"]) > services.MAX_TAGS:
            raise ValidationError({"tags": [f"Filter by at most {services.MAX_TAGS} tags."]})
        rows = selectors.browse(**filters)
    except ValidationError as invalid:
        error = _error_text(invalid)
    else:
        page = Paginator(rows, CARDS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "marketplace/browse.html", {
        "form": form, "page": page, "error": error, "query": query.urlencode(),
        "searching": any(filters[name] for name in ("q", "genre", "tags", "licence", "rating")),
    }, status=400 if error else 200)


# -- One published story ---------------------------------------------------------------------


def _asset_page(request, listing, *, fork_form=None, report_form=None, status=200):
    return render(request, "marketplace/asset.html", {
        "listing": listing,
        "author": listing.attribution,
        "opening": selectors.opening(listing),
        "versions": [{**version, "changed": [_counted(count, kind)
                                             for kind, count in version["changed"].items() if count]}
                     for version in selectors.versions(listing)],
        "lineage": forks.lineage(listing),
        "others": selectors.author_others(listing)[:10],
        "is_author": listing.author_id == request.user.pk,
        "fork_form": fork_form or ForkForm(),
        "report_form": report_form or ReportForm(),
    }, status=status)


@login_required
def asset(request, listing_id):
    return _asset_page(request, _listing(listing_id))


@login_required
@require_POST
def fork(request, listing_id):
    listing = _listing(listing_id)
    form = ForkForm(request.POST)
    if not form.is_valid():
        return _asset_page(request, listing, fork_form=form, status=400)
    try:
        record = forks.fork(user=request.user, listing_id=listing.pk, at_turn=form.cleaned_data["at_turn"])
    except CommunityStory.DoesNotExist as missing:
        raise Http404("There is no such published story.") from missing
    except PermissionDenied as refused:
        return _forbidden(request, refused)
    except ValidationError as invalid:
        form.add_error("at_turn" if "at_turn" in getattr(invalid, "error_dict", {}) else None, _error_text(invalid))
        return _asset_page(request, listing, fork_form=form, status=400)
    except QuotaExceeded as over:
        form.add_error(None, over.message)
        return _asset_page(request, listing, fork_form=form, status=400)
    messages.success(request, f"Your fork of “{record.source_title}” is ready: play on from turn {record.at_turn}.")
    return redirect("story-detail", record.story_id)


@login_required
@require_POST
def like(request, listing_id):
    listing = _listing(listing_id)
    try:
        services.like(user=request.user, listing=listing)
    except services.Conflict as repeat:
        messages.info(request, str(repeat))
    else:
        messages.success(request, f"You like “{listing.title}”.")
    return redirect("marketplace-asset", listing.pk)


@login_required
@require_POST
def report(request, listing_id):
    listing = _listing(listing_id)
    form = ReportForm(request.POST)
    if form.is_valid():
        try:
            services.report(user=request.user, listing=listing, reason=form.cleaned_data["reason"])
        except ValidationError as invalid:
            form.add_error("reason", _error_text(invalid))
        else:
            messages.success(request, "Thank you: the moderators will look at this story.")
            return redirect("marketplace-asset", listing.pk)
    return _asset_page(request, listing, report_form=form, status=400)


@login_required
@require_POST
def unpublish(request, listing_id):
    listing = _listing(listing_id)
    try:
        services.unpublish(user=request.user, listing=listing)
    except PermissionDenied as refused:
        return _forbidden(request, refused)
    messages.success(request, f"“{listing.title}” is no longer in the marketplace; existing forks keep it.")
    return redirect("marketplace-published")


# -- Mine ------------------------------------------------------------------------------------


@login_required
def my_forks(request):
    rows = _with_source_latest(StoryFork.objects.filter(user_id=request.user.pk)
                               .select_related("story", "community").order_by("-created_at"))
    return render(request, "marketplace/my_forks.html", {"forks": rows[:500]})


@login_required
def my_published(request):
    rows = (CommunityStory.objects.filter(author_id=request.user.pk).select_related("series", "counter")
            .annotate(likes=Coalesce(F("counter__likes"), 0), forks=Coalesce(F("counter__forks"), 0),
                      downloads=Coalesce(F("counter__downloads"), 0), version=F("series__latest_version"))
            .order_by("-updated_at"))
    return render(request, "marketplace/my_published.html", {"listings": rows[:500]})


# -- Publishing ------------------------------------------------------------------------------


@login_required
def publish(request, story_id):
    story = _story(request, story_id)
    listing = _own_listing(request.user, story)
    fork_record = StoryFork.objects.filter(story=story, kind=AssetKind.STORY).first()
    if listing is not None:
        initial = {"title": listing.title, "description": listing.description, "genre": listing.genre,
                   "tags": ", ".join(listing.tags), "licence": listing.licence, "rating": listing.rating}
    else:
        initial = {"title": story.title, "genre": story.genre,
                   "licence": Licence.CC_BY_SA if fork_record and fork_record.licence == Licence.CC_BY_SA
                   else Licence.CC_BY}
    form = PublishForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            published = services.publish(user=request.user, story=story, **form.cleaned_data)
        except ValidationError as invalid:
            form.add_service_error(invalid)
        except PermissionDenied as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, f"“{published.title}” is published, version {published.series.latest_version}.")
            return redirect("marketplace-asset", published.pk)
    return render(request, "marketplace/publish.html", {
        "story": story, "listing": listing, "form": form, "fork": fork_record,
    }, status=400 if form.errors else 200)


# -- The story page's marketplace panel (and its page without JavaScript) --------------------


def _panel_context(request, story) -> dict:
    last = _last_turn_number(story)
    return {"story": story, "listing": _own_listing(request.user, story),
            "fork": _with_source_latest(StoryFork.objects.filter(story=story).select_related("community")).first(),
            "branch_form": BranchForm(initial={"at_turn": last}), "last_turn": last}


@login_required
def story_fragment(request, story_id):
    """What the core story page loads with htmx: publish, branch, and where the story came from."""
    return render(request, "marketplace/_story_panel.html", _panel_context(request, _story(request, story_id)))


@login_required
def story_panel(request, story_id):
    """The same, as a page: where the story page's link leads without JavaScript."""
    return render(request, "marketplace/story_panel.html", _panel_context(request, _story(request, story_id)))


@login_required
@require_POST
def branch(request, story_id):
    story = _story(request, story_id)
    form = BranchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Branch at which turn? " + " ".join(form.errors["at_turn"]))
        return redirect("story-detail", story.pk)
    try:
        record = forks.branch(user=request.user, story=story, at_turn=form.cleaned_data["at_turn"])
    except PermissionDenied as refused:
        return _forbidden(request, refused)
    except ValidationError as invalid:
        messages.error(request, _error_text(invalid))
        return redirect("story-detail", story.pk)
    except QuotaExceeded as over:
        messages.error(request, over.message)
        return redirect("story-detail", story.pk)
    messages.success(request, f"A new story goes on from turn {record.at_turn} of “{story.title}”.")
    return redirect(reverse("story-detail", args=[record.story_id]))


# -- Source sync of a fork -------------------------------------------------------------------


def _own_fork(request, fork_id) -> StoryFork:
    """The user's own fork record, or 404 (under RLS another user's does not exist either)."""
    record = (_with_source_latest(StoryFork.objects.filter(pk=fork_id, user_id=request.user.pk))
              .select_related("story", "community").first())
    if record is None:
        raise Http404("There is no such fork.")
    return record


def _last_run(record) -> SyncRun | None:
    """The fork's last sync not undone: what *Undo* puts back (``sync.undo`` takes the same one)."""
    return SyncRun.objects.filter(fork=record, status=SyncRun.Status.DONE).order_by("-created_at").first()


def _run_message(run: SyncRun) -> str:
    if run.from_version == run.to_version:
        return f"Your fork is already on the source's latest version ({run.to_version}): nothing to sync."
    text = (f"Synced with version {run.to_version}: {_plural(run.applied, 'change')} applied automatically, "
            f"{run.kept:,} kept, {_plural(run.conflict_count, 'conflict')}.")
    if run.conflict_count:
        text += " Resolve " + ("it" if run.conflict_count == 1 else "them") + " below."
    if run.continued:
        text += f" And the author continued the story: {_plural(run.continued, 'new turn')}."
    return text


RESOLVED = {
    "source": "Turn {n} now reads the source's text; yours is kept as an earlier version of the turn.",
    "mine": "Turn {n} keeps your text.",
    "both": "Turn {n} keeps your text, with the source's as an earlier version of the turn.",
}


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def sync_page(request, fork_id):
    """The fork against its source: GET shows it with its open conflicts; POST is *Sync now*."""
    record = _own_fork(request, fork_id)
    if request.method == "POST":
        return _sync_now(request, record)
    run = _last_run(record)
    undoable = run is not None and run.from_version != run.to_version
    return render(request, "marketplace/sync.html", {
        "fork": record,
        "story": record.story,
        "behind": record.source_latest is not None and record.source_latest > record.version,
        "full_copy": record.story.storage_mode == StorageMode.FULL_COPY,
        "conflicts": SyncConflict.objects.filter(fork=record, choice="").select_related("run")
        .order_by("turn_number"),
        "last_run": run if undoable else None,
        "undo_blocked": undoable and run.conflicts.exclude(choice="").exists(),
    })


def _sync_now(request, record):
    try:
        run = sync.sync(user=request.user, fork_id=record.pk)
    except services.Conflict as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, _run_message(run))
    return redirect("marketplace-sync", record.pk)


@login_required
@require_POST
def sync_resolve(request, fork_id, conflict_id):
    record = _own_fork(request, fork_id)
    choice = request.POST.get("choice", "")
    try:
        conflict = sync.resolve(user=request.user, fork_id=record.pk, conflict_id=conflict_id, choice=choice)
    except SyncConflict.DoesNotExist as missing:
        raise Http404("There is no such conflict.") from missing
    except ValidationError as invalid:
        messages.error(request, _error_text(invalid))
    except services.Conflict as repeat:
        messages.info(request, str(repeat))
    else:
        messages.success(request, RESOLVED[conflict.choice].format(n=conflict.turn_number))
    return redirect("marketplace-sync", record.pk)


@login_required
@require_POST
def sync_undo(request, fork_id):
    record = _own_fork(request, fork_id)
    try:
        run = sync.undo(user=request.user, fork_id=record.pk)
    except services.Conflict as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"The last sync is undone: your fork is back on version {run.from_version}, "
                                  "its turns as they were.")
    return redirect("marketplace-sync", record.pk)
