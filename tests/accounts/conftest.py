"""Fixtures of the accounts and isolation tests; the shared ones (users, clients, the worker) are in
tests/conftest.py."""

import pytest
from django.db import connection


@pytest.fixture
def raw_cursor(db):
    """A cursor on the test's connection, for SQL as the attacks write it (see ``as_app_role``)."""
    with connection.cursor() as cursor:
        yield cursor
