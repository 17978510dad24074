"""Passwords are hashed with Argon2id at OWASP's parameters, a bounded number at once per process, and the hashes
made with Django's heavier defaults are upgraded at the next log-in."""

import threading

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, identify_hasher, make_password

from accounts import hashers
from accounts.models import User

from ..factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
OURS = "accounts.hashers.BoundedArgon2PasswordHasher"


@pytest.fixture
def argon2(settings):
    settings.PASSWORD_HASHERS = [OURS, "django.contrib.auth.hashers.PBKDF2PasswordHasher"]


def test_new_passwords_use_owasps_argon2id_parameters(argon2):
    decoded = identify_hasher(make_password("moonlit-harbour-77")).decode(make_password("moonlit-harbour-77"))
    assert (decoded["variety"], decoded["memory_cost"], decoded["time_cost"], decoded["parallelism"]) == (
        "argon2id", 19 * 1024, 2, 1)


def test_a_hash_with_djangos_defaults_still_logs_in_and_is_upgraded(argon2, client):
    user = UserFactory()
    user.password = Argon2PasswordHasher().encode(TEST_PASSWORD, Argon2PasswordHasher().salt())
    user.save(update_fields=["password"])
    assert "m=102400" in user.password

    response = client.post("/api/auth/token/", {"username": user.username, "password": TEST_PASSWORD},
                           content_type="application/json")

    assert response.status_code == 200
    assert "m=19456,t=2,p=1" in User.objects.get(pk=user.pk).password
    # The token of the log-in that upgraded the hash works (the upgrade is not a password change).
    stories = client.get("/api/stories/", HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert stories.status_code == 200, stories.content
    wrong = client.post("/api/auth/token/", {"username": user.username, "password": "not-the-password"},
                        content_type="application/json")
    assert wrong.status_code == 401


def test_no_more_hashes_run_at_once_than_the_setting_allows(argon2, settings, monkeypatch):
    settings.PASSWORD_HASHES_AT_ONCE = 2
    hashers._slots.cache_clear()
    running, most, lock, go = 0, 0, threading.Lock(), threading.Barrier(8, timeout=10)
    real_encode = Argon2PasswordHasher.encode

    def counted(self, password, salt):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            return real_encode(self, password, salt)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(Argon2PasswordHasher, "encode", counted)

    def hash_one():
        go.wait()
        make_password("moonlit-harbour-77")

    threads = [threading.Thread(target=hash_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    hashers._slots.cache_clear()
    assert most == 2


def test_a_web_log_in_that_upgrades_the_hash_stays_logged_in(argon2, client):
    user = UserFactory()
    user.password = Argon2PasswordHasher().encode(TEST_PASSWORD, Argon2PasswordHasher().salt())
    user.save(update_fields=["password"])

    response = client.post("/accounts/login/", {"username": user.username, "password": TEST_PASSWORD})

    assert response.status_code == 302
    assert "m=19456" in User.objects.get(pk=user.pk).password
    assert client.get("/stories/").status_code == 200  # the session's hash carries the new epoch
