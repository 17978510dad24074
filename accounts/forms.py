from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ValidationError
from django.template import loader

from . import services
from .task_outbox import queue_after_commit
from .tasks import email_send


class SignUpForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z", max_length=150,
        error_messages={"invalid": "Use letters, digits and @/./+/-/_ only."},
    )
    email = forms.EmailField(max_length=254)
    password = forms.CharField(widget=forms.PasswordInput, max_length=128)
    password_again = forms.CharField(widget=forms.PasswordInput, max_length=128, label="Password (again)")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return cleaned

    def save(self, *, base_url: str) -> bool:
        """Sign up (``services.user_register``); False with field errors on this form if refused."""
        try:
            services.user_register(username=self.cleaned_data["username"], email=self.cleaned_data["email"],
                                   password=self.cleaned_data["password"], base_url=base_url)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            return False
        return True


class DeleteAccountForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, help_text="Type your password to confirm.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError("That is not your password.")
        return password


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset form, its e-mail sent by the Celery worker (through the task outbox)."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        message = loader.render_to_string(email_template_name, context)
        queue_after_commit(email_send, str(context["user"].pk), subject, message, to_email)


class _PasswordSavedByService:
    """Django's password forms save the whole user row; ours set the password through the service,
    which writes only the password and raises the account's epoch (every other session and token ends)."""

    def save(self, commit=True):
        services.user_password_change(user=self.user, password=self.cleaned_data["new_password1"])
        return self.user


class PasswordChangeForm(_PasswordSavedByService, auth_forms.PasswordChangeForm):
    pass


class SetPasswordForm(_PasswordSavedByService, auth_forms.SetPasswordForm):
    """The password reset link's form."""


class AdminPasswordChangeForm(auth_forms.AdminPasswordChangeForm):
    def save(self, commit=True):
        usable = self.cleaned_data["set_usable_password"]
        services.user_password_change(user=self.user, password=self.cleaned_data["password1"] if usable else None)
        return self.user
