"""Lorebook activation (chapters.lore.activation): which entries fire for a turn. Pure Python, no database."""

import random

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from chapters.lore import activation
from chapters.lore.activation import SELECTIVE_LOGIC, BookMatcher, BookSettings, EntrySpec, Fired, regex_key_error

BIG = BookSettings(token_budget=100_000)


def entry(id_=1, *keys, **fields):
    fields.setdefault("content", f"content {id_}")
    fields.setdefault("comment", f"E{id_}")
    return EntrySpec(id=id_, keys=tuple(keys), **fields)


def fired_ids(entries, *texts, book=BIG, seed=""):
    return [fired.id for fired in BookMatcher(entries, book).activate(list(texts), seed=seed)]


def fires(spec, *texts):
    return fired_ids([spec], *texts) == [spec.id]


# --- plain keys -----------------------------------------------------------------------------------------------


def test_a_primary_key_in_the_text_fires_the_entry_and_says_which_key():
    entries = [entry(1, "dragon", "wyrm", comment="Dragons"), entry(2, "castle")]
    result = BookMatcher(entries, BIG).activate(["The WYRM sleeps.", "nothing here"])
    assert result == [Fired(id=1, comment="Dragons", content="content 1", order=100, reason='key "wyrm"', depth=0)]


def test_all_texts_are_scanned_but_a_key_does_not_span_two_of_them():
    assert fires(entry(1, "dragon"), "first", "a dragon")
    assert not fires(entry(1, "drag on"), "drag", "on")


def test_case_insensitive_by_default_with_casefolding():
    assert fires(entry(1, "Dragon"), "a DRAGON")
    assert fires(entry(1, "Straße"), "STRASSE")
    assert fires(entry(1, "ДРАКОН"), "дракон")


def test_case_sensitive_keys():
    assert fires(entry(1, "Dragon", case_sensitive=True), "the Dragon")
    assert not fires(entry(1, "Dragon", case_sensitive=True), "the dragon")
    assert not fires(entry(1, "dragon", case_sensitive=True), "the DRAGON")


def test_substring_match_by_default():
    assert fires(entry(1, "cat"), "concatenate")


@pytest.mark.parametrize(("key", "text", "expected"), [
    ("cat", "the cat sat", True),
    ("cat", "cat", True),
    ("cat", "(cat).", True),
    ("cat", "concatenate", False),
    ("cat", "cats", False),
    ("cat", "cat_", False),
    ("red dragon", "a red dragon!", True),
    ("red dragon", "a red dragonfly", False),
    ("red dragon", "tired dragon", False),
    ("кот", "Кот спит.", True),
    ("кот", "котёнок спит", False),
    ("café", "au CAFÉ", True),
    ("café", "cafés", False),
])
def test_whole_words(key, text, expected):
    assert fires(entry(1, key, match_whole_words=True), text) is expected


def test_whole_words_also_with_case_sensitivity():
    assert fires(entry(1, "Cat", match_whole_words=True, case_sensitive=True), "a Cat.")
    assert not fires(entry(1, "Cat", match_whole_words=True, case_sensitive=True), "a cat.")
    assert not fires(entry(1, "Cat", match_whole_words=True, case_sensitive=True), "Cats")


def test_keys_in_scripts_without_spaces_match_as_substrings_even_for_whole_words():
    assert fires(entry(1, "ドラゴン", match_whole_words=True), "巨大なドラゴンが現れた")
    assert fires(entry(1, "龙", match_whole_words=True), "一条龙飞过")
    assert fires(entry(1, "龙"), "一条龙飞过")
    assert not fires(entry(1, "龙"), "一条蛇")


def test_overlapping_and_contained_keys_are_all_found():
    entries = [entry(1, "abc"), entry(2, "bcd"), entry(3, "dragon"), entry(4, "dragon king"), entry(5, "king"),
               entry(6, "rag"), entry(7, "kingdom")]
    assert fired_ids(entries, "abcd") == [1, 2]
    assert fired_ids(entries, "the dragon king") == [3, 4, 5, 6]


def test_the_same_key_in_several_entries_with_different_options():
    entries = [entry(1, "Cat"), entry(2, "Cat", case_sensitive=True), entry(3, "cat", match_whole_words=True)]
    assert fired_ids(entries, "cats") == [1]
    assert fired_ids(entries, "Cats") == [1, 2]
    assert fired_ids(entries, "a cat") == [1, 3]


def test_empty_keys_are_ignored():
    assert not fires(entry(1, "", "   "), "anything at all")
    assert not fires(entry(1), "anything at all")
    assert fires(entry(1, "", "dragon"), "a dragon")
    # An empty secondary key is no secondary key: the entry does not need one.
    assert fires(entry(1, "dragon", secondary_keys=("",)), "a dragon")


