"""Which lorebook entries fire for a story turn, in the style of SillyTavern's World Info.

Activation runs on every turn, and books imported from the community hold thousands of entries, so the
cost of a turn must not grow with the book: a loop of per-entry searches over the scanned text would.
``BookMatcher`` therefore compiles a book once into a single Aho–Corasick automaton over all of its plain
keys (casefolded); one pass over the casefolded text yields every key that occurs, however keys overlap
or contain each other, and only the entries owning such a key are then checked exactly (case, whole
words, secondary keys). Regex keys (``/pattern/flags``) are compiled with the book and searched per entry:
real books have few, and the caps (``lore_limits``) keep it so.

A turn's matching has a time budget (``BookMatcher.activation(deadline=…)``, in the thread's CPU time, which
is what the regex module's timeouts count): each regex search stops at
``REGEX_TIMEOUT`` (the key then counts as absent) or at the deadline, and once the deadline has passed no more
keys are checked. The entries that were not fully checked are reported as skipped, never guessed at.
Entries whose keys need no regex are checked before those that do, so a slow regex costs only its own
entries. Within the budget the result is exactly the one without a deadline.

Pure Python, no Django and no database, so it can be tested and benchmarked on its own.

Semantics, briefly (see ``BookMatcher.activate``):

- An enabled entry fires if it is constant, or if one of its primary keys occurs in the scanned text and
  its secondary keys, if any, satisfy its selective logic. Keys that are empty (or only whitespace) are
  ignored; an entry with no usable primary key fires only if constant.
- With recursive scanning, the content of every entry that fired is scanned too, level by level. A key
  counts as present once it occurs in the scanned text or in any content scanned so far (each content on
  its own: a key never spans two of them), as SillyTavern's growing scan buffer does.
- A probability below 100 is rolled once per entry with an RNG seeded by (seed, entry id): the same turn
  always gives the same answer.
- The token budget keeps constant entries first, then higher ``order``, then direct matches before
  recursive ones, and stops at the first entry that does not fit. Recursion is decided before the budget,
  so an entry cut by the budget may still have triggered others.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from time import thread_time

import regex

SELECTIVE_LOGIC = ("AND_ANY", "NOT_ALL", "NOT_ANY", "AND_ALL")

#: Seconds one regex key may search one text; longer (catastrophic backtracking) counts as no match.
REGEX_TIMEOUT = 0.05

_REGEX_KEY = regex.compile(r"/(.+)/([A-Za-z]*)", regex.DOTALL)
_JS_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "u": 0, "g": 0, "y": 0}
_LOGIC = {"AND_ANY": any, "AND_ALL": all, "NOT_ANY": lambda found: not any(found),
          "NOT_ALL": lambda found: not all(found)}
_is_word_char = regex.compile(r"\w").match
# Scripts written without spaces between words: there a whole-word requirement cannot be judged.
_has_unspaced_script = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]").search


@dataclass(frozen=True)
class EntrySpec:
    id: int                      # the LoreEntry row id
    keys: tuple[str, ...]        # plain keys, or JS-style regex keys "/pattern/flags"; empty strings are ignored
    content: str
    secondary_keys: tuple[str, ...] = ()
    selective_logic: str = "AND_ANY"  # one of SELECTIVE_LOGIC; an unknown value acts as AND_ANY
    comment: str = ""            # the entry's title
    constant: bool = False       # always on (if enabled)
    order: int = 100             # higher = more important (kept first when the budget is short) and placed later
    enabled: bool = True
    probability: int = 100       # 0..100, percent chance to fire once its keys matched (constant entries too)
    case_sensitive: bool = False
    match_whole_words: bool = False


@dataclass(frozen=True)
class BookSettings:
    scan_depth: int = 2          # how many recent turns the caller scans besides the action (the caller's business)
    token_budget: int = 400      # approx tokens = ceil(len(content)/4)
    recursive_scanning: bool = False
    max_recursion_depth: int = 3


@dataclass(frozen=True)
class Fired:
    id: int
    comment: str
    content: str
    order: int
    reason: str      # e.g. 'always on', 'key "dragon"', 'recursion from "Ember Keep" (key "ember")'
    depth: int       # 0 = matched the scanned texts, 1.. = activated by recursion


@dataclass(frozen=True)
class Activation:
    fired: list[Fired]        # as ``BookMatcher.activate`` returns them
    skipped: list[EntrySpec]  # by id: entries whose keys could not all be checked in time (none fired)
    cut: list[Fired] = field(default_factory=list)  # matched, but left out: the book's token budget was spent


def regex_key_error(key: str) -> str | None:
    """Why a key written as a regex cannot be used as one (it is then matched as plain text), else None.

    For importers and the admin to warn about; matching itself never raises.
    """
    return _parse_regex_key(key)[1]


def is_regex_key(key: str) -> bool:
    """Whether a key is written as a regex (``/pattern/flags``), usable or not; without compiling it."""
    shape = _REGEX_KEY.fullmatch(key)
    return shape is not None and all(flag in _JS_FLAGS for flag in shape.group(2))


def approx_tokens(text: str) -> int:
    """The budget's token estimate: ceil(len / 4)."""
    return -(-len(text) // 4)


def _parse_regex_key(key: str) -> tuple[regex.Pattern | None, str | None]:
    """(compiled pattern, None) for a usable regex key; (None, message) for a broken one; (None, None) if plain.

    A key is a regex if it reads ``/pattern/flags`` with JavaScript flags only (i, m, s, u, g, y; g and y mean
    nothing here); with any other letter after the last slash (``/usr/bin``) it is plain text.
    """
    shape = _REGEX_KEY.fullmatch(key)
    if shape is None:
        return None, None
    pattern, flags = shape.groups()
    if any(flag not in _JS_FLAGS for flag in flags):
        return None, None
    if len(set(flags)) < len(flags):
        return None, f'Invalid regex key "{key}": a flag is repeated.'
    options = 0
    for flag in flags:
        options |= _JS_FLAGS[flag]
    try:
        return regex.compile(pattern, options), None
    except Exception as error:  # regex.error; ValueError, OverflowError or RecursionError for extreme patterns
        return None, f'Invalid regex key "{key}": {error}.'


def _contains_whole_word(haystack: str, needle: str) -> bool:
    """Whether ``needle`` occurs in ``haystack`` with no word character right before or after it."""
    size, end_of_text = len(needle), len(haystack)
    start = haystack.find(needle)
    while start != -1:
        end = start + size
        if ((start == 0 or not _is_word_char(haystack[start - 1]))
                and (end == end_of_text or not _is_word_char(haystack[end]))):
            return True
        start = haystack.find(needle, start + 1)
    return False


@dataclass(frozen=True, slots=True)
class _Key:
    """One distinct key as it is matched: a plain string with its options, or a compiled regex."""

    written: str                  # as in the book, for reasons
    needle: str = ""              # plain: the string to find (casefolded unless case sensitive)
    word: int = -1                # plain: the automaton's id of the casefolded needle
    case_sensitive: bool = False
    whole_words: bool = False
    pattern: regex.Pattern | None = None


@dataclass(frozen=True, slots=True)
class _Entry:
    spec: EntrySpec
    primary: tuple[int, ...]      # key ids
    secondary: tuple[int, ...]
    logic: str

    @property
    def keys(self) -> tuple[int, ...]:
        return self.primary + self.secondary


class _Piece:
    """One scanned text: the turn's texts joined, or one fired entry's content (``source`` = its index)."""

    __slots__ = ("text", "folded", "words", "source")

    def __init__(self, text: str, folded: str, words: set[int], source: int | None):
        self.text, self.folded, self.words, self.source = text, folded, words, source


_CHUNK = 4096  # characters the automaton reads between two looks at the clock


class _OutOfTime(Exception):
    """The turn's deadline passed: no more keys are checked."""


class _Automaton:
    """Aho–Corasick over distinct strings, stored as a DFA: one dict lookup per character of the text.

    ``delta[state]`` holds only the transitions that differ from the root's, which keeps the table close to
    the size of the trie; every other character goes where it would go from the root.
    """

    __slots__ = ("root", "delta", "ends")

    def __init__(self, words: Sequence[str]):
        goto: list[dict[str, int]] = [{}]
        ends: list[tuple[int, ...]] = [()]
        for number, word in enumerate(words):
            state = 0
            for char in word:
                following = goto[state].get(char)
                if following is None:
                    following = len(goto)
                    goto[state][char] = following
                    goto.append({})
                    ends.append(())
                state = following
            ends[state] += (number,)
        fail = [0] * len(goto)
        delta: list[dict[str, int]] = [{} for _ in goto]
        queue = deque(goto[0].values())
        while queue:  # breadth first: a state's failure state is finished before the state itself
            state = queue.popleft()
            delta[state] = {**delta[fail[state]], **goto[state]}
            for char, child in goto[state].items():
                fail[child] = delta[fail[state]].get(char) or goto[0].get(char, 0)
                ends[child] += ends[fail[child]]
                queue.append(child)
        self.root, self.delta, self.ends = goto[0], delta, ends

    def find(self, text: str, deadline: float | None = None) -> set[int]:
        """The ids of all words occurring in ``text``; raises ``_OutOfTime`` once past ``deadline``
        (``thread_time()``), looked at every ``_CHUNK`` characters."""
        if not self.root:
            return set()
        root, delta, ends = self.root, self.delta, self.ends
        state = 0
        hits = set()
        for start in range(0, len(text), _CHUNK):
            if deadline is not None and thread_time() >= deadline:
                raise _OutOfTime
            for char in text[start:start + _CHUNK]:
                state = delta[state].get(char) or root.get(char, 0)
                if ends[state]:
                    hits.add(state)
        return {word for state in hits for word in ends[state]}


class BookMatcher:
    """A lorebook compiled once for activation; ``activate`` is cheap and safe to call from many threads."""

    def __init__(self, entries: Iterable[EntrySpec], settings: BookSettings):
        self.settings = settings
        self._keys: list[_Key] = []
        key_ids: dict[tuple, int] = {}
        words: dict[str, int] = {}            # casefolded plain needle -> automaton word id
        owners: dict[int, set[int]] = {}      # word id -> indexes of the entries with such a primary key

        patterns: dict[str, regex.Pattern | None] = {}  # each different key compiled once, however many use it

        def key_id(written: str, spec: EntrySpec) -> int:
            if written not in patterns:
                patterns[written] = _parse_regex_key(written)[0]
            pattern = patterns[written]
            if pattern is not None:
                identity: tuple = ("regex", written)
                key = _Key(written, pattern=pattern)
            else:
                whole = spec.match_whole_words and not _has_unspaced_script(written)
                identity = ("plain", written, spec.case_sensitive, whole)
                folded = written.casefold()
                key = _Key(written, needle=written if spec.case_sensitive else folded,
                           word=words.setdefault(folded, len(words)), case_sensitive=spec.case_sensitive,
                           whole_words=whole)
            if identity not in key_ids:
                key_ids[identity] = len(self._keys)
                self._keys.append(key)
            return key_ids[identity]

        self._entries: list[_Entry] = []
        constant: list[int] = []
        with_regex: set[int] = set()   # a primary key is a regex: a candidate at every level
        searching: set[int] = set()    # any key is a regex: checked after the others of its level
        for spec in entries:
            if not spec.enabled:
                continue
            index = len(self._entries)
            if spec.constant:  # its keys do not matter
                self._entries.append(_Entry(spec, (), (), "AND_ANY"))
                constant.append(index)
                continue
            primary = tuple(key_id(k, spec) for k in spec.keys if k.strip())
            if not primary:
                continue
            secondary = tuple(key_id(k, spec) for k in spec.secondary_keys if k.strip())
            logic = spec.selective_logic if spec.selective_logic in SELECTIVE_LOGIC else "AND_ANY"
            self._entries.append(_Entry(spec, primary, secondary, logic))
            if any(self._keys[number].pattern is not None for number in primary + secondary):
                searching.add(index)
            for number in primary:  # secondary keys alone never trigger an entry
                key = self._keys[number]
                if key.pattern is None:
                    owners.setdefault(key.word, set()).add(index)
                else:
                    with_regex.add(index)
        self._constant = tuple(constant)
        self._with_regex = frozenset(with_regex)
        self._searching = frozenset(searching)
        self._keyed = frozenset(range(len(self._entries))) - frozenset(constant)
        self._owners = {word: tuple(sorted(indexes)) for word, indexes in owners.items()}
        self._automaton = _Automaton(list(words))

    def activate(self, texts: Sequence[str], *, seed: str = "") -> list[Fired]:
        """The entries to put in the prompt for these scanned texts, in prompt order (order, then id).

        ``seed`` identifies the turn for probability rolls. Never raises for any book or text.
        """
        return self.activation(texts, seed=seed).fired

    def activation(self, texts: Sequence[str], *, seed: str = "", deadline: float | None = None) -> Activation:
        """``activate``, stopping at ``deadline`` (``thread_time()``), with the entries it could not check.

        Constant entries fire whatever the time. Once the deadline passes, the entries of the level being
        checked that were not decided yet are skipped (all entries not fired, if it passes while a text is
        scanned) and no deeper recursion is done; an entry whose regex key timed out and that did not fire
        is skipped too.
        """
        scan = _Scan(self, deadline)
        fired: dict[int, Fired] = {}
        refused: set[int] = set()
        waiting: set[int] = set()  # primary key found, but a secondary key required by AND_ANY/AND_ALL not yet
        skipped: set[int] = set()
        newly = [index for index in self._constant if self._roll(index, seed, refused)]
        for index in newly:
            fired[index] = self._fired(index, "always on", 0)
        depth = 0
        recursion_levels = self.settings.max_recursion_depth if self.settings.recursive_scanning else 0
        try:
            touched = scan.add("\n".join(texts), None)
        except _OutOfTime:  # no entry with keys was checked
            return self._result(fired, set(self._keyed))
        while True:
            level = []
            candidates = sorted(touched | waiting | self._with_regex, key=lambda index: (index in self._searching, index))
            for position, index in enumerate(candidates):
                if index in fired or index in refused:
                    continue
                try:
                    reason = self._reason(index, scan, depth, waiting)
                except _OutOfTime:
                    skipped.update(candidates[position:])
                    recursion_levels = depth  # no deeper level
                    break
                if reason is not None and self._roll(index, seed, refused):
                    fired[index] = self._fired(index, reason, depth)
                    level.append(index)
                elif reason is None and scan.timed_out.intersection(self._entries[index].keys):
                    skipped.add(index)
            newly += level
            if depth >= recursion_levels or not newly:
                break
            depth += 1
            touched = set()
            try:
                for index in newly:
                    touched |= scan.add(self._entries[index].spec.content, index)
            except _OutOfTime:  # the deeper level is not checked at all
                skipped |= self._keyed - refused
                break
            newly = []
        return self._result(fired, skipped - refused)

    def _result(self, fired: dict[int, Fired], skipped: set[int]) -> Activation:
        kept, cut = self._within_budget(fired)
        return Activation(fired=kept, cut=cut,
                          skipped=[self._entries[index].spec for index in sorted(skipped - fired.keys())])

    def _reason(self, index: int, scan: _Scan, depth: int, waiting: set[int]) -> str | None:
        """Why the entry fires on what was scanned so far, or None if it does not.

        An entry that lacks only a secondary key under AND_ANY/AND_ALL goes to ``waiting``: recursion may bring it.
        """
        entry = self._entries[index]
        found = [(number, place) for number in entry.primary if (place := scan.where(number)) is not None]
        if not found:
            return None
        if entry.secondary:
            present = (scan.where(number) is not None for number in entry.secondary)
            if not _LOGIC[entry.logic](present):
                if entry.logic.startswith("AND"):
                    waiting.add(index)
                return None
            waiting.discard(index)
        if depth == 0:
            return f'key "{self._keys[found[0][0]].written}"'
        # The trigger came from recursion: a primary key first seen in a fired entry's content, else a secondary.
        for label, candidates in (("key", found), ("secondary key", [(n, scan.where(n)) for n in entry.secondary])):
            for number, place in candidates:
                if place is not None and scan.pieces[place].source is not None:
                    source = self._entries[scan.pieces[place].source].spec
                    title = source.comment or f"entry {source.id}"
                    return f'recursion from "{title}" ({label} "{self._keys[number].written}")'
        return "recursion"

    def _roll(self, index: int, seed: str, refused: set[int]) -> bool:
        """The entry's probability roll, deterministic per (seed, entry id); a failed roll is remembered."""
        spec = self._entries[index].spec
        if spec.probability >= 100:
            return True
        if spec.probability > 0 and random.Random(f"{seed}:{spec.id}").random() * 100 < spec.probability:
            return True
        refused.add(index)
        return False

    def _fired(self, index: int, reason: str, depth: int) -> Fired:
        spec = self._entries[index].spec
        return Fired(id=spec.id, comment=spec.comment, content=spec.content, order=spec.order, reason=reason,
                     depth=depth)

    def _within_budget(self, fired: dict[int, Fired]) -> tuple[list[Fired], list[Fired]]:
        """Most important first, as many as fit the budget (stopping at the first that does not), in prompt
        order; and the rest, the ones the budget cut, most important first (a player's tester shows them)."""
        ranked = [entry for _, entry in sorted(fired.items(), key=lambda item: (
            not self._entries[item[0]].spec.constant, -item[1].order, item[1].depth, item[1].id))]
        used = 0
        for count, entry in enumerate(ranked):
            used += approx_tokens(entry.content)
            if used > self.settings.token_budget:
                return sorted(ranked[:count], key=lambda entry: (entry.order, entry.id)), ranked[count:]
        return sorted(ranked, key=lambda entry: (entry.order, entry.id)), []


class _Scan:
    """What one activation has scanned: its pieces, and where each key asked about first occurs."""

    __slots__ = ("matcher", "deadline", "pieces", "first", "checked", "timed_out")

    def __init__(self, matcher: BookMatcher, deadline: float | None):
        self.matcher = matcher
        self.deadline = deadline
        self.pieces: list[_Piece] = []
        self.first: dict[int, int] = {}     # key id -> index of the first piece it occurs in
        self.checked: dict[int, int] = {}   # key id -> how many pieces are known not to hold it
        self.timed_out: set[int] = set()    # regex key ids that ran past REGEX_TIMEOUT on some piece

    def add(self, text: str, source: int | None) -> set[int]:
        """Scan one more piece; returns the indexes of the entries that have a plain key possibly in it."""
        folded = text.casefold()
        words = self.matcher._automaton.find(folded, self.deadline)
        self.pieces.append(_Piece(text, folded, words, source))
        owners = self.matcher._owners
        return {index for word in words for index in owners.get(word, ())}

    def where(self, number: int) -> int | None:
        """The index of the first piece the key occurs in, or None."""
        place = self.first.get(number)
        if place is not None:
            return place
        key = self.matcher._keys[number]
        for place in range(self.checked.get(number, 0), len(self.pieces)):
            piece = self.pieces[place]
            if self._searched(number, key.pattern, piece) if key.pattern is not None else _occurs(key, piece):
                self.first[number] = place
                return place
        self.checked[number] = len(self.pieces)
        return None

    def _searched(self, number: int, pattern: regex.Pattern, piece: _Piece) -> bool:
        """Whether a regex key occurs in the piece, within its timeout and the deadline (``_OutOfTime``)."""
        timeout = REGEX_TIMEOUT
        if self.deadline is not None:
            left = self.deadline - thread_time()
            if left <= 0:
                raise _OutOfTime
            timeout = min(timeout, left)
        try:
            return pattern.search(piece.text, timeout=timeout) is not None
        except TimeoutError:
            if timeout < REGEX_TIMEOUT:  # cut by the deadline, not by its own timeout
                raise _OutOfTime from None
            self.timed_out.add(number)
            return False


def _occurs(key: _Key, piece: _Piece) -> bool:
    """Whether a plain key occurs in the piece, exactly (the automaton only says which casefolded strings do)."""
    if key.word not in piece.words:
        return False
    haystack = piece.text if key.case_sensitive else piece.folded
    if key.whole_words:
        return _contains_whole_word(haystack, key.needle)
    return not key.case_sensitive or key.needle in haystack
