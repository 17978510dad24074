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

from . import OFFLINE, OFFLINE_MODEL, Completion, LLMError, LLMRequest, approximate_tokens

MOVE = re.compile(r"\b(?:(?:go|walk|run|head|travel|return|ride|climb|sail|fly|hurry|sneak)(?:s|es)?\s+(?:back\s+)?(?:to|into|toward|towards|inside)|enter(?:s)?)\s+(?:the\s+)?([\w' -]{2,40}?)(?:[.,!?]|\s+(?:and|then|to|with)\b|$)", re.I)
TAKE = re.compile(r"\b(?:take|takes|pick up|picks up|grab|grabs|steal|steals|find|finds)\s+(?:the\s+|a\s+|an\s+)?([\w' -]{2,30}?)(?:[.,!?]|\s+(?:from|and|then)\b|$)", re.I)
DROP = re.compile(r"\b(?:drop|drops|give|gives|lose|loses|throw|throws)\s+(?:away\s+)?(?:the\s+|a\s+|an\s+)?([\w' -]{2,30}?)(?:[.,!?]|\s+(?:to|and|then)\b|$)", re.I)
URGENT = re.compile(r"\b(attack|fight|run|flee|shout|strike|chase|escape|draw)\w*", re.I)
QUIET = re.compile(r"\b(look|listen|wait|rest|read|study|think|remember|ask|talk|whisper)\w*", re.I)

