import uuid

from django.db import models

from accounts.models import UserOwnedModel


class Story(UserOwnedModel):
    """A player's story. The storytelling-engine issue adds its state, cast and turns."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    premise = models.TextField(blank=True)
    genre = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name_plural = "stories"
        indexes = [models.Index(fields=["user", "-updated_at"])]

    def __str__(self):
        return self.title

    def text_bytes(self) -> int:
        """What the story's own text takes in storage, for the quota."""
        return sum(len(value.encode()) for value in (self.title, self.premise, self.genre))
