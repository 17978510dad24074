"""The offline narrator: deterministic, readable prose and valid plans with no network and no cost.

It reads the request's ``payload`` (the same data the prompt carries) and writes from the
story's own names. The same request gives the same answer; a reroll asks with another
``attempt`` and gets another passage.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator

from chapters.beat_confirmation import passage_carries
from chapters.knowledge.rules import learned_from_passage
from chapters.lore.macros import macros_filled

from ..inflection import VERBS, past, third_person
from ..state_extraction import Scene, companions_in, state_change
from . import OFFLINE, OFFLINE_MODEL, Completion, LLMError, LLMRequest, approximate_tokens

URGENT = re.compile(r"\b(attack|fight|run|flee|shout|strike|chase|escape|draw)\w*", re.I)
QUIET = re.compile(r"\b(look|listen|wait|rest|read|study|think|remember|ask|talk|whisper)\w*", re.I)

TONES = {
    "mystery": "hushed and watchful", "horror": "dread-soaked", "fantasy": "wondering",
    "romance": "tender", "comedy": "wry", "scifi": "cool and precise", "science fiction": "cool and precise",
    "adventure": "bold", "noir": "hard-bitten",
}
OPENINGS = [  # {act}: the player's action in the present tense, about {actor} ("Ada grabs the rope")
    "{act_cap}, and for a moment {place} seems to hold its breath.",
    "The moment {act}, something in {place} shifts.",
    "{place_cap} answers in its own way once {act}.",
    "It is not a small thing: {act}, and {place} takes notice.",
]
PLAIN_OPENINGS = [  # for an action that is not a plain "I <verb> …" sentence: never pasted as it was typed
    "It is done, and for a moment {place} seems to hold its breath.",
    "No sooner is the choice made than something in {place} shifts.",
    "{place_cap} answers in its own way.",
    "It is not a small thing, and {place} takes notice.",
]
WEATHER = [
    "Light slants across {place}, catching dust that drifts like slow snow.",
    "Somewhere beyond {place} a bell tolls twice and falls silent.",
    "The air in {place} smells of rain that has not yet decided to fall.",
    "Shadows pool in the corners of {place}, deeper than they ought to be.",
    "A cold draught threads through {place}, carrying a voice too faint to place.",
]
CHARACTER_LINES = [
    "{name} watches closely, weighing every word before answering.",
    "{name} steps nearer, {mood} written plainly across their face.",
    "\"You should not have done that,\" {name} says quietly, though there is no anger in it.",
    "{name} laughs, short and surprised, and the tension breaks a little.",
    "{name} says nothing at first; then, with a glance over the shoulder, beckons.",
]
NOTICED = "Something new is noticed"
RECALLED = "What the world knows:"  # a beat carrying a lore entry the action called up
MOODS = ["curiosity", "worry", "resolve", "suspicion", "relief", "quiet amusement"]
OUTCOMES = [
    "It works, though not quite as hoped, and it sets something larger in motion.",
    "For a heartbeat nothing happens. Then the consequences arrive all at once.",
    "It draws eyes, and not all of them are friendly.",
    "There is a price for it, and {place} makes sure it is paid in full.",
]
DISCOVERIES = [
    "In {place}, something that was not there before catches the light: a mark scratched fresh into the stone.",
    "A detail in {place} no longer fits: a door ajar that was shut, a lamp burning that was cold.",
    "Half-hidden in {place} lies a scrap of paper, the ink still wet on a single unfinished word.",
    "Footprints cross {place}, too small for a grown man and too deep for a child.",
]
CLOSERS = [
    "Whatever comes next, it will not wait for long.",
    "The path ahead narrows, and choosing it will cost something.",
    "A question hangs in the air, unanswered for now.",
    "Far off, something that has been sleeping begins to stir.",
]


def _rng(request: LLMRequest) -> random.Random:
    digest = hashlib.sha256(json.dumps([request.agent, request.payload], sort_keys=True, default=str).encode())
    return random.Random(int.from_bytes(digest.digest()[:8], "big"))


def _clause(action: str) -> str:
    """'I open the door.' -> 'open the door' (the action as a clause about the actor)."""
    text = _plain(action).strip().rstrip(".!?").strip()
    text = re.sub(r"^(?:I|we|you)\s+", "", text, flags=re.I)
    return text[:1].lower() + text[1:] if text else "wait"


CARD_MACRO = re.compile(r"\{\{[^{}]*\}\}")


def _plain(text: str, *, user: str = "you", char: str = "them") -> str:
    """Character-card syntax rendered: {{user}} and {{char}} become names, other macros and *emphasis* marks go."""
    text = macros_filled(text, user=user, char=char)
    text = CARD_MACRO.sub("", text).replace("*", "")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


PERSON = {  # the player's words about themselves, told about them
    "you": {"my": "your", "me": "you", "myself": "yourself", "mine": "yours"},
    "name": {"my": "their", "me": "them", "myself": "themself", "mine": "theirs"},
}
NOT_TOLD = {"i", "we", "us", "our", "am", "can", "cannot", "can't", "will", "won't", "would", "should", "must",
            "could", "might", "may", "shall", "don't", "didn't", "was", "were", "is", "are", "has", "had"}


def _phrase(action: str, *, verb_form, person: dict[str, str], card: dict[str, str] | None = None) -> str | None:
    """The action's first sentence as a verb phrase, each verb inflected by ``verb_form`` ("I grab the rope
    and pull" → "grabs the rope and pulls"), or None when it is not a plain "I <verb> …" sentence (dialogue,
    a question, a long paragraph): the narrator then does not repeat it."""
    sentence = re.split(r"[.!?;:\n]", _plain(action, **(card or {})), maxsplit=1)[0].strip()
    if not sentence or re.search(r"[\"“”«»()\[\]]", sentence):
        return None
    words = sentence.split()
    if words[0].lower() in ("i", "we"):
        words = words[1:]
    elif words[0].lower() not in VERBS:
        return None
    if not words or len(words) > 14:
        return None
    verb_at = 1 if len(words) > 1 and words[0].lower().endswith("ly") else 0
    told, expect_verb = [], True
    for index, word in enumerate(words):
        bare = word.rstrip(",").lower()
        if bare in NOT_TOLD or not re.fullmatch(r"[\w'-]+,?", word):
            return None
        if index == verb_at or (expect_verb and bare in VERBS and index > verb_at):
            if index == verb_at and not bare.isalpha():
                return None
            word = verb_form(bare) + ("," if word.endswith(",") else "")
        elif bare in person:
            word = person[bare] + ("," if word.endswith(",") else "")
        told.append(word)
        expect_verb = bare in ("and", "then") or word.endswith(",")
    return " ".join(told)


def _change(briefing: dict):
    """What the action changes in the state, read by the same rules the turn's commit applies."""
    state, characters = briefing.get("state", {}), briefing.get("characters", [])
    player = next((c["name"] for c in characters if c.get("is_player")), None)
    scene = Scene(location=state.get("location", ""), present=tuple(state.get("present_characters", [])),
                  inventory=tuple(state.get("inventory", [])), player=player,
                  companions=companions_in(state.get("flags", [])),
                  cast=tuple(c["name"] for c in characters if not c.get("is_player")))
    return state_change(briefing["action"], scene=scene)


