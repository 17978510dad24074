import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from accounts.models import Tier
from accounts.quotas import MB, TIER_LIMITS, QuotaExceeded, limits_for, quota_check, usage_get
from accounts.rls import acting_as
from narrative_pipeline.models import Story
from narrative_pipeline.services import story_create, story_delete

from ..factories import StoryFactory, UserFactory


class TestLimits:
    def test_tier_limits_apply_unless_overridden(self):
        user = UserFactory.build(tier=Tier.PRO)
        assert limits_for(user) == TIER_LIMITS[Tier.PRO]
        user.max_stories = 3
        assert limits_for(user).max_stories == 3
        assert limits_for(user).storage_limit_mb == TIER_LIMITS[Tier.PRO].storage_limit_mb

    def test_an_expired_subscription_has_the_free_limits(self):
        user = UserFactory.build(tier=Tier.PREMIUM, subscription_expires_at=timezone.now() - timedelta(days=1))
        assert limits_for(user) == TIER_LIMITS[Tier.FREE]
        user.subscription_expires_at = timezone.now() + timedelta(days=1)
        assert limits_for(user) == TIER_LIMITS[Tier.PREMIUM]


@pytest.mark.django_db
class TestConsume:
    def test_story_limit_names_the_limit(self):
        user = UserFactory(max_stories=1)
        StoryFactory(user=user)
        with pytest.raises(QuotaExceeded) as caught:
            StoryFactory(user=user)
        assert caught.value.limit_name == "max_stories"
        assert "limit of 1 stories" in caught.value.message
        with acting_as(user):
            assert Story.objects.count() == 1

    def test_storage_limit(self):
        user = UserFactory(storage_limit_mb=1)
        with pytest.raises(QuotaExceeded) as caught:
            story_create(user=user, title="big", premise="x" * (MB + 1))
        assert caught.value.limit_name == "storage_limit_mb"
        with acting_as(user):
            assert usage_get(user).storage_bytes == 0

    def test_images_per_story(self):
        user = UserFactory(max_images_per_story=2)
        with acting_as(user):
            quota_check(user, images=2, images_in_story=0)
            with pytest.raises(QuotaExceeded, match="at most 2 images"):
                quota_check(user, images=1, images_in_story=2)

    def test_delete_releases_what_the_story_used(self):
        user = UserFactory()
        story = StoryFactory(user=user)
        with acting_as(user):
            assert usage_get(user).story_count == 1
        story_delete(user=user, story=story)
        with acting_as(user):
            usage = usage_get(user)
        assert (usage.story_count, usage.storage_bytes) == (0, 0)

    def test_over_quota_api_answers_403_with_code(self, api_as):
        user = UserFactory(max_stories=1)
        StoryFactory(user=user)
        response = api_as(user).post("/api/stories/", {"title": "one too many"}, content_type="application/json")
        assert response.status_code == 403
        body = response.json()
        assert body["code"] == "quota_exceeded" and body["limit"] == "max_stories"
        assert "1 stories" in body["detail"]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_creates_at_a_limit_of_ten_leave_exactly_ten():
    user = UserFactory(max_stories=10)
    barrier = threading.Barrier(20)
    outcomes = []

    def create(n):
        barrier.wait()
        try:
            story_create(user=user, title=f"race {n}")
            outcomes.append("created")
        except QuotaExceeded:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count("created") == 10
    assert outcomes.count("refused") == 10
    with acting_as(user):
        assert Story.objects.count() == 10
        assert usage_get(user).story_count == 10
