"""The chapter editor's forms: a chapter as fields an author fills in (conditions with a "critical" box
each, beats as rows, prerequisites as the story's chapters), or the whole chapter as ``‹chapter-N›`` text.

The model keeps its JSON; these forms build it. Every error names the field in words ("Beats, row 2:
choose a priority"), and the checks across the story's chapters are the services' own (``check_set``).
"""

from __future__ import annotations

from itertools import count

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from core.permissions import may_change

from .. import chapter_markup, selectors, services
from ..beats import BEAT_CHARS, MAX_BEATS, PRIORITIES, beat_text
from ..json_limits import control_character_message
from ..models import StoryChapter
from ..triggers import CONDITION_KEYS

MAX_BEAT_ROWS = 5 * MAX_BEATS  # rows read from one post, empty ones included; check_set refuses > MAX_BEATS beats

# Condition key -> (form field, label, help): the words an author reads for each key of DESIGN §4.
CONDITIONS = {
    "location": ("locations", "Locations", "Any of these places, separated by commas."),
    "character_present": ("characters", "Characters present", "All of them, separated by commas."),
    "has_item": ("items", "Items", "The player holds any of these, separated by commas."),
    "flag": ("flags", "Flags", "All of these are set, separated by commas."),
    "min_turn": ("min_turn", "Minimum turn", "Not before this turn."),
}
# Model field -> the words errors use for it.
FIELD_WORDS = {"number": "Number", "trigger_conditions": "Conditions", "critical": "Critical conditions",
               "required_previous_chapters": "Requires", "blocked_by": "Blocked by", "suggested_beats": "Beats"}
STRUCTURED = ["story", "number", "title", "description", "summary", "required_previous_chapters", "blocked_by",
              "narrative_instructions", "suggested_beats", "allow_divergence", "min_similarity_threshold",
              "visibility", "start_early"]


