"""``Listing`` (was ``CommunityStory``) and ``ForkRecord`` (was ``StoryFork``): the rename moved no data, kept
what moderators were granted and the admin's old addresses."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from marketplace.models import ForkRecord, Listing

pytestmark = pytest.mark.django_db
renaming = importlib.import_module("marketplace.migrations.0008_listing_forkrecord")


def test_the_renamed_models_read_their_old_tables():
    assert (Listing._meta.db_table, ForkRecord._meta.db_table) == ("marketplace_communitystory",
                                                                   "marketplace_storyfork")
    tables = set(connection.introspection.table_names())
    assert {"marketplace_communitystory", "marketplace_storyfork"} <= tables
    assert not {"marketplace_listing", "marketplace_forkrecord"} & tables


def test_a_permission_granted_under_the_old_name_keeps_working_under_the_new_one():
    listing_type = ContentType.objects.get_for_model(Listing)
    Permission.objects.filter(content_type=listing_type, codename="view_listing").delete()
    granted = Permission.objects.create(content_type=listing_type, codename="view_communitystory", name="View")
    renaming.forwards(django_apps, None)
    granted.refresh_from_db()
    assert granted.codename == "view_listing"
    renaming.backwards(django_apps, None)
    granted.refresh_from_db()
    assert granted.codename == "view_communitystory"


def test_the_listings_old_admin_address_leads_to_the_new_one(client):
    response = client.get("/admin/marketplace/communitystory/?q=tide")
    assert (response.status_code, response["Location"]) == (301, "/admin/marketplace/listing/?q=tide")
