"""core.compare: field comparisons with word-level diffs (the chapter editor's version history)."""

from core.compare import TextComparison, comparisons_html, unified_diff


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
