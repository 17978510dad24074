"""One published story, chapter set or character: its page, forking or taking it, liking, reporting
and (its author) unpublishing it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.errors import DomainError
from core.forms import form_error_from
from narrative_pipeline import selectors as story_selectors
from narrative_pipeline.models import Story

from .. import forks, selectors, services
from ..covers import title_card_svg
from ..display import ASSET_NAMES, fork_message, items_counted, version_compared
from ..forms import ForkForm, ReportForm, TakeForm
from ..models import AssetKind, Listing
from .common import forbidden, listing_action, listing_or_404, listing_publish_url, open_to_visitors

# The download of each kind: its API route and what the link calls the format.
DOWNLOADS = {AssetKind.STORY: ("api-marketplace-download", "Markdown"),
             AssetKind.CHAPTERS: ("api-marketplace-download-chapters", "chapter text"),
             AssetKind.CHARACTER: ("api-marketplace-download-characters", "Character Card V2")}


def _take_form(request, data=None) -> TakeForm | None:
    if not request.user.is_authenticated:
        return None  # a visitor is offered the log-in instead
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
        "versions": [{**version, "changed": [items_counted(count, kind)
                                             for kind, count in version["changed"].items() if count],
                      "compared": version_compared(version["diffs"], version["version"])}
                     for version in selectors.versions(listing)],
        "lineage": selectors.listing_lineage(listing),
        "others": selectors.author_others(listing)[:10],
        "is_author": request.user.is_authenticated and listing.author_id == request.user.pk,
        "publish_url": listing_publish_url(listing),
        "download_url": reverse(download, args=[listing.pk]), "download_format": download_format,
        "fork_form": fork_form or (ForkForm() if is_story else _take_form(request)),
        "report_form": report_form or ReportForm(),
    }, status=status)


@open_to_visitors
def asset(request, listing_id):
    return _asset_page(request, listing_or_404(listing_id))


@open_to_visitors
def cover(request, listing_id):
    """The listing's cover, for its page and the cards of browse and the landing page: the portrait its
    character card brought (PNG), else a title card drawn as SVG."""
    listing = listing_or_404(listing_id)
    portrait = selectors.listing_portrait(listing)
    if portrait is not None:
        response = HttpResponse(portrait, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"  # a player's picture: no shared cache keeps it once hidden
    else:
        response = HttpResponse(title_card_svg(title=listing.title, genre=listing.genre, kind=listing.kind),
                                content_type="image/svg+xml")
        response["Cache-Control"] = "public, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'"  # an image: no script, no fetch, even opened alone
    response["X-Content-Type-Options"] = "nosniff"
    return response


@listing_action
def fork(request, listing_id):
    """Fork a story (at a turn), or take a chapter set or character into one of the user's stories."""
    listing = listing_or_404(listing_id)
    is_story = listing.kind == AssetKind.STORY
    form = ForkForm(request.POST) if is_story else _take_form(request, request.POST)
    if not form.is_valid():
        return _asset_page(request, listing, fork_form=form, status=400)
    try:
        if is_story:
            record = forks.fork_create(user=request.user, listing_id=listing.pk,
                                       at_turn=form.cleaned_data["at_turn"])
        else:
            record = forks.asset_take(user=request.user, listing_id=listing.pk, kind=listing.kind,
                                      story_id=form.cleaned_data["story_id"])
    except Listing.DoesNotExist as missing:
        raise Http404("There is no such published story.") from missing
    except Story.DoesNotExist:
        form.add_error("story_id", "You have no such story.")
        return _asset_page(request, listing, fork_form=form, status=400)
    except PermissionDenied as refused:
        return forbidden(request, refused)
    except (ValidationError, DomainError) as error:
        form_error_from(form, error)
        return _asset_page(request, listing, fork_form=form, status=400)
    messages.success(request, fork_message(record, listing))
    return redirect("story-detail", record.story_id)


@listing_action
def like(request, listing_id):
    listing = listing_or_404(listing_id)
    try:
        services.listing_like(user=request.user, listing=listing)
    except DomainError as repeat:
        messages.info(request, repeat.message)
    else:
        messages.success(request, f"You like “{listing.title}”.")
    return redirect("marketplace-asset", listing.pk)


@listing_action
def report(request, listing_id):
    listing = listing_or_404(listing_id)
    form = ReportForm(request.POST)
    if form.is_valid():
        try:
            services.report_create(user=request.user, listing=listing, reason=form.cleaned_data["reason"])
        except ValidationError as invalid:
            form_error_from(form, invalid)
        else:
            messages.success(request, "Thank you: the moderators will look at this story.")
            return redirect("marketplace-asset", listing.pk)
    return _asset_page(request, listing, report_form=form, status=400)


@listing_action
def unpublish(request, listing_id):
    listing = listing_or_404(listing_id)
    try:
        services.listing_unpublish(user=request.user, listing=listing)
    except PermissionDenied as refused:
        return forbidden(request, refused)
    messages.success(request, f"“{listing.title}” is no longer in the marketplace; existing forks keep it.")
    return redirect("marketplace-published")