def test_disabled_entries_never_fire():
    assert not fires(entry(1, "dragon", enabled=False), "a dragon")
    assert not fires(entry(1, constant=True, enabled=False), "")


def test_constant_entries_are_always_on():
    result = BookMatcher([entry(1, constant=True), entry(2, "dragon")], BIG).activate([])
    assert [(fired.id, fired.reason, fired.depth) for fired in result] == [(1, "always on", 0)]
    assert fires(entry(1, "never in the text", constant=True), "hello")


# --- selective logic ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("logic", "text", "expected"), [
    ("AND_ANY", "dragon", False),
    ("AND_ANY", "dragon fire", True),
    ("AND_ANY", "dragon fire ice", True),
    ("AND_ALL", "dragon fire", False),
    ("AND_ALL", "dragon fire ice", True),
    ("NOT_ANY", "dragon", True),
    ("NOT_ANY", "dragon fire", False),
    ("NOT_ANY", "dragon fire ice", False),
    ("NOT_ALL", "dragon", True),
    ("NOT_ALL", "dragon fire", True),
    ("NOT_ALL", "dragon fire ice", False),
    ("NOT_ALL", "fire ice", False),  # secondary keys never trigger on their own
])
def test_selective_logic(logic, text, expected):
    spec = entry(1, "dragon", secondary_keys=("fire", "ice"), selective_logic=logic)
    assert fires(spec, text) is expected


def test_selective_logic_names():
    assert SELECTIVE_LOGIC == ("AND_ANY", "NOT_ALL", "NOT_ANY", "AND_ALL")


def test_secondary_keys_follow_the_entrys_options():
    spec = entry(1, "dragon", secondary_keys=("Fire",), case_sensitive=True)
    assert not fires(spec, "dragon fire")
    assert fires(spec, "dragon Fire")


# --- regex keys -----------------------------------------------------------------------------------------------


def test_regex_keys_with_flags():
    assert fires(entry(1, "/drag(on|ons)/i"), "Two DRAGONS")
    assert not fires(entry(1, "/drag(on|ons)/"), "Two DRAGONS")
    assert fires(entry(1, "/^dragon$/m"), "first line\ndragon\nlast")
    assert not fires(entry(1, "/^dragon$/"), "first line\ndragon\nlast")
    assert fires(entry(1, "/red.dragon/s"), "red\ndragon")
    assert not fires(entry(1, "/red.dragon/"), "red\ndragon")
    assert fires(entry(1, "/dragon/gyu"), "dragon")


def test_regex_keys_support_lookbehind_and_report_the_key_as_written():
    spec = entry(1, "/(?<=red )dragon/")
    assert fires(spec, "a red dragon")
    assert not fires(spec, "a blue dragon")
    assert BookMatcher([spec], BIG).activate(["a red dragon"])[0].reason == 'key "/(?<=red )dragon/"'


def test_the_regex_decides_case_and_words_not_the_entry():
    assert not fires(entry(1, "/Dragon/", case_sensitive=False), "dragon")
    assert fires(entry(1, "/dragon/i", case_sensitive=True), "DRAGON")
    assert fires(entry(1, "/dragon/", match_whole_words=True), "dragonfly")


def test_regex_secondary_keys():
    spec = entry(1, "dragon", secondary_keys=("/fir(e|es)\\b/",), selective_logic="AND_ANY")
    assert fires(spec, "dragon fires")
    assert not fires(spec, "dragon firework")


def test_a_key_with_an_unknown_flag_is_plain_text():
    assert fires(entry(1, "/usr/bin"), "see /usr/bin/env")
    assert not fires(entry(1, "/usr/bin"), "usr")
    assert regex_key_error("/usr/bin") is None


def test_an_invalid_regex_is_a_plain_key_and_reported():
    spec = entry(1, "/drag(on/")
    assert fires(spec, "the key /drag(on/ literally")
    assert not fires(spec, "dragon")
    assert "Invalid regex" in regex_key_error("/drag(on/")
    assert "repeated" in regex_key_error("/dragon/ii")
    assert regex_key_error("/drag(on|ons)/i") is None
    assert regex_key_error("dragon") is None
    assert regex_key_error("") is None


def test_a_catastrophic_regex_gives_up_without_raising(monkeypatch):
    text = "a" * 30 + "b"
    assert not fires(entry(1, "/(a+)+$/"), text)
    monkeypatch.setattr(activation, "REGEX_TIMEOUT", 0.01)
    entries = [entry(1, "/(a|aa)+$/"), entry(2, "b")]
    assert fired_ids(entries, "a" * 60 + "b") == [2]


