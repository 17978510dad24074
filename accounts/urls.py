from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views
from .forms import PasswordChangeForm, QueuedPasswordResetForm, SetPasswordForm
from .rls import before_sign_in

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup-sent"),
    path("verify/<str:token>/", views.verify_email, name="verify-email"),
    path("verify-again/", views.resend_verification, name="resend-verification"),
    path("profile/export/", views.export_data, name="export-data"),
    path("profile/author/", views.become_author, name="become-author"),
    path("profile/delete/", views.delete_account, name="delete-account"),
    path("profile/logout-all/", views.logout_everywhere, name="logout-everywhere"),
    # Django's own views and URLs, with forms that raise the account's epoch (accounts/forms.py).
    path("password_change/", auth_views.PasswordChangeView.as_view(form_class=PasswordChangeForm),
         name="password_change"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(form_class=SetPasswordForm),
         name="password_reset_confirm"),
    path("password_reset/", auth_views.PasswordResetView.as_view(form_class=QueuedPasswordResetForm),
         name="password_reset"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    # django-axes writes its log-in records on log-out too.
    path("logout/", before_sign_in(auth_views.LogoutView.as_view()), name="logout"),
    path("", include("django.contrib.auth.urls")),
]
