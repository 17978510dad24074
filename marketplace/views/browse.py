"""Browse and search: stories, chapter sets and characters, each kind a tab."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import render

from core.errors import error_text

from .. import selectors, services
from ..display import ASSET_NAMES
from ..forms import BrowseForm
from ..models import AssetKind
from .common import open_to_visitors

CARDS_PER_PAGE = 20
BROWSE_TABS = ((AssetKind.STORY, "Stories"), (AssetKind.CHAPTERS, "Chapter sets"), (AssetKind.CHARACTER, "Characters"))


@open_to_visitors
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
        error = error_text(invalid)
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
