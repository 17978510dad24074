"""Schemathesis over /api/schema/: every operation, valid and invalid input, against the app in-process.

The player owns a played story (chapters, turns, lore, a published listing of each kind, a branch with
a conflict), so generated ids are swapped for real ones and the routes do real work, not only 404s.
Examples are bounded and derandomized: the same cases every run, within the suite's time budget.
"""

from __future__ import annotations

import uuid
from functools import cache

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ..conftest import token_for
from ..factories import played_story

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 25


@cache
def openapi_document() -> dict:
    """The schema the API serves, built once (no database needed to build it)."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def load_schema():
    schema = schemathesis.openapi.from_dict(openapi_document())
    schema.app = get_wsgi_application()  # not luna_site.wsgi, which loads the embedding model at import
    # The server-sent events route writes its turn in a thread of its own, which cannot see this test's
    # uncommitted rows; tests/narrative_pipeline/test_turn_stream.py covers it against the live server.
    return schema.exclude(path="/api/stories/{story_id}/turns/stream/")


schema = load_schema()


class PlayerWorld:
    """The real ids of what the player owns, for the generated path parameters."""

    def __init__(self, user, story):
        from accounts.rls import acting_as
        from marketplace import services
        from marketplace.models import AssetKind, ForkRecord, Listing, SyncConflict

        services.listing_publish(user=user, story=story, kind=AssetKind.CHAPTERS, licence="CC-BY")
        services.listing_publish(user=user, story=story, kind=AssetKind.CHARACTER, licence="CC-BY", character="Captain Hale")
        self.story_id = str(story.pk)
        with acting_as(user):
            self.listings = {listing.kind: str(listing.pk) for listing in Listing.objects.filter(author=user)}
            self.fork_id = str(ForkRecord.objects.filter(user_id=user.pk).order_by("created_at").first().pk)
            self.conflict_id = SyncConflict.objects.filter(fork_id=self.fork_id).values_list("pk", flat=True).first()

    def path_parameters(self, path: str, generated: dict) -> dict:
        """Real ids in place of well-formed generated ones; malformed ones stay (they test the 404s)."""
        kind = "chapters" if "/chapters/" in path and "/marketplace/" in path else (
            "character" if "/marketplace/characters/" in path else "story")
        real = {"story_id": self.story_id, "listing_id": self.listings.get(kind), "fork_id": self.fork_id}
        chosen = dict(generated)
        for name, value in generated.items():
            if name in real and real[name] and _is_uuid(value):
                chosen[name] = real[name]
            elif name in ("number", "conflict_id") and isinstance(value, int):
                # 0 is a number nothing has (a 404); 1 and 2 are the story's turns, 1 its chapter.
                chosen[name] = (self.conflict_id if name == "conflict_id" and value % 3 else abs(value) % 3)
            elif name == "lore_format" and value.isascii() and len(value) % 2:
                chosen[name] = "sillytavern"
        return chosen


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@pytest.fixture
def player_world(db, django_capture_on_commit_callbacks, settings, client):
    """A signed-in player with a played story; requests reach the WSGI app on this test's connection."""
    from ..factories import UserFactory

    settings.ARC_INTERVAL_TURNS = 1
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        story = played_story(user, turns=2)
        world = PlayerWorld(user, story)
    world.headers = {"Authorization": f"Bearer {token_for(client, user)}"}
    # As Django's own test client does: a request must not close this test's connection (its transaction).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield world
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_generated_request_as_its_schema_says(case, player_world):
    if case.path_parameters:
        case.path_parameters = player_world.path_parameters(case.path, case.path_parameters)
    case.call_and_validate(headers=player_world.headers, checks=CHECKS)
