"""Fixtures of the marketplace tests; the shared ones (users, clients, the worker) are in tests/conftest.py."""

import pytest


@pytest.fixture
def as_bob(client, bob):
    """The test client, signed in as bob: the reader who forks alice's stories."""
    client.force_login(bob)
    return client