# --- probability ----------------------------------------------------------------------------------------------


def test_probability_is_deterministic_per_seed_and_entry():
    entries = [entry(number, "dragon", probability=50) for number in range(1, 41)]
    matcher = BookMatcher(entries, BIG)
    first = fired_ids(entries, "dragon", seed="story-7:turn-3")
    assert first == fired_ids(entries, "dragon", seed="story-7:turn-3")
    assert first == [fired.id for fired in matcher.activate(["dragon"], seed="story-7:turn-3")]
    assert 0 < len(first) < 40
    assert first == [number for number in range(1, 41)
                     if random.Random(f"story-7:turn-3:{number}").random() * 100 < 50]
    assert first != fired_ids(entries, "dragon", seed="story-7:turn-4")


def test_probability_zero_never_and_hundred_always():
    entries = [entry(1, "dragon", probability=0), entry(2, "dragon", probability=100),
               entry(3, constant=True, probability=0)]
    for seed in map(str, range(50)):
        assert fired_ids(entries, "dragon", seed=seed) == [2]


def test_probability_applies_to_constant_entries():
    entries = [entry(number, constant=True, probability=30) for number in range(1, 41)]
    assert 0 < len(fired_ids(entries, "", seed="x")) < 40


# --- recursion ------------------------------------------------------------------------------------------------


def chain():
    return [entry(1, "alpha", content="Alpha knows bravo.", comment="Alpha"),
            entry(2, "bravo", content="Bravo knows charlie.", comment="Bravo"),
            entry(3, "charlie", content="Charlie knows delta.", comment="Charlie"),
            entry(4, "delta", content="Delta knows nobody.", comment="Delta")]


def test_recursion_stops_at_the_maximum_depth():
    book = BookSettings(token_budget=1000, recursive_scanning=True, max_recursion_depth=2)
    result = BookMatcher(chain(), book).activate(["We meet alpha."])
    assert [(fired.id, fired.depth) for fired in result] == [(1, 0), (2, 1), (3, 2)]
    assert result[1].reason == 'recursion from "Alpha" (key "bravo")'
    assert result[2].reason == 'recursion from "Bravo" (key "charlie")'
    deeper = BookSettings(token_budget=1000, recursive_scanning=True, max_recursion_depth=3)
    assert [fired.depth for fired in BookMatcher(chain(), deeper).activate(["alpha"])] == [0, 1, 2, 3]


def test_no_recursion_unless_the_book_asks_for_it():
    book = BookSettings(token_budget=1000, recursive_scanning=False, max_recursion_depth=5)
    assert fired_ids(chain(), "We meet alpha.", book=book) == [1]


def test_recursion_fires_each_entry_once_even_in_a_cycle():
    entries = [entry(1, "ping", content="pong"), entry(2, "pong", content="ping")]
    book = BookSettings(token_budget=1000, recursive_scanning=True, max_recursion_depth=5)
    result = BookMatcher(entries, book).activate(["ping"])
    assert [(fired.id, fired.depth) for fired in result] == [(1, 0), (2, 1)]


def test_constant_entries_take_part_in_recursion():
    entries = [entry(1, constant=True, content="the ember glows", comment="Ember Keep"), entry(2, "ember")]
    book = BookSettings(token_budget=1000, recursive_scanning=True)
    result = BookMatcher(entries, book).activate(["nothing"])
    assert [(fired.id, fired.depth, fired.reason) for fired in result] == [
        (1, 0, "always on"), (2, 1, 'recursion from "Ember Keep" (key "ember")')]


def test_recursion_can_bring_the_missing_secondary_key_but_not_lift_a_not_any():
    entries = [entry(1, "dragon", content="It breathes fire.", comment="Dragon"),
               entry(2, "cave", secondary_keys=("fire",), selective_logic="AND_ANY"),
               entry(3, "cave", secondary_keys=("fire",), selective_logic="NOT_ANY", content="no fire"),
               entry(4, "fire", secondary_keys=("dragon",), selective_logic="NOT_ANY")]
    book = BookSettings(token_budget=1000, recursive_scanning=True)
    result = BookMatcher(entries, book).activate(["a dragon in a cave"])
    assert [(fired.id, fired.depth, fired.reason) for fired in result] == [
        (1, 0, 'key "dragon"'), (2, 1, 'recursion from "Dragon" (secondary key "fire")'), (3, 0, 'key "cave"')]


