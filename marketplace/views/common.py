"""What the marketplace's pages share: finding a listing or a story for the request, the 403 page, the
publish page's address."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.rls import acting_anonymously
from narrative_pipeline import selectors as story_selectors

from .. import selectors
from ..models import AssetKind, Listing


def open_to_visitors(view):
    """A page anyone may read: a visitor without an account reads it as the app role with no user, so
    RLS shows only public, visible listings (DESIGN §2); a signed-in user reads it as themselves."""
    @wraps(view)
    def readable(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        with acting_anonymously():
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and callable(response.render):
                response = response.render()  # templates query lazily: inside the anonymous transaction
            return response
    return readable


def listing_action(view):
    """A button on a listing's page (fork, like, report, unpublish), posted. A visitor is sent to log in and
    then back to the listing, where the button is: a log-in's ``next`` is followed with a GET, which the
    action's own address would answer 405. A GET there (an old bookmark, a ``next`` from before) lands on
    the listing too."""
    @wraps(view)
    def posted(request, listing_id, *args, **kwargs):
        listing_url = reverse("marketplace-asset", args=[listing_id])
        if not request.user.is_authenticated:
            return redirect_to_login(listing_url)
        if request.method != "POST":
            return redirect(listing_url)
        return view(request, listing_id, *args, **kwargs)
    return posted


def forbidden(request, error: PermissionDenied):
    return render(request, "marketplace/forbidden.html", {"message": str(error) or "You may not do that."},
                  status=403)


def listing_or_404(listing_id) -> Listing:
    try:
        return selectors.listing_get(listing_id)
    except Listing.DoesNotExist as missing:
        raise Http404("There is no such published story.") from missing


def story_or_404(request, story_id):
    return story_selectors.story_get(user=request.user, story_id=story_id)


def publish_url(story_id, kind: str = AssetKind.STORY, character: str = "") -> str:
    """The publish page of a story, its chapters or one of its characters."""
    url = reverse("marketplace-publish", args=[story_id])
    if kind == AssetKind.CHAPTERS:
        return f"{url}?kind=chapters"
    if kind == AssetKind.CHARACTER:
        return f"{url}?{urlencode({'kind': kind, 'character': character})}" if character else f"{url}?kind={kind}"
    return url


def listing_publish_url(listing: Listing) -> str:
    """Where the author publishes a new version of ``listing`` (none once its story is gone)."""
    source_story_id = listing.series.source_story_id
    return publish_url(source_story_id, listing.kind, listing.character_name) if source_story_id else ""
