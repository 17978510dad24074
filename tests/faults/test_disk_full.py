"""A full disk on upload: a clear 507, and nothing of the upload kept. The disk is faked at the boundary
with the OS: the upload's temporary file (Django spools uploads above 2.5 MB to disk) or PostgreSQL refusing
a write for want of space (SQLSTATE 53100)."""

import errno
import json

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import OperationalError

from accounts.models import Usage
from accounts.rls import acting_as
from chapters.models import LoreEntry, LoreSource
from luna_site.disk_full import DISK_FULL_MESSAGE

from ..factories import StoryFactory, admin_import

# A SillyTavern World Info book over Django's in-memory limit, so it is spooled to a temporary file.
BIG_BOOK = json.dumps({"entries": {str(number): {"uid": number, "key": [f"harbour {number}"],
                                                 "content": "The tide comes in. " * 500}
                                   for number in range(300)}}).encode()


@pytest.fixture
def story(alice):
    return StoryFactory(user=alice, characters=[{"name": "Wren", "is_player": True}])


def lore_upload(api, story):
    api.raise_request_exception = False  # as a server answers: the error page, not the exception
    return api.post(f"/api/stories/{story.pk}/lore/import/", {"file": SimpleUploadedFile("harbour.json", BIG_BOOK)})


def kept(user, story) -> tuple:
    with acting_as(user):
        return (LoreSource.objects.filter(story=story).count(), LoreEntry.objects.filter(story=story).count(),
                Usage.objects.get(user=user).storage_bytes)


def test_an_upload_spooled_to_a_full_disk_answers_507_and_keeps_nothing(api_as, alice, story, monkeypatch):
    assert len(BIG_BOOK) > 2_621_440
    before = kept(alice, story)

    def full(self, raw_data, start):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", full)
    response = lore_upload(api_as(alice), story)
    assert response.status_code == 507
    assert response.json() == {"code": "disk_full", "detail": DISK_FULL_MESSAGE}
    assert kept(alice, story) == before


def test_postgresql_out_of_space_mid_import_answers_507_and_keeps_nothing(api_as, alice, story, monkeypatch):
    before = kept(alice, story)

    def full(*args, **kwargs):  # the source and the book are written by now: they must not stay
        raise OperationalError("could not extend file: No space left on device") from psycopg.errors.DiskFull()

    monkeypatch.setattr(LoreEntry.objects, "bulk_create", full)
    response = lore_upload(api_as(alice), story)
    assert response.status_code == 507 and response.json()["detail"] == DISK_FULL_MESSAGE
    assert kept(alice, story) == before


def test_a_page_upload_gets_the_message_as_text(admin_client, admin_user, monkeypatch):
    story = StoryFactory(user=admin_user)

    def full(self, raw_data, start):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", full)
    admin_client.raise_request_exception = False
    response = admin_import(admin_client, story, "harbour.json", BIG_BOOK)
    assert response.status_code == 507 and response.content.decode() == DISK_FULL_MESSAGE
    assert kept(admin_user, story)[:2] == (0, 0)