# --- budget and prompt order ----------------------------------------------------------------------------------


def test_the_budget_keeps_higher_order_first_and_stops_at_the_first_entry_that_does_not_fit():
    entries = [entry(1, "dragon", order=300, content="x" * 40),     # 10 tokens
               entry(2, "dragon", order=200, content="x" * 400),    # 100 tokens: does not fit
               entry(3, "dragon", order=100, content="x" * 4)]      # would fit, but the cut is at entry 2
    assert fired_ids(entries, "dragon", book=BookSettings(token_budget=50)) == [1]
    assert fired_ids(entries, "dragon", book=BookSettings(token_budget=111)) == [3, 2, 1]
    assert fired_ids(entries, "dragon", book=BookSettings(token_budget=110)) == [2, 1]


def test_tokens_are_approximated_as_a_quarter_of_the_characters_rounded_up():
    assert fired_ids([entry(1, "a", content="x" * 9)], "a", book=BookSettings(token_budget=3)) == [1]
    assert fired_ids([entry(1, "a", content="x" * 13)], "a", book=BookSettings(token_budget=3)) == []


def test_constant_entries_come_first_under_the_budget():
    entries = [entry(1, "dragon", order=1000, content="x" * 40), entry(2, constant=True, order=1, content="y" * 40)]
    assert fired_ids(entries, "dragon", book=BookSettings(token_budget=10)) == [2]


def test_direct_matches_come_before_recursion_at_the_same_order():
    entries = [entry(1, "alpha", content="bravo" + " " * 35), entry(2, "bravo", content="x" * 40),
               entry(3, "charlie", content="z" * 40)]
    book = BookSettings(token_budget=20, recursive_scanning=True)
    assert fired_ids(entries, "alpha charlie", book=book) == [1, 3]


def test_prompt_order_is_order_then_id():
    entries = [entry(5, "a", order=50), entry(2, "a", order=100), entry(1, "a", order=100), entry(9, "a", order=10)]
    assert fired_ids(entries, "a") == [9, 5, 1, 2]


# --- odd books ------------------------------------------------------------------------------------------------


def test_an_empty_book():
    assert BookMatcher([], BookSettings()).activate(["a dragon"]) == []
    assert BookMatcher([], BookSettings()).activate([]) == []


def test_a_book_of_regex_keys_only():
    entries = [entry(1, "/dra+gon/"), entry(2, "/^never$/")]
    assert fired_ids(entries, "draaagon") == [1]


def test_a_book_of_constant_entries_only():
    assert fired_ids([entry(1, constant=True), entry(2, constant=True)], "") == [1, 2]


def test_an_unknown_selective_logic_acts_as_and_any():
    spec = entry(1, "dragon", secondary_keys=("fire",), selective_logic="SOMETIMES")
    assert fires(spec, "dragon fire")
    assert not fires(spec, "dragon")


def test_the_matcher_is_reusable_across_turns():
    matcher = BookMatcher([entry(1, "dragon"), entry(2, "castle")], BIG)
    assert [fired.id for fired in matcher.activate(["dragon"])] == [1]
    assert [fired.id for fired in matcher.activate(["castle"])] == [2]
    assert [fired.id for fired in matcher.activate(["dragon castle"])] == [1, 2]


# --- the combined matcher agrees with a naive one, entry by entry ---------------------------------------------

ALPHABET = "abAB ßДдÉé日_-."
REGEX_KEYS = {  # the regex keys the property test draws from, as the reference reads them
    "/a+b/": regex.compile("a+b"),
    "/(?<=a)b/": regex.compile("(?<=a)b"),
    "/^д/im": regex.compile("^д", regex.IGNORECASE | regex.MULTILINE),
    "/B$/": regex.compile("B$"),
    "/[ß日]/": regex.compile("[ß日]"),
    "/a.b/s": regex.compile("a.b", regex.DOTALL),
}
NOT_REGEX_KEYS = ["/a(/", "/ab/q", "/a/ii"]  # invalid, unknown flag, repeated flag: plain text


def naive_occurs(key, spec, text):
    if key in REGEX_KEYS:
        return REGEX_KEYS[key].search(text) is not None
    if not spec.case_sensitive:
        key, text = key.casefold(), text.casefold()
    if not spec.match_whole_words or any("\u3040" <= char <= "\u30ff" or "\u4e00" <= char <= "\u9fff" for char in key):
        return key in text

    def is_word(at):
        return 0 <= at < len(text) and (text[at].isalnum() or text[at] == "_")

    return any(text.startswith(key, at) and not is_word(at - 1) and not is_word(at + len(key))
               for at in range(len(text)))


