import uuid

from django import forms
from django.core.exceptions import ValidationError

from .contracts import MAX_ACTION_CHARS
from .llm import AGENTS, OFFLINE
from .orchestrator import TurnRefused, clean_action
from .starter_worlds import STARTER_WORLDS


def _list_field(label: str) -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=4_000, help_text="Separate with commas.")


def _as_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


LORE_FILE_HELP = ("A character card (PNG or JSON, V2/V3), a SillyTavern World Info file, a NovelAI lorebook, an "
                  "Agnai memory book or an Infinite Worlds world. You see what it holds before anything is created.")


class NewStoryForm(forms.Form):
    world = forms.ChoiceField(
        label="Start from", required=False, widget=forms.RadioSelect,
        choices=[("", "My own premise")] + [(key, f"{w['title']} ({w['genre']})") for key, w in STARTER_WORLDS.items()],
    )
    title = forms.CharField(max_length=200, required=False)
    premise = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20_000, required=False)
    genre = forms.CharField(max_length=60, required=False)
    file = forms.FileField(label="Or start from a file", required=False, help_text=LORE_FILE_HELP)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("world") and not cleaned.get("title") and not cleaned.get("file"):
            self.add_error("title", "Give your story a title, pick a starter world, or choose a file.")
        return cleaned


class EditActionForm(forms.Form):
    action = forms.CharField(
        label="What do you do?", max_length=MAX_ACTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "I open the door and…", "maxlength": MAX_ACTION_CHARS}),
    )

    def clean_action(self):
        try:
            return clean_action(self.cleaned_data["action"])
        except TurnRefused as refused:
            raise ValidationError(refused.message) from refused


class ActionForm(EditActionForm):
    # Made when the page is drawn: submitting the same page twice makes one turn.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100, initial=lambda: uuid.uuid4().hex)


class StoryNotesForm(forms.Form):
    """The memory and the author's note (the state has its own form, on the State card)."""

    memory = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20_000, required=False,
                             help_text="Always in the briefing: what must never be forgotten.")
    authors_note = forms.CharField(label="Author's note", widget=forms.Textarea(attrs={"rows": 3}), max_length=4_000,
                                   required=False, help_text="Guidance for style and direction.")

    @classmethod
    def for_story(cls, story, data=None):
        return cls(data, initial={"memory": story.memory, "authors_note": story.authors_note})

    def changes(self) -> dict:
        return {"memory": self.cleaned_data["memory"], "authors_note": self.cleaned_data["authors_note"]}


class StoryStateForm(forms.Form):
    """The State card's values, fixed by the player in place (an empty list field empties it)."""

    location = forms.CharField(max_length=200, required=False)
    present_characters = _list_field("Present")
    inventory = _list_field("Inventory")
    flags = _list_field("Flags")

    @classmethod
    def for_story(cls, story, data=None):
        state = story.state
        return cls(data, auto_id="state-%s", label_suffix="", initial={
            "location": state.get("location", ""), "present_characters": ", ".join(state.get("present_characters", [])),
            "inventory": ", ".join(state.get("inventory", [])), "flags": ", ".join(state.get("flags", []))})

    def changes(self) -> dict:
        data = self.cleaned_data
        return {"location": data["location"].strip(), "present_characters": _as_list(data["present_characters"]),
                "inventory": _as_list(data["inventory"]), "flags": _as_list(data["flags"])}


AGENT_ROLES = {
    "preprocessor": "chooses what the others read and which lore fires",
    "strategist": "plans the passage's beats",
    "writer": "writes the passage you read",
    "dreamer": "summarises, remembers and steers chapters between turns",
}


def model_text(connection: dict, model: str) -> str:
    """How a player reads a model: "Offline narrator", or "llama3.1 — Site default"."""
    return "Offline narrator" if connection["name"] == OFFLINE else f"{model} — {connection['label']}"


class ModelsForm(forms.Form):
    """A model per agent, among the connections on offer; empty is the next layer's (the account's for a
    story, the site's for an account). Values are ``connection:model`` (connection names are slugs)."""

    def __init__(self, *args, overview: dict, inherited: dict[str, str], chosen: dict, **kwargs):
        super().__init__(*args, **kwargs)
        groups = [(connection["label"], [(f"{connection['name']}:{model}", model_text(connection, model))
                                         for model in connection["models"]])
                  for connection in overview["connections"] if connection["models"]]
        for agent in AGENTS:
            self.fields[agent] = forms.ChoiceField(
                label=agent.capitalize(), required=False, choices=[("", inherited[agent]), *groups],
                help_text=AGENT_ROLES[agent],
                initial=f"{chosen[agent]['connection']}:{chosen[agent]['model']}" if agent in chosen else "")

    @staticmethod
    def inherited_text(prefix: str, choice: dict, overview: dict) -> str:
        connection = next((c for c in overview["connections"] if c["name"] == choice["connection"]),
                          {"name": choice["connection"], "label": choice["connection"]})
        return f"{prefix}: {model_text(connection, choice['model'])}"

    def choices(self) -> dict:
        """``{"writer": {"connection": …, "model": …}, "dreamer": None}`` from the valid form."""
        picked = {}
        for agent in AGENTS:
            connection, _, model = (self.cleaned_data.get(agent) or "").partition(":")
            picked[agent] = {"connection": connection, "model": model} if connection else None
        return picked


class LoreFileForm(forms.Form):
    file = forms.FileField(label="Card or world file", help_text=LORE_FILE_HELP)


class LoreEntryForm(forms.Form):
    comment = forms.CharField(label="Title", max_length=2_000, required=False)
    keys = forms.CharField(max_length=4_000, required=False, help_text="Separate with commas; /regex/flags works.")
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=100_000, required=False)
    enabled = forms.BooleanField(required=False)

    def clean_keys(self):
        return _as_list(self.cleaned_data["keys"])


class LoreTestForm(forms.Form):
    action = forms.CharField(label="Try an action", max_length=MAX_ACTION_CHARS,
                             widget=forms.TextInput(attrs={"placeholder": "I walk into the glade"}))


class ReplayForm(forms.Form):
    """The model to replay a turn's Writer with: one of the connections' models the Models page offers
    (``connection:model``)."""

    choice = forms.ChoiceField(label="Replay with")

    def __init__(self, *args, overview: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["choice"].choices = [
            (connection["label"], [(f"{connection['name']}:{model}", model_text(connection, model))
                                   for model in connection["models"]])
            for connection in overview["connections"] if connection["models"]]

    def picked(self) -> dict:
        connection, _, model = self.cleaned_data["choice"].partition(":")
        return {"connection": connection, "model": model}


class BudgetForm(forms.Form):
    """A cap in USD; blank: none of the story's own, or the tier's monthly one (budgets.py)."""

    cap_usd = forms.DecimalField(label="Cap (USD)", required=False, min_value=0, max_digits=10, decimal_places=2,
                                 widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}))
