"""One error family: a ``DomainError`` is an HTTP answer only through the API's exception handler (its
status chosen by code), and a form error only through ``core.forms.form_error_from``."""

import pytest
from django import forms
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.quotas import QuotaExceeded
from core.errors import DomainError, error_text
from core.forms import form_error_from
from luna_site.api import exception_handler


class TitleForm(forms.Form):
    title = forms.CharField(required=False)


def bound_form() -> TitleForm:
    form = TitleForm({"title": "x"})
    assert form.is_valid()
    return form


@pytest.mark.parametrize(("error", "status", "body"), [
    (DomainError("conflict", "You already like this story."), 409,
     {"code": "conflict", "detail": "You already like this story."}),
    (QuotaExceeded("stories", 3, "You have 3 stories, the most your tier allows."), 403,
     {"code": "quota_exceeded", "detail": "You have 3 stories, the most your tier allows.", "limit": "stories",
      "limit_value": 3}),
    (DomainError("out_of_order", "Not now."), 400, {"code": "out_of_order", "detail": "Not now."}),
])
def test_the_api_answers_a_domain_error_with_the_status_of_its_code(error, status, body):
    response = exception_handler(error, {})
    assert (response.status_code, response.data) == (status, body)


def test_a_domain_error_goes_on_the_field_it_names_when_the_form_has_it():
    form = bound_form()
    form_error_from(form, DomainError("conflict", "Taken.", field="title"))
    form_error_from(form, DomainError("conflict", "Elsewhere.", field="genre"))
    assert form.errors == {"title": ["Taken."], "__all__": ["Elsewhere."]}


def test_a_validation_error_goes_field_by_field_and_a_refusal_above_the_form():
    form = bound_form()
    form_error_from(form, ValidationError({"title": ["Too long."], "licence": ["Not a licence."]}))
    form_error_from(form, ValidationError(["One.", "Two."]))
    form_error_from(form, PermissionDenied("Only its owner."))
    form_error_from(form, PermissionDenied())
    assert form.errors == {"title": ["Too long."],
                           "__all__": ["Not a licence.", "One.", "Two.", "Only its owner.", "You may not do that."]}


def test_a_quota_is_a_domain_error_and_reads_as_one_line():
    over = QuotaExceeded("stories", 3, "Too many stories.")
    assert isinstance(over, DomainError) and (over.code, error_text(over)) == ("quota_exceeded", "Too many stories.")
    assert error_text(ValidationError({"a": ["One."], "b": ["Two."]})) == "One.; Two."
