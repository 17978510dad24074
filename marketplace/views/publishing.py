"""Publishing a story, its chapters or a character (or a new version), and the user's own listings and
fork records."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

from accounts.throttles import rate_limited
from core.forms import form_error_from

from .. import selectors, services
from ..display import ASSET_NAMES
from ..forms import PublishForm
from ..models import AssetKind
from .common import listing_publish_url, story_or_404

MINE_SHOWN = 500


@login_required
def my_forks(request):
    """Every fork record: stories forked or branched, and chapter sets and characters taken into a story."""
    rows = selectors.fork_records_of_user(user=request.user).select_related("story", "community")
    return render(request, "marketplace/my_forks.html", {"forks": rows[:MINE_SHOWN]})


@login_required
def my_published(request):
    rows = list(selectors.listings_of_author(user=request.user)[:MINE_SHOWN])
    for listing in rows:
        listing.publish_url = listing_publish_url(listing)
    return render(request, "marketplace/my_published.html", {"listings": rows})


def _initial(story, listing, kind: str, character: str, records) -> dict:
    """The form as the listing has it, or, first time, named after the story and under the licence it must take."""
    if listing is not None:
        return {"title": listing.title, "description": listing.description, "genre": listing.genre,
                "tags": ", ".join(listing.tags), "licence": listing.licence, "rating": listing.rating}
    return {"title": {AssetKind.STORY: story.title, AssetKind.CHAPTERS: f"{story.title}: the chapters",
                      AssetKind.CHARACTER: character}[kind], "genre": story.genre,
            "licence": services.licence_offered(records)}


@login_required
@rate_limited("publishing")
def publish(request, story_id):
    """Publish the story (or a new version), its chapters (``?kind=chapters``) or one of its
    characters (``?kind=character&character=<name>``, or chosen on the form)."""
    story = story_or_404(request, story_id)
    kind = request.GET.get("kind") or AssetKind.STORY
    if kind not in AssetKind.values:
        raise Http404("There is nothing of that kind to publish.")
    characters = selectors.story_character_names(story) if kind == AssetKind.CHARACTER else None
    character = (request.POST.get("character") or request.GET.get("character") or "").strip() \
        if kind == AssetKind.CHARACTER else ""
    listing = selectors.listing_own(user=request.user, story=story, kind=kind, character=character)
    records = list(selectors.fork_records_of_story(story))
    initial = {**_initial(story, listing, kind, character, records), "character": character}
    form = PublishForm(request.POST or None, initial=initial, characters=characters)
    if request.method == "POST" and form.is_valid():
        try:
            published = services.listing_publish(user=request.user, story=story, kind=kind, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as error:
            form_error_from(form, error)
        else:
            messages.success(request, f"“{published.title}” is published, version {published.series.latest_version}.")
            return redirect("marketplace-asset", published.pk)
    return render(request, "marketplace/publish.html", {
        "story": story, "kind": kind, "character": character, "listing": listing, "form": form,
        "records": records, "noun": ASSET_NAMES[kind][0],
        "no_chapters": kind == AssetKind.CHAPTERS and not selectors.story_has_chapters(story),
        "no_characters": characters == [],
    }, status=400 if form.errors else 200)
