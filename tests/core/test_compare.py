"""core.compare: field comparisons with word-level diffs, inline and side by side, of readable values."""

from core.compare import TextComparison, comparisons_html, fields_compared, readable, side_by_side_html, unified_diff


def test_a_word_level_diff_marks_only_the_words_that_changed_and_escapes_everything():
    comparison = TextComparison("Instructions", "Meet <the> king at dawn.", "Meet <the> queen at dawn.")
    assert comparison.has_changed()
    assert comparison.htmldiff() == ('Meet &lt;the&gt; <del class="deletion">king</del>'
                                     '<ins class="addition">queen</ins> at dawn.')


def test_only_changed_fields_are_shown():
    html = comparisons_html([TextComparison("Title", "Dawn", "Dawn"), TextComparison("Beats", "", "A & B")])
    assert html == '<dl class="compare"><dt>Beats</dt><dd class="diff"><ins class="addition">A &amp; B</ins></dd></dl>'


def test_a_unified_diff_reads_as_diff_u():
    assert unified_diff("a\nb", "a\nc", before_label="v1", after_label="v2").splitlines() == [
        "--- v1", "+++ v2", "@@ -1,2 +1,2 @@", " a", "-b", "+c"]


def test_side_by_side_marks_deletions_before_and_additions_after_and_escapes():
    before, after = TextComparison("Beats", "Meet the <king> now", "Meet the queen now").side_by_side()
    assert before == 'Meet the <del class="deletion">&lt;king&gt;</del> now'
    assert after == 'Meet the <ins class="addition">queen</ins> now'


def test_side_by_side_html_shows_changed_fields_in_two_labelled_columns_and_says_empty():
    html = side_by_side_html([TextComparison("Title", "Dawn", "Dawn"), TextComparison("Beats", "", "A & B")],
                             before_label="v1", after_label="v2")
    assert html == ('<div class="compare-side-by-side"><section class="compare-field"><h4>Beats</h4>'
                    '<div class="compare-columns"><div class="compare-before"><span class="compare-side">v1</span>'
                    '<div class="diff"><span class="compare-empty">(empty)</span></div></div>'
                    '<div class="compare-after"><span class="compare-side">v2</span><div class="diff">'
                    '<ins class="addition">A &amp; B</ins></div></div></div></section></div>')


def test_readable_values_are_lines_not_json():
    assert readable([{"beat": "Confront the king", "priority": "high"}, {"description": "Flee", "priority": "low"}]
                    ) == "[high] Confront the king\n[low] Flee"
    assert readable({"location": ["Old Bridge", "North Gate"], "min_turn": 3, "flag": []},
                    {"min_turn": "From turn"}) == "Location: Old Bridge, North Gate\nFrom turn: 3"
    assert readable(True) == "yes" and readable(None) == "" and readable(["a", "b"]) == "a, b"


def test_fields_compared_covers_either_sides_fields_with_a_missing_side_empty():
    compared = fields_compared(None, {"title": "Dawn", "trigger_conditions": {"location": "harbour"}},
                               labels={"trigger_conditions": "Conditions"}, skip=("number",))
    assert [(c.label, c.before, c.after) for c in compared] == [("Title", "", "Dawn"),
                                                                ("Conditions", "", "Location: harbour")]


def test_a_rewritten_sentence_is_one_deletion_and_one_addition_not_a_patchwork():
    comparison = TextComparison("Passage", "Rain on the old roof.", "Sun over a new field.")
    assert comparison.htmldiff() == ('<del class="deletion">Rain on the old roof</del>'
                                     '<ins class="addition">Sun over a new field</ins>.')
