"""Benchmarks (`make bench`). Each runs in a throwaway database of its own."""

import uuid
from contextlib import contextmanager

from django.db import connection


@contextmanager
def bench_database(prefix: str):
    """A fresh, migrated database for one benchmark, dropped afterwards; yields its name."""
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    connection.settings_dict["TEST"]["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield name
    finally:
        connection.close()
        connection.close_pool()
        connection.creation.destroy_test_db(name, verbosity=0)
