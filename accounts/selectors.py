"""Reads about accounts, for pages and the API."""

from .quotas import MB, limits_for, usage_get


def usage_summary(user) -> list[dict]:
    """Each quota as the pages show it: what is used, how full, and what happens at the limit."""
    limits, usage = limits_for(user), usage_get(user)
    storage_mb = usage.storage_bytes / MB
    return [
        {"name": "Stories", "used": f"{usage.story_count} of {limits.max_stories}",
         "percent": min(100, round(100 * usage.story_count / max(1, limits.max_stories))),
         "at_limit": "Creating a new story is refused until you delete one or upgrade."},
        {"name": "Storage", "used": f"{storage_mb:.2f} MB of {limits.storage_limit_mb} MB",
         "percent": min(100, round(100 * storage_mb / max(1, limits.storage_limit_mb))),
         "at_limit": "New turns and imports are refused until you free space or upgrade."},
        {"name": "Images", "used": f"{usage.image_count} in all, up to {limits.max_images_per_story} per story",
         "percent": None, "at_limit": "A story cannot hold more images than its limit."},
    ]
