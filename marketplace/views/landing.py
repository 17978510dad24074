"""The landing page: what LUNA-Narrates is, a passage to read, and the marketplace's newest and most
liked stories, with the way in (start a story, sign up). Readable by anyone (public listings only)."""

from __future__ import annotations

from django.shortcuts import render

from narrative_pipeline.starter_worlds import starter_world_cards

from .. import selectors
from ..models import AssetKind
from .common import open_to_visitors

LANDING_LISTINGS = 6
SAMPLE_TURNS = 3


def _sample(popular: list) -> dict:
    """A few passages to read: the opening of the most liked public story (else the newest), else a starter
    world's opening."""
    for listing in popular:
        passages = selectors.opening(listing, turns=SAMPLE_TURNS)
        if passages:
            return {"title": listing.title, "by": listing.attribution, "listing": listing, "passages": passages}
    world = starter_world_cards()[0]
    return {"title": world["title"], "by": "", "listing": None, "world": world,
            "passages": [{"number": 1, "action": "", "prose": world["opening"]}]}


@open_to_visitors
def home(request):
    popular = [listing for listing in selectors.browse(kind=AssetKind.STORY, sort="popular")[:LANDING_LISTINGS]
               if listing.likes or listing.forks]  # liked or forked at least once
    shown = {listing.pk for listing in popular}
    newest = [listing for listing in selectors.browse(kind=AssetKind.STORY, sort="recent")[:LANDING_LISTINGS * 2]
              if listing.pk not in shown][:LANDING_LISTINGS]  # what the most liked do not already show
    return render(request, "home.html", {"newest": newest, "popular": popular, "sample": _sample(popular or newest)})
