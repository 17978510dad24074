"""E-mails go out through the real Celery worker on the real Redis broker."""

import re
import time

import pytest
from django.core import mail

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for_mail(count: int, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while len(mail.outbox) < count:
        assert time.monotonic() < deadline, "the worker sent no e-mail"
        time.sleep(0.05)


def test_sign_up_confirmation_is_sent_by_the_worker(celery_worker, client):
    response = client.post("/api/auth/register/", {
        "username": "queued", "email": "queued@example.com", "password": "moonlit-harbour-77",
    }, content_type="application/json")
    assert response.status_code == 202
    wait_for_mail(1)
    assert mail.outbox[0].to == ["queued@example.com"]
    token_path = re.search(r"(/accounts/verify/\S+)", mail.outbox[0].body).group(1)
    assert client.get(token_path).status_code == 302


def test_password_reset_is_sent_by_the_worker(celery_worker, client):
    from ..factories import UserFactory

    UserFactory(username="forgetful")
    client.post("/accounts/password_reset/", {"email": "forgetful@example.com"})
    wait_for_mail(1)
    assert "forgetful" in mail.outbox[0].body
