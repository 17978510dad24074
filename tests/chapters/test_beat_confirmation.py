"""Does a passage carry a beat: the deterministic reading of the prose (no database, no model)."""

import pytest

from chapters.beat_confirmation import beats_carried, passage_carries

PASSAGE = ("The tide turns under a low sky. A messenger brings the king's seal, wrapped in oilcloth.\n\n"
           "Gulls wheel over the harbour. Whatever comes next, it will not wait for long.")


@pytest.mark.parametrize("beat", [
    "A messenger brings the king's seal",
    "a MESSENGER brings the King's seal.",  # case and end punctuation
    "The king's seal, a messenger brings it",  # order and small words
])
def test_a_beat_told_in_one_sentence_is_carried(beat):
    assert passage_carries(beat, PASSAGE)


def test_an_irregular_form_is_not_read_as_the_same_word():
    assert not passage_carries("The king's seal is brought by a messenger", PASSAGE)


def test_regular_endings_and_small_words_do_not_matter():
    assert passage_carries("Messengers bring the seals", PASSAGE)
    assert passage_carries("The seal of the king", PASSAGE)


def test_words_spread_over_sentences_do_not_carry_a_beat():
    # "messenger", "harbour" and "gulls" are all in the passage, but never in one sentence.
    assert not passage_carries("The messenger feeds the gulls in the harbour", PASSAGE)


def test_a_beat_not_told_is_not_carried():
    assert not passage_carries("The seal is broken open", PASSAGE)
    assert not passage_carries("The letter names the traitor", PASSAGE)


def test_each_sentence_of_a_beat_must_be_told():
    assert passage_carries("A messenger brings the seal. Gulls wheel over the harbour", PASSAGE)
    assert not passage_carries("A messenger brings the seal. The letter names the traitor", PASSAGE)


def test_an_empty_beat_or_passage_carries_nothing():
    assert not passage_carries("", PASSAGE)
    assert not passage_carries("The and of", PASSAGE)  # no content word
    assert not passage_carries("A messenger brings the king's seal", "")


def test_card_macros_are_not_words_to_find():
    assert passage_carries("{{user}} sees a messenger bring the king's seal", PASSAGE) is False  # "sees" is not told
    assert passage_carries("A messenger brings {{char}} the king's seal", PASSAGE)


def test_beats_carried_keeps_the_beats_order():
    beats = ["Gulls wheel over the harbour", "The seal is broken open", "A messenger brings the king's seal"]
    assert beats_carried(beats, PASSAGE) == ["Gulls wheel over the harbour", "A messenger brings the king's seal"]
