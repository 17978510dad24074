"""Pages that show several apps (the profile: the account and its stories), and the error pages: JSON under
/api/, HTML elsewhere."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render

from accounts.forms import DeleteAccountForm
from accounts.selectors import usage_summary
from narrative_pipeline.selectors import story_list, user_total_cost


@login_required
def profile(request):
    return render(request, "accounts/profile.html", {
        "usage_rows": usage_summary(request.user),
        "total_cost": user_total_cost(user=request.user),
        "stories": story_list(user=request.user)[:20],
        "delete_form": DeleteAccountForm(user=request.user),
    })


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "server_error", "detail": "Something went wrong on our side."}, status=500)
    return render(request, "500.html", status=500)
