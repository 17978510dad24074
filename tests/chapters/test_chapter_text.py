"""The ‹chapter-N› text format: parsing, writing back, and rejecting bad lines by number."""

import pytest

from chapters.chapter_markup import ChapterTextError, parse, write

EXAMPLE = """‹chapter-1› The Summons
location: Harbour
beats:
- [high] A messenger brings the king's seal
- The tide turns

The story opens with a summons the player cannot ignore.

‹chapter-2› The Bridge at Dawn
requires: 1
location: Old Bridge, North Gate
has_item: Signal Horn
min_turn: 5
beats:
- [high] The guards change shift
- [low] A crow watches
divergence: allow
threshold: 0.5
visibility: title

Narrative instructions, free text, up to the next header.
They can run over several lines.
"""


def test_parse_the_design_example():
    first, second = parse(EXAMPLE)
    assert first["number"] == 1 and first["title"] == "The Summons"
    assert first["suggested_beats"] == [{"beat": "A messenger brings the king's seal", "priority": "high"},
                                        {"beat": "The tide turns", "priority": "medium"}]
    assert second["required_previous_chapters"] == [1]
    assert second["trigger_conditions"] == {"location": ["Old Bridge", "North Gate"], "has_item": "Signal Horn",
                                            "min_turn": 5}
    assert second["min_similarity_threshold"] == 0.5 and second["visibility"] == "title"
    assert second["narrative_instructions"] == ("Narrative instructions, free text, up to the next header.\n"
                                                "They can run over several lines.")


def test_export_then_import_gives_the_same_chapters():
    chapters = parse(EXAMPLE)
    assert parse(write(chapters)) == chapters


def test_ascii_headers_crlf_and_unicode():
    text = "<chapter-3> Ночь у моста\r\nflag: dead:Aldric\r\nstart_early: yes\r\ncritical: flag\r\n\r\nТекст «главы».\r\n"
    (chapter,) = parse(text)
    assert chapter["title"] == "Ночь у моста" and chapter["start_early"] and chapter["critical"] == ["flag"]
    assert chapter["trigger_conditions"] == {"flag": "dead:Aldric"} and chapter["narrative_instructions"] == "Текст «главы»."


@pytest.mark.parametrize(("text", "line", "message"), [
    ("‹chapter-1› A\nweather: rain\n", 2, "unknown key 'weather'"),
    ("‹chapter-1› A\nthreshold: 1.5\n", 2, "threshold is a number from 0 to 1"),
    ("‹chapter-1› A\nrequires: one\n", 2, "requires takes chapter numbers"),
    ("‹chapter-1› A\nmin_turn: soon\n", 2, "min_turn takes a whole number"),
    ("‹chapter-1› A\ndivergence: maybe\n", 2, "divergence is allow or forbid"),
    ("‹chapter-1› A\nvisibility: secret\n", 2, "visibility is shown, title or hidden"),
    ("‹chapter-1› A\n\n‹chapter-1› B\n", 3, "chapter 1 appears twice"),
    ("‹chapter-1›\n", 1, "has no title"),
    ("Some preamble\n‹chapter-1› A\n", 1, "text before the first"),
    ("‹chapter-1› A\njust words\n", 2, "expected 'key: value'"),
    ("‹chapter-1› A\ncritical: mood\n", 2, "critical takes condition keys"),
])
def test_bad_lines_are_named(text, line, message):
    with pytest.raises(ChapterTextError) as error:
        parse(text)
    assert error.value.line == line and message in str(error.value)


def test_an_empty_file_is_refused():
    with pytest.raises(ChapterTextError, match="no ‹chapter-N› header"):
        parse("\n\n")