def naive_activate(specs, book, texts):
    """Every entry checked against every scanned text: the obviously correct, slow way. (id, depth, reason)."""
    pieces = ["\n".join(texts)]
    fired = {}

    def present(key, spec):
        return any(naive_occurs(key, spec, piece) for piece in pieces)

    def reason(spec):
        if spec.constant:
            return "always on"
        hits = [key for key in spec.keys if key.strip() and present(key, spec)]
        if not hits:
            return None
        secondary = [present(key, spec) for key in spec.secondary_keys if key.strip()]
        if secondary and not {"AND_ANY": any(secondary), "AND_ALL": all(secondary),
                              "NOT_ANY": not any(secondary), "NOT_ALL": not all(secondary)}[spec.selective_logic]:
            return None
        return f'key "{hits[0]}"'

    candidates = [spec for spec in specs if spec.enabled and spec.probability > 0]
    levels = book.max_recursion_depth if book.recursive_scanning else 0
    for depth in range(levels + 1):
        newly = {spec.id: (spec, reason(spec)) for spec in candidates
                 if spec.id not in fired and (depth == 0 or not spec.constant) and reason(spec)}
        fired.update({id_: (spec, depth, why) for id_, (spec, why) in newly.items()})
        if not newly:
            break
        pieces += [spec.content for spec, _ in newly.values()]
    ranked = sorted(fired.values(), key=lambda item: (not item[0].constant, -item[0].order, item[1], item[0].id))
    kept, used = [], 0
    for spec, depth, why in ranked:
        used += -(-len(spec.content) // 4)
        if used > book.token_budget:
            break
        kept.append((spec, depth, why))
    return [(spec.id, depth, why) for spec, depth, why in sorted(kept, key=lambda item: (item[0].order, item[0].id))]


@st.composite
def small_books(draw):
    """Texts, entries and settings; most keys are cut from the texts and contents, so that entries do fire."""
    texts = draw(st.lists(st.text(alphabet=ALPHABET + "\n", min_size=4, max_size=30), min_size=1, max_size=3))
    contents = draw(st.lists(st.text(alphabet=ALPHABET, min_size=3, max_size=12), min_size=2, max_size=8))

    def keys(least, most):
        drawn = []
        for _ in range(draw(st.integers(least, most))):
            kind = draw(st.sampled_from(["cut", "cut", "cut", "random", "regex"]))
            if kind == "cut":
                # From a text, the key fires its entry directly; from a content, by recursion.
                corpus = draw(st.sampled_from(draw(st.sampled_from([texts, contents]))))
                start = draw(st.integers(0, len(corpus) - 1))
                cut = corpus[start:start + draw(st.integers(1, 4))]
                drawn.append(draw(st.sampled_from([cut, cut, cut.upper(), cut.swapcase()])))
            elif kind == "regex":
                drawn.append(draw(st.sampled_from([*REGEX_KEYS, *NOT_REGEX_KEYS])))
            else:
                drawn.append(draw(st.text(alphabet=ALPHABET, max_size=3)))
        return tuple(drawn)

    specs = [EntrySpec(id=number, comment=f"E{number}", content=content, keys=keys(1, 3), secondary_keys=keys(0, 2),
                       selective_logic=draw(st.sampled_from(SELECTIVE_LOGIC)),
                       constant=draw(st.sampled_from([False] * 5 + [True])),
                       order=draw(st.sampled_from([0, 100, 200])),
                       enabled=draw(st.sampled_from([True] * 5 + [False])),
                       probability=draw(st.sampled_from([100] * 5 + [0])),
                       case_sensitive=draw(st.sampled_from([False, False, True])),
                       match_whole_words=draw(st.sampled_from([False, False, True])))
             for number, content in enumerate(contents, 1)]
    book = BookSettings(token_budget=draw(st.sampled_from([0, 3, 8] + [10_000] * 5)),
                        recursive_scanning=draw(st.sampled_from([False, True, True])),
                        max_recursion_depth=draw(st.integers(0, 3)))
    return specs, book, texts


@settings(max_examples=50, deadline=None, database=None)
@given(small_books())
def test_the_combined_matcher_agrees_with_a_naive_one(book_and_texts):
    specs, book, texts = book_and_texts
    result = BookMatcher(specs, book).activate(texts)
    got = [(fired.id, fired.depth, fired.reason if fired.depth == 0 else None) for fired in result]
    expected = [(id_, depth, why if depth == 0 else None) for id_, depth, why in naive_activate(specs, book, texts)]
    assert got == expected
    assert all(fired.reason.startswith("recursion from ") for fired in result if fired.depth)
