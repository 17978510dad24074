"""Two versions of a thing compared field by field, shaped like Wagtail's ``compare`` module: one
``TextComparison`` per field, which says whether the field changed and shows it as a word-level diff
(``htmldiff``, for pages) or a line diff (``unified``, to read as text)."""

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

    def htmldiff(self) -> SafeString:
        """The after text with removed words in ``<del class="deletion">`` and added ones in
        ``<ins class="addition">``; every text is escaped."""
        before, after = _TOKENS.findall(self.before), _TOKENS.findall(self.after)
        parts = []
        for op, b1, b2, a1, a2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
            if op == "equal":
                parts.append(escape("".join(after[a1:a2])))
                continue
            if b2 > b1:
                parts.append(format_html('<del class="deletion">{}</del>', "".join(before[b1:b2])))
            if a2 > a1:
                parts.append(format_html('<ins class="addition">{}</ins>', "".join(after[a1:a2])))
        return mark_safe("".join(parts))  # each part is escaped above

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
