"""The marketplace's pages, and the fragment the core story page loads (DESIGN §5: the core shows
marketplace things only through URLs served here). Thin: each calls a service, a fork function or
a selector, and turns their errors into form errors, messages, 403 or 404 pages."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.quotas import QuotaExceeded
from accounts.throttles import rate_limited
from chapters.models import StoryChapter
from narrative_pipeline import selectors as story_selectors
from narrative_pipeline.models import Character, Story
from narrative_pipeline.snapshots import entry_key

from . import forks, selectors, services, sync
from .forms import BranchForm, BrowseForm, ForkForm, PublishForm, ReportForm, TakeForm
from .models import AssetKind, CommunityStory, Licence, StoryFork, SyncConflict, SyncRun

CARDS_PER_PAGE = 20
# What each kind of asset is called: (one, many), and the browse tab's label.
ASSET_NAMES = {AssetKind.STORY: ("story", "stories"), AssetKind.CHAPTERS: ("chapter set", "chapter sets"),
               AssetKind.CHARACTER: ("character", "characters")}
BROWSE_TABS = ((AssetKind.STORY, "Stories"), (AssetKind.CHAPTERS, "Chapter sets"), (AssetKind.CHARACTER, "Characters"))
DOWNLOADS = {AssetKind.STORY: ("api-marketplace-download", "Markdown"),
             AssetKind.CHAPTERS: ("api-marketplace-download-chapters", "chapter text"),
             AssetKind.CHARACTER: ("api-marketplace-download-characters", "Character Card V2")}


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


def _own_listing(user, story, kind: str = AssetKind.STORY, character: str = "") -> CommunityStory | None:
    """The story's current listing of ``kind`` (its chapters, one character), if its owner has it
    published (what ``services.publish`` updates)."""
    return (CommunityStory.objects.select_related("series")
            .filter(series__source_story=story, series__is_public=True, author_id=user.pk, kind=kind,
                    character_name=character if kind == AssetKind.CHARACTER else "").first())


def _publish_url(story_id, kind: str = AssetKind.STORY, character: str = "") -> str:
    """The publish page of a story, its chapters or one of its characters."""
    url = reverse("marketplace-publish", args=[story_id])
    if kind == AssetKind.CHAPTERS:
        return f"{url}?kind=chapters"
    if kind == AssetKind.CHARACTER:
        return f"{url}?{urlencode({'kind': kind, 'character': character})}" if character else f"{url}?kind={kind}"
    return url


def _counted(count: int, kind: str) -> str:
    one, many = sync.ITEM_NAMES.get(kind, (kind, kind))
    return f"{count:,} {one if count == 1 else many}"


def _last_turn_number(story) -> int:
    last = story_selectors.story_turns(story=story).values_list("number", flat=True).last()
    return last or 0


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


# -- Browse ----------------------------------------------------------------------------------


@login_required
def browse(request):
    form = BrowseForm(request.GET)
    error, page = "", None
    filters = form.filters()
    kind = filters["kind"]
    try:
        if kind not in AssetKind.values:
            raise ValidationError({"kind": ["Browse stories, chapter sets or characters."]})
        if len(filters["tags"]) > services.MAX_TAGS:
            raise ValidationError({"tags": [f"Filter by at most {services.MAX_TAGS} tags."]})
        rows = selectors.browse(**filters)
    except ValidationError as invalid:
        error = _error_text(invalid)
    else:
        page = Paginator(rows, CARDS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("kind", None)  # each tab keeps the search and filters, in its own kind
    tabs = [{"kind": value, "label": label, "current": value == kind,
             "url": "?" + "&".join(part for part in (f"kind={value}" if value != AssetKind.STORY else "",
                                                      query.urlencode()) if part)}
            for value, label in BROWSE_TABS]
    if kind != AssetKind.STORY:
        query["kind"] = kind
    return render(request, "marketplace/browse.html", {
        "form": form, "page": page, "error": error, "query": query.urlencode(), "tabs": tabs, "kind": kind,
        "names": ASSET_NAMES.get(kind, ASSET_NAMES[AssetKind.STORY]),
        "searching": any(filters[name] for name in ("q", "genre", "tags", "licence", "rating")),
    }, status=400 if error else 200)


# -- One published story ---------------------------------------------------------------------


def _take_form(request, data=None) -> TakeForm:
    return TakeForm(data, stories=story_selectors.story_list(user=request.user).only("id", "title")[:200])


def _asset_page(request, listing, *, fork_form=None, report_form=None, status=200):
    is_story = listing.kind == AssetKind.STORY
    download, download_format = DOWNLOADS[listing.kind]
    return render(request, "marketplace/asset.html", {
        "listing": listing,
        "noun": ASSET_NAMES[listing.kind][0],
        "author": listing.attribution,
        "opening": selectors.opening(listing) if is_story else [],
        "contents": [] if is_story else selectors.contents(listing),
        "versions": [{**version, "changed": [_counted(count, kind)
                                             for kind, count in version["changed"].items() if count]}
                     for version in selectors.versions(listing)],
        "lineage": forks.lineage(listing),
        "others": selectors.author_others(listing)[:10],
        "is_author": listing.author_id == request.user.pk,
        "publish_url": _publish_url(listing.series.source_story_id, listing.kind, listing.character_name)
        if listing.series.source_story_id else "",
        "download_url": reverse(download, args=[listing.pk]), "download_format": download_format,
        "fork_form": fork_form or (ForkForm() if is_story else _take_form(request)),
        "report_form": report_form or ReportForm(),
    }, status=status)


@login_required
def asset(request, listing_id):
    return _asset_page(request, _listing(listing_id))


@login_required
@require_POST
def fork(request, listing_id):
    """Fork a story (at a turn), or take a chapter set or character into one of the user's stories."""
    listing = _listing(listing_id)
    is_story = listing.kind == AssetKind.STORY
    form, field = (ForkForm(request.POST), "at_turn") if is_story else (_take_form(request, request.POST), "story_id")
    if not form.is_valid():
        return _asset_page(request, listing, fork_form=form, status=400)
    try:
        if is_story:
            record = forks.fork(user=request.user, listing_id=listing.pk, at_turn=form.cleaned_data["at_turn"])
        else:
            record = forks.take(user=request.user, listing_id=listing.pk, kind=listing.kind,
                                story_id=form.cleaned_data["story_id"])
    except CommunityStory.DoesNotExist as missing:
        raise Http404("There is no such published story.") from missing
    except Story.DoesNotExist:
        form.add_error("story_id", "You have no such story.")
        return _asset_page(request, listing, fork_form=form, status=400)
    except PermissionDenied as refused:
        return _forbidden(request, refused)
    except ValidationError as invalid:
        form.add_error(field if field in getattr(invalid, "error_dict", {}) else None, _error_text(invalid))
        return _asset_page(request, listing, fork_form=form, status=400)
    except QuotaExceeded as over:
        form.add_error(None, over.message)
        return _asset_page(request, listing, fork_form=form, status=400)
    if is_story:
        messages.success(request, f"Your fork of “{record.source_title}” is ready: play on from turn {record.at_turn}.")
    else:
        what = (f"The chapters of “{record.source_title}” are" if record.kind == AssetKind.CHAPTERS
                else f"{listing.character_name or record.source_title} is")
        messages.success(request, f"{what} now in your story “{record.story.title}”.")
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
    """Every fork record: stories forked or branched, and chapter sets and characters taken into a story."""
    rows = selectors.with_source_latest(StoryFork.objects.filter(user_id=request.user.pk)
                               .select_related("story", "community").order_by("-created_at"))
    return render(request, "marketplace/my_forks.html", {"forks": rows[:500]})