def _present_after(briefing: dict, change) -> list[str]:
    """Who is in the scene once the action is done; with nobody there, two of the cast may step in, but never
    one the action just left behind."""
    present = [name for name in briefing.get("state", {}).get("present_characters", []) if name not in change.leaving]
    present += [name for name in change.entering if name not in present]
    return present or [c["name"] for c in briefing.get("characters", [])
                       if not c.get("is_player") and c["name"] not in change.leaving][:2]


class OfflineProvider:
    name = OFFLINE

    def __init__(self, model: str = OFFLINE_MODEL):
        self.model = model or OFFLINE_MODEL

    def complete(self, request: LLMRequest) -> Completion:
        text = self._answer(request)
        prompt = "\n".join(str(message.get("content", "")) for message in request.messages)
        return Completion(text=text, prompt_tokens=approximate_tokens(prompt),
                          completion_tokens=approximate_tokens(text), provider=self.name, model=self.model)

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        completion = self.complete(request)
        yield from re.findall(r"\S+\s*", completion.text)
        yield completion

    # -- the narrator ------------------------------------------------------------------

    def _answer(self, request: LLMRequest) -> str:
        task = request.payload.get("task")
        handlers = {
            "plan": self._plan, "write": self._write, "turn_summary": self._turn_summary,
            "arc_summary": self._arc_summary, "character_snapshot": self._character_snapshot,
            "adapt_chapter": self._adapt_chapter, "alternate_chapter": self._alternate_chapter,
            "suggest_chapter": self._suggest_chapter, "beats_carried": self._beats_carried,
            "knowledge_learned": self._knowledge_learned,
        }
        if task not in handlers:
            raise LLMError(f"The offline narrator has no answer for a {task!r} request.")
        return handlers[task](request.payload, _rng(request))

    def _plan(self, payload: dict, rng: random.Random) -> str:
        briefing = payload["briefing"]
        action = briefing["action"]
        state = briefing.get("state", {})
        change = _change(briefing)
        present = _present_after(briefing, change)
        place = change.location or state.get("location") or "the scene"
        beats = [{"beat": f"The world answers the player's attempt to {_clause(action)}", "priority": "high"}]
        if present:
            beats.append({"beat": f"{rng.choice(present)} reacts to what the player did", "priority": "medium"})
        beats.append({"beat": f"{NOTICED} in {place}", "priority": "low"})
        # Lore the player's words called up (not the always-on entries): its first sentence is told.
        called = next((note for note in briefing.get("lore", []) if note.get("reason", "").startswith("key")), None)
        if called and called["content"].strip():
            sentence = re.split(r"(?<=[.!?。！？])\s", called["content"].strip(), maxsplit=1)[0]
            beats.insert(1, {"beat": f"{RECALLED} {sentence[:300]}", "priority": "medium"})
        chapter, addressed = briefing.get("chapter"), []
        if chapter and chapter.get("nudge"):  # the healing ladder's hook: the chapter comes toward the player
            beats.insert(1, {"beat": chapter["nudge"].rstrip("."), "priority": "high"})
        if chapter and chapter.get("status", "active") == "active" and chapter.get("tier") != "alternate":
            # The chapter is active (healed if it had to be): move it on by one beat a turn, the next in the
            # author's order not yet told, so a chapter spans as many turns as it has beats.
            waiting = [beat for beat in chapter.get("beats", []) if beat["beat"] not in chapter["beats_addressed"]]
            if waiting:
                beats.insert(1, {"beat": waiting[0]["beat"], "priority": "high"})
                addressed.append(waiting[0]["beat"])
        updates = {key: value for key, value in {
            "location": change.location, "items_gained": change.items_gained, "items_lost": change.items_lost,
            "characters_entering": change.entering, "characters_leaving": change.leaving}.items() if value}
        pacing = "urgent" if URGENT.search(action) else "slow" if QUIET.search(action) else "measured"
        genre = (briefing.get("genre") or "").lower()
        plan = {
            "beats": beats,
            "tone": TONES.get(genre, rng.choice(["steady", "tense", "wistful", "curious"])),
            "pacing": pacing,
            "target_length": rng.choice([120, 150, 180, 220]),
            "state_updates": updates,
            "chapter_beats_addressed": addressed,
        }
        return json.dumps(plan)

    def _write(self, payload: dict, rng: random.Random) -> str:
        template, briefing = payload["template"], payload["briefing"]
        state = briefing.get("state", {})
        place = (template.get("state_updates") or {}).get("location") or state.get("location") or "the room"
        player = next((c["name"] for c in briefing.get("characters", []) if c.get("is_player")), "You")
        others = [name for name in _present_after(briefing, _change(briefing)) if name != player]
        card = {"user": player if player != "You" else "you", "char": others[0] if others else "the stranger"}
        if player == "You":
            act = _phrase(briefing["action"], verb_form=str, person=PERSON["you"], card=card)
            act = act and f"you {act}"
        else:
            act = _phrase(briefing["action"], verb_form=third_person, person=PERSON["name"], card=card)
            act = act and f"{player} {act}"
        fill = {"act": act or "", "act_cap": (act or "")[:1].upper() + (act or "")[1:], "place": place,
                "place_cap": place[:1].upper() + place[1:]}
        chapter_beats = {beat["beat"] for beat in (briefing.get("chapter") or {}).get("beats", [])}
        told: set[str] = set()

        def tell(choices: list[str], **extra) -> str:
            """A line from ``choices`` the passage has not told yet ("" when all are told)."""
            fresh = [line for line in (choice.format(**fill, **extra) for choice in choices) if line not in told]
            line = rng.choice(fresh) if fresh else ""
            told.add(line)
            return line

        paragraphs = [tell(OPENINGS if act else PLAIN_OPENINGS) + " " + tell(WEATHER)]
        for index, beat in enumerate(template["beats"]):
            planned = _plain(beat["beat"], **card).rstrip(".")
            named = next((name for name in others if name.casefold() in planned.casefold()), None)
            if index == 0:
                line = tell(OUTCOMES)
            elif named and not planned.startswith(RECALLED) and beat["beat"] not in chapter_beats:
                line = tell(CHARACTER_LINES, name=named, mood=rng.choice(MOODS))
            elif planned.startswith(NOTICED):
                line = tell(DISCOVERIES)
            else:
                if planned.startswith(RECALLED):  # lore the action called up, told as it is written
                    line = planned[len(RECALLED):].strip()
                    line = line if line.endswith((".", "!", "?", "。", "！", "？", "\"")) else line + "."
                else:  # a chapter's beat, or one some other Strategist planned: told as it was planned
                    line = planned[:1].upper() + planned[1:] + "."
                line = "" if line in told else line
                told.add(line)
            if line:
                paragraphs.append(line)
        words = sum(len(p.split()) for p in paragraphs)
        while words < template.get("target_length", 150) * 0.6 and (extra := tell(WEATHER + CLOSERS)):
            paragraphs[-1] += " " + extra
            words += len(extra.split())
        if closer := tell(CLOSERS):
            paragraphs.append(closer)
        return "\n\n".join(paragraphs)

    def _turn_summary(self, payload: dict, rng: random.Random) -> str:
        first = re.split(r"(?<=[.!?])\s", payload["prose"].strip(), maxsplit=1)[0]
        act = _phrase(payload["action"], verb_form=past, person=PERSON["name"])
        return (f"Turn {payload['number']}: the player {act}. {first}" if act
                else f"Turn {payload['number']}: {first}")[:400]

    def _beats_carried(self, payload: dict, rng: random.Random) -> str:
        """Read from the passage, never from the plan: a beat counts when the prose tells it."""
        return json.dumps({"carried": [beat["number"] for beat in payload["beats"]
                                       if passage_carries(beat["beat"], payload["passage"])]})

    def _knowledge_learned(self, payload: dict, rng: random.Random) -> str:
        """Who learned what, by the deterministic rule (chapters.knowledge.rules.learned_from_passage)."""
        pairs = learned_from_passage(payload["passage"], payload["present"], payload["secrets"])
        return json.dumps({"learned": [{"character": who, "fact": fact} for who, fact in pairs]})

    def _arc_summary(self, payload: dict, rng: random.Random) -> str:
        pieces = [re.sub(r"^Turn \d+: ", "", summary).split(". ")[0] for summary in payload["summaries"]]
        previous = payload.get("previous", "")
        earlier = (previous[:420].rsplit(" ", 1)[0] + "… ") if previous else ""
        return f"{earlier}Turns {payload['first']}–{payload['last']}: {'; '.join(pieces)}."[:900]

    def _character_snapshot(self, payload: dict, rng: random.Random) -> str:
        mention = payload["mentions"][-1] if payload["mentions"] else ""
        return f"{payload['name']} as of turn {payload['number']}: {mention}"[:400]

    def _adapt_chapter(self, payload: dict, rng: random.Random) -> str:
        chapter, state = payload["chapter"], payload["state"]
        place = state.get("location") or "wherever the story now stands"
        people = ", ".join(state.get("present_characters", [])) or "whoever is at hand"
        goal = chapter.get("summary") or chapter["title"]
        instructions = (f"The story took another road. Bring about the heart of “{chapter['title']}” here instead: "
                        f"{goal} It now happens at {place}, with {people}. "
                        f"Keep what the chapter was for; change only where and how.")
        beats = [{"beat": f"{beat['beat']} (at {place})", "priority": beat.get("priority", "medium")}
                 for beat in chapter.get("beats", [])]
        return json.dumps({"narrative_instructions": instructions, "suggested_beats": beats})

    def _alternate_chapter(self, payload: dict, rng: random.Random) -> str:
        chapter, state = payload["chapter"], payload["state"]
        place = state.get("location") or "a new place"
        goal = chapter.get("summary") or chapter["title"]
        road = rng.choice(["Another Road", "The Long Way Round", "A Different Door", "What Was Left"])
        return json.dumps({
            "title": f"{chapter['title']}: {road}",
            "narrative_instructions": f"What “{chapter['title']}” set out to do cannot happen as written. Reach the "
                                      f"same end by another road, starting from {place}: {goal}",
            "suggested_beats": [{"beat": f"A new way toward {chapter['title'].lower()} opens at {place}",
                                 "priority": "high"},
                                {"beat": "The cost of the detour becomes clear", "priority": "medium"}],
        })

    def _suggest_chapter(self, payload: dict, rng: random.Random) -> str:
        state = payload["state"]
        place = state.get("location") or "the road ahead"
        people = state.get("present_characters", [])
        who = people[0] if people else "a stranger"
        title = rng.choice([f"The Secret of {place[:1].upper() + place[1:]}", f"{who}'s Bargain",
                            f"Nightfall at {place}", f"What {who} Knows"])
        return json.dumps({
            "title": title,
            "summary": f"The story seems ready for a chapter about {who} and what waits at {place}.",
            "narrative_instructions": f"Build on what has happened so far: bring {who} to a choice at {place} "
                                      f"that the player cannot put off.",
            "suggested_beats": [{"beat": f"{who} reveals what they have been hiding", "priority": "high"},
                                {"beat": f"A choice at {place} cannot be avoided", "priority": "medium"}],
        })
