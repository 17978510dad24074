"""Pages that show several apps (the profile: the account and its stories), the error pages (JSON under
/api/, HTML elsewhere), and the probes a load balancer or process manager asks (/healthz, /readyz)."""

import sys

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.forms import DeleteAccountForm
from accounts.selectors import usage_summary
from core.embeddings import EmbeddingError
from narrative_pipeline.budgets import account_budget
from narrative_pipeline.forms import BudgetForm
from narrative_pipeline.selectors import story_list, user_total_cost

from .disk_full import disk_full_response, is_disk_full
from .readiness import readiness_failures


@login_required
def profile(request):
    return render(request, "accounts/profile.html", {
        "usage_rows": usage_summary(request.user),
        "total_cost": user_total_cost(user=request.user),
        "stories": story_list(user=request.user)[:20],
        "delete_form": DeleteAccountForm(user=request.user),
        "month_budget": account_budget(user=request.user),
        "budget_form": BudgetForm(initial={"cap_usd": request.user.monthly_budget_usd}),
    })


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    # Called while Django handles the uncaught exception, wherever it was raised (RLS runs views in process_view).
    error = sys.exc_info()[1]
    if is_disk_full(error):
        return disk_full_response(request, error)
    if isinstance(error, EmbeddingError):  # a chapter import or preview while the embedding service is down
        return _unavailable(request, "The service that reads the story's meaning is not answering, so nothing "
                                     "was saved. Please try again in a moment.")
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "server_error", "detail": "Something went wrong on our side."}, status=500)
    return render(request, "500.html", status=500)


def _unavailable(request, message: str) -> HttpResponse:
    """503: a service the request needs is down; the request's transaction was rolled back."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "unavailable", "detail": message}, status=503)
    return HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")


# The probes: no log-in, no throttle, and never inside a user's RLS transaction (non_atomic_requests),
# so a probe with a session cookie still touches no database.
@require_safe
@never_cache
@transaction.non_atomic_requests
def healthz(request):
    """The process is up and answers; nothing else is asked (a restart would not fix a database outage)."""
    return HttpResponse("ok", content_type="text/plain")


@require_safe
@never_cache
@transaction.non_atomic_requests
def readyz(request):
    """The process can serve: database, Redis and a Celery worker answer; else 503 naming what failed."""
    failures = readiness_failures()
    if failures:
        return JsonResponse({"ready": False, "failed": failures}, status=503)
    return JsonResponse({"ready": True, "failed": {}})
