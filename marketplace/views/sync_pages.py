"""A fork against its source: the sync page with its conflicts, *Sync now* (first a preview of what it
would change, then *Apply*), its progress in the background, resolving a conflict and undoing the last sync."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, error_text

from .. import selectors, sync, sync_plan
from ..display import PLANNED_CHANGES, conflict_described, items_grouped, resolved_message, run_message, undo_message
from ..models import ForkRecord, SyncConflict, SyncRun

RESOLVED_SHOWN = 50


def _own_fork(request, fork_id) -> ForkRecord:
    """The user's own fork record, or 404 (under RLS another user's does not exist either)."""
    record = selectors.fork_record_own(user=request.user, fork_id=fork_id)
    if record is None:
        raise Http404("There is no such fork.")
    return record


def _progress(run: SyncRun) -> dict:
    return sync.progress(run) or {"done": 0, "total": None, "phase": "queued"}


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def sync_page(request, fork_id):
    """The fork against its source: GET shows it with its open conflicts; POST is *Apply* (of the preview)."""
    record = _own_fork(request, fork_id)
    if request.method == "POST":
        return _sync_now(request, record)
    return render(request, "marketplace/sync.html", _page(record))


@login_required
@require_GET
def sync_preview(request, fork_id):
    """*Sync now*: the sync page with what the sync would change, item by item, and *Apply* / *Cancel*."""
    record = _own_fork(request, fork_id)
    preview = sync_plan.sync_preview(user=request.user, fork_id=record.pk)
    preview["changes"] = [{**item, "change_text": PLANNED_CHANGES[item["change"]][0]} for item in preview["items"]]
    return render(request, "marketplace/sync.html", {**_page(record), "preview": preview})


def _page(record: ForkRecord) -> dict:
    run = selectors.sync_run_undoable(record)
    latest = selectors.sync_run_latest(record)
    queued = latest if latest is not None and latest.status == SyncRun.Status.QUEUED else None
    conflicts = selectors.sync_conflicts(record)
    undo_blocked = run is not None and run.conflicts.exclude(choice="").exists()
    open_conflicts = [conflict_described(conflict) for conflict in conflicts.filter(choice="")]
    for conflict in open_conflicts:  # resolving it ends whole-sync undo: the page says so and asks to confirm
        conflict.ends_undo = run is not None and not undo_blocked and conflict.run_id == run.pk
    return {
        "fork": record,
        "story": record.story,
        "behind": record.source_latest is not None and record.source_latest > record.version,
        "conflicts": open_conflicts,
        "resolved": [conflict_described(conflict)
                     for conflict in conflicts.exclude(choice="").order_by("-resolved_at")[:RESOLVED_SHOWN]],
        "last_run": run,
        "results": items_grouped(run.items) if run is not None else [],
        "undo_blocked": undo_blocked,
        "queued": queued, "progress": _progress(queued) if queued else None,
        "failed": latest if latest is not None and latest.status == SyncRun.Status.FAILED else None,
    }


@login_required
@require_GET
def sync_progress(request, fork_id):
    """What the sync page polls (htmx) while a sync runs in the background: its progress, or, once it
    has finished, a refresh of the whole page (a plain redirect to it without htmx)."""
    record = _own_fork(request, fork_id)
    latest = selectors.sync_run_latest(record)
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
        run = sync.fork_sync(user=request.user, fork_id=record.pk)
    except DomainError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, run_message(run))
    return redirect("marketplace-sync", record.pk)


@login_required
@require_POST
def sync_resolve(request, fork_id, conflict_id):
    record = _own_fork(request, fork_id)
    choice = request.POST.get("choice", "")
    conflict = selectors.sync_conflict_own(record, conflict_id)
    if conflict is None:
        raise Http404("There is no such conflict.")
    if not conflict.choice and selectors.sync_undo_ends_with(record, conflict.run_id) and request.POST.get("ends_undo") != "yes":
        messages.error(request, "Resolving this ends ‘Undo the last sync’ for this sync: tick the box to confirm, "
                                "then choose again.")
        return redirect(reverse("marketplace-sync", args=[record.pk]) + f"#conflict-{conflict_id}")
    try:
        conflict = sync.conflict_resolve(user=request.user, fork_id=record.pk, conflict_id=conflict_id,
                                         choice=choice)
    except SyncConflict.DoesNotExist as missing:
        raise Http404("There is no such conflict.") from missing
    except ValidationError as invalid:
        messages.error(request, error_text(invalid))
    except DomainError as repeat:
        messages.info(request, repeat.message)
    else:
        messages.success(request, resolved_message(conflict))
    return redirect("marketplace-sync", record.pk)


@login_required
@require_POST
def sync_undo(request, fork_id):
    record = _own_fork(request, fork_id)
    try:
        run = sync.sync_undo(user=request.user, fork_id=record.pk)
    except DomainError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, undo_message(record, run))
    return redirect("marketplace-sync", record.pk)