@login_required
def my_published(request):
    rows = list(CommunityStory.objects.filter(author_id=request.user.pk).select_related("series", "counter")
                .annotate(likes=Coalesce(F("counter__likes"), 0), forks=Coalesce(F("counter__forks"), 0),
                          downloads=Coalesce(F("counter__downloads"), 0), version=F("series__latest_version"))
                .order_by("-updated_at")[:500])
    for listing in rows:
        listing.publish_url = (_publish_url(listing.series.source_story_id, listing.kind, listing.character_name)
                               if listing.series.source_story_id else "")
    return render(request, "marketplace/my_published.html", {"listings": rows})


# -- Publishing ------------------------------------------------------------------------------


@login_required
@rate_limited("publishing")
def publish(request, story_id):
    """Publish the story (or a new version), its chapters (``?kind=chapters``) or one of its
    characters (``?kind=character&character=<name>``, or chosen on the form)."""
    story = _story(request, story_id)
    kind = request.GET.get("kind") or AssetKind.STORY
    if kind not in AssetKind.values:
        raise Http404("There is nothing of that kind to publish.")
    characters = (list(Character.objects.filter(story=story).values_list("name", flat=True))
                  if kind == AssetKind.CHARACTER else None)
    character = (request.POST.get("character") or request.GET.get("character") or "").strip() \
        if kind == AssetKind.CHARACTER else ""
    listing = _own_listing(request.user, story, kind, character)
    records = list(StoryFork.objects.filter(story=story).order_by("created_at"))
    if listing is not None:
        initial = {"title": listing.title, "description": listing.description, "genre": listing.genre,
                   "tags": ", ".join(listing.tags), "licence": listing.licence, "rating": listing.rating}
    else:
        initial = {"title": {AssetKind.STORY: story.title, AssetKind.CHAPTERS: f"{story.title}: the chapters",
                             AssetKind.CHARACTER: character}[kind], "genre": story.genre,
                   "licence": Licence.CC_BY_SA if any(record.licence == Licence.CC_BY_SA for record in records)
                   else Licence.CC_BY}
    initial["character"] = character
    form = PublishForm(request.POST or None, initial=initial, characters=characters)
    if request.method == "POST" and form.is_valid():
        try:
            published = services.publish(user=request.user, story=story, kind=kind, **form.cleaned_data)
        except ValidationError as invalid:
            form.add_service_error(invalid)
        except PermissionDenied as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, f"“{published.title}” is published, version {published.series.latest_version}.")
            return redirect("marketplace-asset", published.pk)
    return render(request, "marketplace/publish.html", {
        "story": story, "kind": kind, "character": character, "listing": listing, "form": form,
        "records": records, "noun": ASSET_NAMES[kind][0],
        "no_chapters": kind == AssetKind.CHAPTERS and not StoryChapter.objects.filter(story=story).exists(),
        "no_characters": characters == [],
    }, status=400 if form.errors else 200)


