"""Who may change a user-owned row, for the apps that hold rows of another app's model (a chapter's story)."""

from django.db import models


def may_change(user, row: models.Model) -> bool:
    """The row's owner (its ``user_id``), or a co-author: a user django-guardian granted the change permission
    of the row's model on this very row (``StoryCollaborator`` grants it on a story)."""
    permission = f"{row._meta.app_label}.change_{row._meta.model_name}"
    return row.user_id == user.pk or user.has_perm(permission, row)