class NamesField(forms.CharField):
    """Names separated by commas; one name is kept as text, several as a list (the conditions' JSON)."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    @staticmethod
    def names(value) -> list[str]:
        parts = (value or "").split(",") if isinstance(value, str) or value is None else value
        return [part.strip() for part in parts if part.strip()]

    def prepare_value(self, value):
        return value if isinstance(value, str) or value is None else ", ".join(value)

    def clean(self, value):
        names = self.names(super().clean(value))
        return names[0] if len(names) == 1 else names

    def has_changed(self, initial, data):
        return self.names(initial) != self.names(data)


class BeatRowsWidget(forms.Widget):
    """Beats as rows of a text input and a priority select, with empty rows to add more (a script in
    ``static/js/admin-beat-rows.js`` adds a button for another row; without it, save and the rows come back)."""

    empty_rows = 3

    class Media:
        js = ["js/admin-beat-rows.js"]

    def value_from_datadict(self, data, files, name):
        rows = []
        for index in count():
            text, priority = f"{name}-{index}-beat", f"{name}-{index}-priority"
            if index == MAX_BEAT_ROWS or (text not in data and priority not in data):
                return rows
            rows.append({"beat": data.get(text, ""), "priority": data.get(priority, "")})

    def value_omitted_from_data(self, data, files, name):
        return f"{name}-0-beat" not in data

    def id_for_label(self, id_):
        return f"{id_}-0-beat" if id_ else id_

    def render(self, name, value, attrs=None, renderer=None):
        rows = [{"beat": beat_text(beat), "priority": beat.get("priority", "")} for beat in value or []]
        rows += [{"beat": "", "priority": ""}] * self.empty_rows
        base_id = (attrs or {}).get("id", f"id_{name}")
        choices = [("", "— priority —"), *((priority, priority) for priority in PRIORITIES)]

        def row(index, beat):
            text = forms.TextInput(attrs={"id": f"{base_id}-{index}-beat", "aria-label": f"Beat {index + 1}",
                                          "class": "vTextField", "maxlength": BEAT_CHARS})
            priority = forms.Select(choices=choices, attrs={"id": f"{base_id}-{index}-priority",
                                                            "aria-label": f"Priority of beat {index + 1}"})
            return (index + 1, text.render(f"{name}-{index}-beat", beat["beat"], renderer=renderer),
                    priority.render(f"{name}-{index}-priority", beat["priority"], renderer=renderer))

        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                                (row(index, beat) for index, beat in enumerate(rows)))
        return format_html('<div class="beat-rows-field"><table class="beat-rows"><thead><tr><th>#</th>'
                           "<th>Beat</th><th>Priority</th></tr></thead><tbody>{}</tbody></table></div>", body)


class BeatsField(forms.Field):
    """The rows as ``[{"beat": text, "priority": "high"|"medium"|"low"}]``; a row without text is left out."""

    widget = BeatRowsWidget

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def clean(self, rows):
        beats, errors = [], []
        for number, row in enumerate(rows or [], start=1):
            text, priority = beat_text(row).strip(), row.get("priority", "")
            if not text:
                continue
            if refused := control_character_message(text):
                errors.append(f"Beats, row {number}: {refused}")
            elif len(text) > BEAT_CHARS:
                errors.append(f"Beats, row {number}: at most {BEAT_CHARS} characters, not {len(text)}.")
            elif not priority:
                errors.append(f"Beats, row {number}: choose a priority.")
            elif priority not in PRIORITIES:
                errors.append(f"Beats, row {number}: the priority is high, medium or low, not “{priority}”.")
            else:
                beats.append({"beat": text, "priority": priority})
        if errors:
            raise ValidationError(errors)
        return beats

    def has_changed(self, initial, data):
        try:
            return self.clean(initial) != self.clean(data)
        except ValidationError:
            return True


class NumbersInput(forms.TextInput):
    """Chapter numbers typed, separated by commas; boxes posted to it (the story chosen meanwhile) are read too."""

    def value_from_datadict(self, data, files, name):
        return ", ".join(data.getlist(name)) if hasattr(data, "getlist") else data.get(name)


class ChapterNumbersField(forms.Field):
    """Chapter numbers: boxes for the story's chapters ("3. The Bridge") when the story is known, else a
    comma-separated list."""

    def __init__(self, *, words: str, **kwargs):
        super().__init__(required=False, widget=NumbersInput, **kwargs)
        self.words = words

    def offer(self, chapters: list[StoryChapter]) -> None:
        self.widget = forms.CheckboxSelectMultiple(
            choices=[(str(chapter.number), f"{chapter.number}. {chapter.title}") for chapter in chapters])

    def prepare_value(self, value):
        if isinstance(self.widget, forms.CheckboxSelectMultiple) or isinstance(value, str) or value is None:
            return value
        return ", ".join(str(number) for number in value)

    def to_python(self, value) -> list[int]:
        items = [value] if isinstance(value, str) else list(value or [])
        numbers = []
        for part in (piece.strip() for item in items for piece in str(item).split(",")):
            if not part:
                continue
            if not part.isdigit():
                raise ValidationError(f"{self.words}: “{part}” is not a chapter number.")
            numbers.append(int(part))
        return sorted(set(numbers))

    def has_changed(self, initial, data):
        try:
            return self.to_python(initial) != self.to_python(data)
        except ValidationError:
            return True


class _ChapterChecks:
    """What both editor forms share: the author may change the story, and the chapter fits its others."""

    request_user = None  # set by the admin's get_form

    def _snapshot(self) -> None:
        self.saved = services.chapter_as_dict(self.instance) if self.instance.pk else None

    def check_chapter(self, chapter: dict, *, words: str | None = None) -> None:
        """``check_set`` over the story's chapters with this one; its errors put in words on the form."""
        story = self.cleaned_data.get("story")
        if not may_change(self.request_user, story):
            self.add_error("story", "You may read this story but not change its chapters.")
            return
        others = [services.chapter_as_dict(other)
                  for other in selectors.story_chapters(story_id=story.pk, excluding=self.instance.pk)]
        try:
            services.check_set([*others, chapter])
        except ValidationError as error:
            for field, errors in error.error_dict.items():
                target = field if words is None and field in self.fields else None
                for message in ValidationError(errors).messages:
                    self.add_error(target, f"{words or FIELD_WORDS.get(field, field)}: {message}")

    def changed_chapter_fields(self) -> dict:
        """The chapter's fields that differ from what is saved (all of them for a new chapter)."""
        chapter = self.chapter_fields()
        return {key: value for key, value in chapter.items() if self.saved is None or self.saved[key] != value}


