"""The story page's marketplace panel (and its page without JavaScript), and branching a story from it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import DomainError, error_text
from narrative_pipeline import selectors as story_selectors

from .. import forks, selectors
from ..forms import BranchForm
from ..models import AssetKind
from .common import forbidden, publish_url, story_or_404


def _panel_context(request, story) -> dict:
    last = story_selectors.turn_number_next(story=story) - 1
    records = list(selectors.fork_records_of_story(story).select_related("community"))
    return {"story": story, "listing": selectors.listing_own(user=request.user, story=story),
            "fork": next((record for record in records if record.kind == AssetKind.STORY), None),
            "taken": [record for record in records if record.kind != AssetKind.STORY],
            "has_chapters": selectors.story_has_chapters(story),
            "has_characters": selectors.story_has_characters(story),
            "chapters_url": publish_url(story.pk, AssetKind.CHAPTERS),
            "character_url": publish_url(story.pk, AssetKind.CHARACTER),
            "branch_form": BranchForm(initial={"at_turn": last}), "last_turn": last}


@login_required
def story_fragment(request, story_id):
    """What the core story page loads with htmx: publish, branch, and where the story came from."""
    return render(request, "marketplace/_story_panel.html", _panel_context(request, story_or_404(request, story_id)))


@login_required
def story_updates_fragment(request):
    """What the core's My stories page loads with htmx: an update badge for each story whose fork or taken
    asset has a newer version at its source (swapped in by id), and a line linking to My forks."""
    updates = [record for record in selectors.fork_records_of_user(user=request.user)
               if record.source_latest and record.source_latest > record.version]
    return render(request, "marketplace/_story_updates.html", {"updates": updates})


@login_required
def story_panel(request, story_id):
    """The same, as a page: where the story page's link leads without JavaScript."""
    return render(request, "marketplace/story_panel.html", _panel_context(request, story_or_404(request, story_id)))


@login_required
@require_POST
def branch(request, story_id):
    story = story_or_404(request, story_id)
    form = BranchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Branch at which turn? " + " ".join(form.errors["at_turn"]))
        return redirect("story-detail", story.pk)
    try:
        record = forks.branch_create(user=request.user, story=story, at_turn=form.cleaned_data["at_turn"])
    except PermissionDenied as refused:
        return forbidden(request, refused)
    except (ValidationError, DomainError) as error:
        messages.error(request, error_text(error))
        return redirect("story-detail", story.pk)
    messages.success(request, f"A new story goes on from turn {record.at_turn} of “{story.title}”.")
    return redirect(reverse("story-detail", args=[record.story_id]))
