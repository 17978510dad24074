"""PostgreSQL restarted under load: every pooled connection dies at once. The shared test server is not
restarted; the test database's backends are terminated instead, which is what a restart does to them."""

import psycopg
import pytest
from django.db import connection

from ..factories import StoryFactory, UserFactory


def backends_terminated() -> int:
    """End every server process on the test database (as its owner, from a connection of its own)."""
    params = {key: value for key, value in connection.get_connection_params().items()
              if key not in {"cursor_factory", "context"}}
    with psycopg.connect(**params, autocommit=True) as own:
        return own.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_after_a_restart_no_request_fails(api_as):
    # A pool of its own, as a freshly started process has: earlier tests' threads may still hold some of this
    # process's pooled connections, and what is measured here is the pool meeting dead connections.
    connection.close()  # this thread's connection back first, so closing the pool closes it too
    connection.close_pool()
    user = UserFactory()
    StoryFactory(user=user, title="Still here")
    api = api_as(user)
    pool_size = connection.settings_dict["OPTIONS"]["pool"]["max_size"]
    assert api.get("/api/stories/").status_code == 200
    connection.close()  # the test's own connection goes back to the pool, like a finished request's
    assert backends_terminated() >= 1
    for _ in range(pool_size + 1):  # more requests than the pool holds connections
        response = api.get("/api/stories/")
        assert response.status_code == 200
        assert [story["title"] for story in response.json()["results"]] == ["Still here"]