class ChapterForm(_ChapterChecks, forms.ModelForm):
    """A chapter as fields: no JSON to type."""

    required_previous_chapters = ChapterNumbersField(
        words="Requires", label="Requires", help_text="Chapters that must be completed first.")
    blocked_by = ChapterNumbersField(
        words="Blocked by", label="Blocked by", help_text="Once any of these is completed, this chapter is closed.")
    suggested_beats = BeatsField(
        label="Beats", help_text="What should happen, one per row. The chapter completes when every high beat has.")
    locations = NamesField(label=CONDITIONS["location"][1], help_text=CONDITIONS["location"][2])
    characters = NamesField(label=CONDITIONS["character_present"][1], help_text=CONDITIONS["character_present"][2])
    items = NamesField(label=CONDITIONS["has_item"][1], help_text=CONDITIONS["has_item"][2])
    flags = NamesField(label=CONDITIONS["flag"][1], help_text=CONDITIONS["flag"][2])
    min_turn = forms.IntegerField(label=CONDITIONS["min_turn"][1], help_text=CONDITIONS["min_turn"][2],
                                  required=False, min_value=0)
    critical_location = forms.BooleanField(label="critical", required=False)
    critical_character_present = forms.BooleanField(label="critical", required=False)
    critical_has_item = forms.BooleanField(label="critical", required=False)
    critical_flag = forms.BooleanField(label="critical", required=False)
    critical_min_turn = forms.BooleanField(label="critical", required=False)

    class Meta:
        model = StoryChapter
        fields = STRUCTURED

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._snapshot()
        conditions, critical = self.instance.trigger_conditions or {}, self.instance.critical
        for key, (field, _, _) in CONDITIONS.items():
            self.initial.setdefault(field, conditions.get(key))
            self.initial.setdefault(f"critical_{key}", key in critical)
        story_id = self._story_id()
        if story_id:
            chapters = selectors.story_chapters(story_id=story_id, excluding=self.instance.pk)
            if self.initial.get("number") is None:
                self.initial["number"] = max((chapter.number for chapter in chapters), default=0) + 1
            for field in ("required_previous_chapters", "blocked_by"):
                self.fields[field].offer(chapters)
                if not chapters:
                    self.fields[field].help_text += " The story has no other chapters yet."
        else:
            for field in ("required_previous_chapters", "blocked_by"):
                self.fields[field].help_text += " Chapter numbers, separated by commas (e.g. 1, 3)."

    def _story_id(self):
        """The chapter's story when known: saved, chosen in the post, or given in the link (``?story=ID``)."""
        if self.instance.story_id:
            return self.instance.story_id
        chosen = self.data.get("story") if self.is_bound else self.initial.get("story")
        try:
            story = self.fields["story"].clean(chosen)
        except ValidationError:
            return None
        return story.pk

    def chapter_fields(self) -> dict:
        data = self.cleaned_data
        conditions = {key: data[field] for key, (field, _, _) in CONDITIONS.items()
                      if data.get(field) not in (None, "", [])}
        return {**{field: data[field] for field in STRUCTURED if field != "story"},
                "trigger_conditions": conditions,
                "critical": [key for key in CONDITION_KEYS if data.get(f"critical_{key}")]}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("story") is None:
            return cleaned
        existing = {chapter.number for chapter in selectors.story_chapters(story_id=cleaned["story"].pk,
                                                                            excluding=self.instance.pk)}
        for field in ("required_previous_chapters", "blocked_by"):
            for number in cleaned.get(field, []):
                if number not in existing:
                    self.add_error(field, f"{self.fields[field].words}: chapter {number} does not exist.")
        if not self.errors:
            self.check_chapter(self.chapter_fields())
        return cleaned


class ChapterTextForm(_ChapterChecks, forms.ModelForm):
    """The whole chapter as ``‹chapter-N›`` text (DESIGN §4), saved through the parser."""

    chapter_text = forms.CharField(
        label="Chapter as text", widget=forms.Textarea(attrs={"rows": 24, "cols": 90, "class": "vLargeTextField"}),
        help_text="One chapter in the ‹chapter-N› format (docs/chapter-format.md): the header, then 'key: value' "
                  "lines, a blank line, then the narrative instructions. Errors name the line.")

    class Meta:
        model = StoryChapter
        fields = ["story"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._snapshot()
        if self.saved is not None:
            # The secrets travel with the text (``secret:`` / ``reveal:`` lines), so saving it unchanged keeps them.
            self.saved["secrets"] = services.chapter_secrets(chapter=self.instance)
            self.initial.setdefault("chapter_text", chapter_markup.write([self.saved]))

    def clean_chapter_text(self) -> dict:
        try:
            chapters = chapter_markup.parse(self.cleaned_data["chapter_text"])
        except chapter_markup.ChapterTextError as error:
            raise ValidationError(f"Chapter text, {error}" if error.line else f"Chapter text: {error}") from error
        if len(chapters) != 1:
            raise ValidationError("Chapter text: write one chapter here; upload a file for several.")
        return chapters[0]

    def chapter_fields(self) -> dict:
        return {"secrets": [], **self.cleaned_data["chapter_text"]}  # no secret: line, no secrets

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("story") is not None and not self.errors:
            self.check_chapter(self.chapter_fields(), words="Chapter text")
        return cleaned


def condition_rows() -> list[tuple[str, str]]:
    """The admin's fieldset lines: each condition with its "critical" box beside it."""
    return [(field, f"critical_{key}") for key, (field, _, _) in CONDITIONS.items()]
