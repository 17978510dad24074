"""Account pages: sign-up, e-mail confirmation, export, deletion. The profile, which shows the stories too,
is wired in ``luna_site.views``."""

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import services
from .forms import DeleteAccountForm, SignUpForm
from .rls import before_sign_in
from .throttles import rate_limited


@rate_limited("registration")
def signup(request):
    if request.user.is_authenticated:
        return redirect("profile")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and form.save(base_url=request.build_absolute_uri("/")):
        return redirect("signup-sent")
    return render(request, "registration/signup.html", {"form": form})


def signup_sent(request):
    """What every accepted sign-up sees, whether or not its address had an account already."""
    return render(request, "registration/signup_sent.html", {"message": services.SIGNUP_SENT})


def verify_email(request, token):
    try:
        user = services.user_verify_email(token=token)
    except ValidationError as error:
        return render(request, "registration/verify_failed.html", {"message": error.messages[0]}, status=400)
    messages.success(request, f"Thank you: {user.email} is confirmed."
                              + ("" if request.user.is_authenticated else " Log in to begin."))
    # A new player's first screen is the start of a story, not the profile's quota tables.
    if request.user.is_authenticated:
        return redirect("story-new")
    return redirect(f"{reverse('login')}?{urlencode({'next': reverse('story-new')})}")


@login_required
@require_POST
def resend_verification(request):
    services.verification_email_send(user=request.user, base_url=request.build_absolute_uri("/"))
    messages.info(request, f"We sent a new confirmation link to {request.user.email}.")
    return redirect("profile")


@login_required
@require_POST
def become_author(request):
    services.user_become_author(user=request.user)
    messages.success(request, "You are an author now: write and tune chapters in the admin.")
    return redirect("profile")


@login_required
@require_POST
@before_sign_in  # it ends with a log-out (django-axes's records, closed to the app role)
def logout_everywhere(request):
    services.user_logout_everywhere(user=request.user)
    logout(request)
    messages.success(request, "You are logged out everywhere: every session and API token of your account has ended.")
    return redirect("login")


@login_required
def export_data(request):
    payload = json.dumps(services.user_export(user=request.user), indent=2)
    response = HttpResponse(payload, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="luna-export-{request.user.username}.json"'
    return response


@login_required
@before_sign_in  # it ends with a log-out (django-axes's records); the deletion acts as the user itself
def delete_account(request):
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.user_delete(user=request.user)
        logout(request)
        messages.success(request, "Your account and all your private data are deleted.")
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})