# -- The story page's marketplace panel (and its page without JavaScript) --------------------


def _panel_context(request, story) -> dict:
    last = _last_turn_number(story)
    records = list(selectors.with_source_latest(StoryFork.objects.filter(story=story).select_related("community"))
                   .order_by("created_at"))
    return {"story": story, "listing": _own_listing(request.user, story),
            "fork": next((record for record in records if record.kind == AssetKind.STORY), None),
            "taken": [record for record in records if record.kind != AssetKind.STORY],
            "has_chapters": StoryChapter.objects.filter(story=story).exists(),
            "has_characters": Character.objects.filter(story=story).exists(),
            "chapters_url": _publish_url(story.pk, AssetKind.CHAPTERS),
            "character_url": _publish_url(story.pk, AssetKind.CHARACTER),
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
    record = (selectors.with_source_latest(StoryFork.objects.filter(pk=fork_id, user_id=request.user.pk))
              .select_related("story", "community").first())
    if record is None:
        raise Http404("There is no such fork.")
    return record


def _last_run(record) -> SyncRun | None:
    """The fork's last sync that did something and is not undone: what *Undo* puts back (``sync.undo``
    takes the same one)."""
    return (SyncRun.objects.filter(fork=record, status=SyncRun.Status.DONE).exclude(from_version=F("to_version"))
            .order_by("-created_at").first())


def _run_message(run: SyncRun) -> str:
    if run.status == SyncRun.Status.QUEUED:
        return (f"The sync with version {run.to_version} is large, so it runs in the background; this page "
                "shows how far it is.")
    if run.from_version == run.to_version:
        return f"Your fork is already on the source's latest version ({run.to_version}): nothing to sync."
    text = (f"Synced with version {run.to_version}: {_plural(run.applied, 'change')} applied automatically, "
            f"{run.kept:,} kept, {_plural(run.conflict_count, 'conflict')}.")
    if run.conflict_count:
        text += " Resolve " + ("it" if run.conflict_count == 1 else "them") + " below."
    if run.continued:
        text += f" And the author continued the story: {_plural(run.continued, 'new turn')}."
    return text


# What "Keep both" does, per kind of item (``sync.resolve``).
BOTH = {
    "turn": "Keep both: your text stays, and the source's is added as an earlier version of the turn.",
    "chapter": "Keep both: your chapter stays, and the source's is offered as a chapter suggestion to accept.",
    "loreentry": "Keep both: your entry stays, and the source's is added beside it, switched off.",
    "lorebook": "Keep both: your book's settings stay; the source's stay readable under Resolved conflicts.",
    "character": "Keep both: your character stays; the source's version stays readable under Resolved conflicts.",
}
RESOLVED = {
    "source": "Turn {n} now reads the source's text; yours is kept as an earlier version of the turn.",
    "mine": "Turn {n} keeps your text.",
    "both": "Turn {n} keeps your text, with the source's as an earlier version of the turn.",
}
RESOLVED_WORLD = {
    "source": "{label} now takes the source's version; yours stays readable under Resolved conflicts.",
    "mine": "{label} keeps your version.",
    "both": {"chapter": "{label} keeps your version; the source's is offered as a chapter suggestion.",
             "loreentry": "{label} keeps your version; the source's is beside it, switched off.",
             "lorebook": "{label} keeps your version; the source's stays readable under Resolved conflicts.",
             "character": "{label} keeps your version; the source's stays readable under Resolved conflicts."},
}


def _label(conflict: SyncConflict) -> str:
    if conflict.kind == "loreentry":
        book, position = entry_key(conflict.key)
        return f"Lore entry {position} of “{book}”"
    if conflict.kind == "lorebook":
        return f"Lore book “{conflict.key}”"
    return f"{sync.ITEM_NAMES.get(conflict.kind, (conflict.kind,))[0].capitalize()} {conflict.key}"


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _described(conflict: SyncConflict) -> SyncConflict:
    """The conflict with what its page shows: its label, what *Keep both* does and, for a world item,
    the fields that differ on each side (the ones all three share are named once)."""
    conflict.label, conflict.both = _label(conflict), BOTH.get(conflict.kind, "")
    conflict.noun = sync.ITEM_NAMES.get(conflict.kind, (conflict.kind,))[0]
    if conflict.kind == "turn":
        return conflict
    sides = [conflict.base_data, conflict.source_data, conflict.fork_data]
    fields = list(dict.fromkeys(field for side in sides if side for field in side))
    differ = [field for field in fields if len({_shown((side or {}).get(field)) for side in sides}) > 1]
    conflict.same = [field.replace("_", " ") for field in fields if field not in differ]
    conflict.rows = [None if side is None else [(field.replace("_", " ").capitalize(), _shown(side.get(field)))
                                                for field in differ] for side in sides]
    return conflict


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def sync_page(request, fork_id):
    """The fork against its source: GET shows it with its open conflicts; POST is *Sync now*."""
    record = _own_fork(request, fork_id)
    if request.method == "POST":
        return _sync_now(request, record)
    run = _last_run(record)
    latest = record.sync_runs.order_by("-created_at").first()
    queued = latest if latest is not None and latest.status == SyncRun.Status.QUEUED else None
    conflicts = SyncConflict.objects.filter(fork=record).select_related("run").order_by("turn_number", "id")
    return render(request, "marketplace/sync.html", {
        "fork": record,
        "story": record.story,
        "behind": record.source_latest is not None and record.source_latest > record.version,
        "conflicts": [_described(conflict) for conflict in conflicts.filter(choice="")],
        "resolved": [_described(conflict) for conflict in conflicts.exclude(choice="").order_by("-resolved_at")[:50]],
        "last_run": run,
        "undo_blocked": run is not None and run.conflicts.exclude(choice="").exists(),
        "queued": queued, "progress": _progress(queued) if queued else None,
        "failed": latest if latest is not None and latest.status == SyncRun.Status.FAILED else None,
    })


def _progress(run: SyncRun) -> dict:
    return sync.progress(run) or {"done": 0, "total": None, "phase": "queued"}


@login_required
@require_GET
def sync_progress(request, fork_id):
    """What the sync page polls (htmx) while a sync runs in the background: its progress, or, once it
    has finished, a refresh of the whole page (a plain redirect to it without htmx)."""
    record = _own_fork(request, fork_id)
    latest = record.sync_runs.order_by("-created_at").first()
    if latest is None or latest.status != SyncRun.Status.QUEUED:
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return redirect("marketplace-sync", record.pk)
    return render(request, "marketplace/_sync_progress.html", {"fork": record, "queued": latest,
                                                                "progress": _progress(latest)})


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
        if conflict.kind == "turn":
            said = RESOLVED[conflict.choice].format(n=conflict.turn_number)
        else:
            template = RESOLVED_WORLD[conflict.choice]
            said = (template[conflict.kind] if isinstance(template, dict) else template).format(label=_label(conflict))
        messages.success(request, said)
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
        what = "its turns" if record.kind == AssetKind.STORY else f"the {ASSET_NAMES[record.kind][0]}'s items"
        messages.success(request, f"The last sync is undone: your fork is back on version {run.from_version}, "
                                  f"{what} as they were.")
    return redirect("marketplace-sync", record.pk)