TONES = {
    "mystery": "hushed and watchful", "horror": "dread-soaked", "fantasy": "wondering",
    "romance": "tender", "comedy": "wry", "scifi": "cool and precise", "science fiction": "cool and precise",
    "adventure": "bold", "noir": "hard-bitten",
}
OPENINGS = [
    "{actor} {act_past}, and for a moment {place} seems to hold its breath.",
    "The moment {actor_lower} {act_past}, something in {place} shifts.",
    "{place_cap} answers {actor_lower} in its own way once {actor_lower} {act_past}.",
    "It is not a small thing: {actor_lower} {act_past}, and {place} takes notice.",
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
    "It works, though not the way {actor_lower} imagined: the attempt to {clause} sets something larger in motion.",
    "For a heartbeat nothing happens. Then the consequences of the choice to {clause} arrive all at once.",
    "The attempt to {clause} draws eyes, and not all of them are friendly.",
    "There is a price to {clause}, and {place} makes sure it is paid in full.",
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
    text = action.strip().rstrip(".!?").strip()
    text = re.sub(r"^(?:I|we|you)\s+", "", text, flags=re.I)
    return text[:1].lower() + text[1:] if text else "wait"


def _past(clause: str) -> str:
    verb, _, rest = clause.partition(" ")
    if verb.endswith("e"):
        past = verb + "d"
    elif verb.endswith("y") and len(verb) > 2 and verb[-2] not in "aeiou":
        past = verb[:-1] + "ied"
    else:
        past = verb + "ed"
    irregular = {"go": "went", "run": "ran", "take": "took", "see": "saw", "say": "said", "find": "found",
                 "give": "gave", "draw": "drew", "ride": "rode", "speak": "spoke", "tell": "told", "hold": "held",
                 "steal": "stole", "throw": "threw", "leave": "left", "sit": "sat", "stand": "stood", "get": "got",
                 "buy": "bought", "fight": "fought", "think": "thought", "climb": "climbed", "read": "read"}
    past = irregular.get(verb.lower(), past)
    return f"{past} {rest}".strip()


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
            "suggest_chapter": self._suggest_chapter,
        }
        if task not in handlers:
            raise LLMError(f"The offline narrator has no answer for a {task!r} request.")
        return handlers[task](request.payload, _rng(request))

    def _plan(self, payload: dict, rng: random.Random) -> str:
        briefing = payload["briefing"]
        action = briefing["action"]
        state = briefing.get("state", {})
        present = state.get("present_characters") or [c["name"] for c in briefing.get("characters", [])
                                                        if not c.get("is_player")][:2]
        place = state.get("location") or "the scene"
        beats = [{"description": f"The world answers the player's attempt to {_clause(action)}", "priority": "high"}]
        if present:
            beats.append({"description": f"{rng.choice(present)} reacts to what the player did", "priority": "medium"})
        beats.append({"description": f"{NOTICED} in {place}", "priority": "low"})
        # Lore the player's words called up (not the always-on entries): its first sentence is told.
        called = next((note for note in briefing.get("lore", []) if note.get("reason", "").startswith("key")), None)
        if called and called["content"].strip():
            sentence = re.split(r"(?<=[.!?。！？])\s", called["content"].strip(), maxsplit=1)[0]
            beats.insert(1, {"description": f"{RECALLED} {sentence[:300]}", "priority": "medium"})
        chapter, addressed = briefing.get("chapter"), []
        if chapter and chapter.get("tier") != "alternate":
            # The chapter is active (healed if it had to be): move it on by its next beat, the most important first.
            waiting = [beat for beat in chapter.get("beats", []) if beat["description"] not in chapter["beats_addressed"]]
            waiting.sort(key=lambda beat: ("high", "medium", "low").index(beat.get("priority", "medium")))
            if waiting:
                beats.insert(1, {"description": waiting[0]["description"], "priority": "high"})
                addressed.append(waiting[0]["description"])
        updates: dict = {}
        if match := MOVE.search(action):
            updates["location"] = match.group(1).strip().rstrip(".!?")
        if match := TAKE.search(action):
            updates["items_gained"] = [match.group(1).strip()]
        if match := DROP.search(action):
            updates["items_lost"] = [match.group(1).strip()]
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
        others = [name for name in state.get("present_characters", []) if name != player] or [
            c["name"] for c in briefing.get("characters", []) if not c.get("is_player")][:2]
        clause = _clause(briefing["action"])
        fill = {
            "actor": player, "actor_lower": player if player != "You" else "you",
            "act_past": _past(clause), "place": place, "place_cap": place[:1].upper() + place[1:],
        }
        paragraphs = [rng.choice(OPENINGS).format(**fill) + " " + rng.choice(WEATHER).format(**fill)]
        for index, beat in enumerate(template["beats"]):
            description = beat["description"].strip().rstrip(".")
            named = next((name for name in others if name.casefold() in description.casefold()), None)
            if index == 0:
                line = rng.choice(OUTCOMES).format(clause=clause, **fill)
            elif description.startswith(RECALLED):  # lore the action called up, told as it is written
                line = description[len(RECALLED):].strip()
                line = line if line.endswith((".", "!", "?", "。", "！", "？", "\"", "*")) else line + "."
            elif named:
                line = rng.choice(CHARACTER_LINES).format(name=named, mood=rng.choice(MOODS))
            elif description.startswith(NOTICED):
                line = rng.choice(DISCOVERIES).format(**fill)
            else:  # a beat some other Strategist planned: told as it was planned
                line = description[:1].upper() + description[1:] + "."
            paragraphs.append(line)
        words = sum(len(p.split()) for p in paragraphs)
        while words < template.get("target_length", 150) * 0.6:
            extra = rng.choice(WEATHER + CLOSERS).format(**fill)
            paragraphs[-1] += " " + extra
            words += len(extra.split())
        paragraphs.append(rng.choice(CLOSERS))
        return "\n\n".join(paragraphs)

    def _turn_summary(self, payload: dict, rng: random.Random) -> str:
        first = re.split(r"(?<=[.!?])\s", payload["prose"].strip(), maxsplit=1)[0]
        return f"Turn {payload['number']}: the player chose to {_clause(payload['action'])}. {first}"[:400]

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
        beats = [{"description": f"{beat['description']} (at {place})", "priority": beat.get("priority", "medium")}
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
            "suggested_beats": [{"description": f"A new way toward {chapter['title'].lower()} opens at {place}",
                                 "priority": "high"},
                                {"description": "The cost of the detour becomes clear", "priority": "medium"}],
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
            "suggested_beats": [{"description": f"{who} reveals what they have been hiding", "priority": "high"},
                                {"description": f"A choice at {place} cannot be avoided", "priority": "medium"}],
        })
