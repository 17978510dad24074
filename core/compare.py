"""Two versions of a thing compared field by field, shaped like Wagtail's ``compare`` module: one
``TextComparison`` per field, which says whether the field changed and shows it as a word-level diff —
inline (``htmldiff``), side by side (``side_by_side``: the before column with deletions marked, the after
column with additions marked) or as a line diff (``unified``, to read as text). The one compare module of the
chapter editor's version history, the marketplace's versions and a sync's conflicts; ``readable`` turns a
stored value (beats, conditions, lists) into the lines a person compares."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# Words, runs of space and single marks: a diff of these reads as the words that changed.
_TOKENS = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class TextComparison:
    label: str
    before: str
    after: str

    def has_changed(self) -> bool:
        return self.before != self.after

    def _opcodes(self) -> list[tuple[str, str, str]]:
        """(op, the before text, the after text) per run; a lone space between two changes joins them, so a
        rewritten sentence reads as one deletion and one addition, not a word-by-word patchwork."""
        before, after = _TOKENS.findall(self.before), _TOKENS.findall(self.after)
        runs = [(op, "".join(before[b1:b2]), "".join(after[a1:a2])) for op, b1, b2, a1, a2
                in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()]
        joined: list[tuple[str, str, str]] = []
        for index, (op, removed, added) in enumerate(runs):
            between_changes = 0 < index < len(runs) - 1 and runs[index + 1][0] != "equal"
            if op == "equal" and between_changes and not removed.strip() and joined[-1][0] != "equal":
                op = "replace"
            if op != "equal" and joined and joined[-1][0] != "equal":
                _, earlier_removed, earlier_added = joined.pop()
                removed, added = earlier_removed + removed, earlier_added + added
            joined.append((op, removed, added))
        return joined

    def htmldiff(self) -> SafeString:
        """The after text with removed words in ``<del class="deletion">`` and added ones in
        ``<ins class="addition">``; every text is escaped."""
        parts = []
        for op, removed, added in self._opcodes():
            if op == "equal":
                parts.append(escape(added))
                continue
            if removed:
                parts.append(format_html('<del class="deletion">{}</del>', removed))
            if added:
                parts.append(format_html('<ins class="addition">{}</ins>', added))
        return mark_safe("".join(parts))  # each part is escaped above

    def side_by_side(self) -> tuple[SafeString, SafeString]:
        """(the before text with the words the after one lost in ``<del>``, the after text with the words
        it gained in ``<ins>``); every text is escaped."""
        before, after = [], []
        for op, removed, added in self._opcodes():
            if op == "equal":
                before.append(escape(removed))
                after.append(escape(added))
                continue
            if removed:
                before.append(format_html('<del class="deletion">{}</del>', removed))
            if added:
                after.append(format_html('<ins class="addition">{}</ins>', added))
        return mark_safe("".join(before)), mark_safe("".join(after))  # each part is escaped above

    def unified(self, *, before_label: str = "before", after_label: str = "after") -> str:
        return unified_diff(self.before, self.after, before_label=before_label, after_label=after_label)


def unified_diff(before: str, after: str, *, before_label: str, after_label: str) -> str:
    """A line diff of two texts, as ``diff -u`` prints it."""
    return "\n".join(difflib.unified_diff(before.splitlines(), after.splitlines(), before_label, after_label,
                                          lineterm=""))


def changed_fields(comparisons: list[TextComparison]) -> list[TextComparison]:
    return [comparison for comparison in comparisons if comparison.has_changed()]


def comparisons_html(comparisons: list[TextComparison]) -> SafeString:
    """The changed fields as a definition list: each field's label, then its word-level diff."""
    return format_html('<dl class="compare">{}</dl>', format_html_join(
        "", '<dt>{}</dt><dd class="diff">{}</dd>',
        ((comparison.label, comparison.htmldiff()) for comparison in changed_fields(comparisons))))


def side_by_side_html(comparisons: list[TextComparison], *, before_label: str, after_label: str) -> SafeString:
    """The changed fields, each a row of two columns that wrap their text (never cut off at the right):
    ``before_label`` with the deletions marked, ``after_label`` with the additions marked. An empty side
    says so rather than showing nothing."""
    def column(side: str, label: str, text: str, html: SafeString) -> SafeString:
        shown = html if text else format_html('<span class="compare-empty">{}</span>', "(empty)")
        return format_html('<div class="compare-{}"><span class="compare-side">{}</span>'
                           '<div class="diff">{}</div></div>', side, label, shown)

    rows = []
    for comparison in changed_fields(comparisons):
        before_html, after_html = comparison.side_by_side()
        rows.append(format_html('<section class="compare-field"><h4>{}</h4><div class="compare-columns">{}{}</div>'
                                "</section>", comparison.label,
                                column("before", before_label, comparison.before, before_html),
                                column("after", after_label, comparison.after, after_html)))
    return format_html('<div class="compare-side-by-side">{}</div>', mark_safe("".join(rows)))  # rows are escaped


def label_of(key: str) -> str:
    """``character_present`` → ``Character present``."""
    return key.replace("_", " ").capitalize()


def readable(value, labels: dict[str, str] | None = None) -> str:
    """A stored value as lines a person compares: text as it is, yes/no, a list of names joined by commas, a
    list of beats one per line as ``[high] text``, an object one ``Label: value`` line per key (``labels``
    names its keys, else the key in words); never JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "\n".join(f"{(labels or {}).get(key) or label_of(key)}: {readable(item, labels)}"
                         for key, item in value.items() if item not in (None, "", [], {}))
    if isinstance(value, list | tuple):
        if all(isinstance(item, dict) and ("beat" in item or "description" in item) for item in value) and value:
            return "\n".join(f"[{item.get('priority', 'medium')}] {item.get('beat', item.get('description', ''))}"
                             for item in value)
        if all(not isinstance(item, dict | list) for item in value):
            return ", ".join(readable(item) for item in value)
        return "\n".join(readable(item, labels) for item in value)
    return str(value)


def fields_compared(before: dict | None, after: dict | None, *, labels: dict[str, str] | None = None,
                    skip: tuple[str, ...] = ()) -> list[TextComparison]:
    """One ``TextComparison`` per field either side has (a missing side or field compares as empty), in the
    order the fields first appear, each value ``readable``."""
    before, after = before or {}, after or {}
    keys = [key for key in dict.fromkeys([*before, *after]) if key not in skip]
    return [TextComparison((labels or {}).get(key) or label_of(key), readable(before.get(key), labels),
                           readable(after.get(key), labels)) for key in keys]
