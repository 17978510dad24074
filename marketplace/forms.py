"""Forms of the marketplace pages. They shape what was typed; the rules (licences, tags, filters)
are the services' and selectors', whose errors the views put back on these forms."""

from __future__ import annotations

from django import forms

from .models import AssetKind, Licence, Rating
from .selectors import SORTS

SORT_LABELS = {"relevance": "Best match", "popular": "Most liked", "recent": "Recently updated",
               "trending": "Trending", "most_forked": "Most forked"}


def _tags(text: str) -> list[str]:
    return [tag.strip() for tag in (text or "").split(",") if tag.strip()]


class BrowseForm(forms.Form):
    """Draws the search and filter bar. Every field is free text on purpose: the values go to
    ``selectors.browse`` as typed, and its ``ValidationError`` is what the page shows."""

    q = forms.CharField(label="Search", required=False,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Title, words, tags…"}))
    genre = forms.CharField(required=False)
    tags = forms.CharField(required=False, help_text="Separate with commas.")
    tags_mode = forms.CharField(label="Match", required=False, widget=forms.Select(
        choices=[("any", "any tag"), ("all", "all tags")]))
    licence = forms.CharField(required=False, widget=forms.Select(
        choices=[("", "Any licence"), *Licence.choices]))
    rating = forms.CharField(required=False, widget=forms.Select(
        choices=[("", "Any rating")] + [(value, value.capitalize()) for value in Rating.values]))
    sort = forms.CharField(label="Sort by", required=False, widget=forms.Select(
        choices=[("", "Default")] + [(value, SORT_LABELS[value]) for value in SORTS]))

    kind = forms.CharField(required=False, widget=forms.HiddenInput)

    def filters(self) -> dict:
        data = self.data
        return {"kind": data.get("kind") or AssetKind.STORY, "q": data.get("q", ""), "genre": data.get("genre", "").strip(), "tags": _tags(data.get("tags", "")),
                "tags_mode": data.get("tags_mode") or "any", "licence": data.get("licence", ""),
                "rating": data.get("rating", ""), "sort": data.get("sort", "")}


class ForkForm(forms.Form):
    at_turn = forms.IntegerField(label="At turn", required=False, min_value=0,
                                 help_text="Leave empty to fork the whole story.")


class TakeForm(forms.Form):
    """Where a chapter set or a character goes: one of the user's stories, or a new one."""

    story_id = forms.TypedChoiceField(label="Into", required=False, empty_value=None,
                                      help_text="One of your stories, or a new story named after it.")

    def __init__(self, *args, stories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["story_id"].choices = [("", "A new story")] + [(str(story.pk), story.title) for story in stories]


class BranchForm(forms.Form):
    at_turn = forms.IntegerField(label="Branch at turn", min_value=0)


class ReportForm(forms.Form):
    reason = forms.CharField(label="What is wrong with this story?", max_length=2_000,
                             widget=forms.Textarea(attrs={"rows": 3}))


class PublishForm(forms.Form):
    title = forms.CharField(max_length=200, required=False, help_text="Leave empty to use the story's title.")
    description = forms.CharField(max_length=10_000, required=False, widget=forms.Textarea(attrs={"rows": 4}))
    genre = forms.CharField(max_length=60, required=False)
    tags = forms.CharField(max_length=2_000, required=False, help_text="Separate with commas.")
    licence = forms.ChoiceField(choices=Licence.choices, initial=Licence.CC_BY)
    rating = forms.ChoiceField(choices=Rating.choices, initial=Rating.GENERAL)
    changelog = forms.CharField(label="What changed", max_length=5_000, required=False,
                                widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, characters=None, **kwargs):
        """``characters``: the story's character names, when a character is published (the service
        checks the name, so a name not offered is its error, not the form's)."""
        super().__init__(*args, **kwargs)
        if characters is not None:
            self.fields["character"] = forms.CharField(
                max_length=120, required=False, widget=forms.Select(
                    choices=[("", "Choose a character")] + [(name, name) for name in characters]))
            self.order_fields(["character"])

    def clean_tags(self):
        return _tags(self.cleaned_data["tags"])
