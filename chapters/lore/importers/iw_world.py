"""Infinite Worlds worlds (``iw_world``, the platform's ``world.json``, schema 2.1–2.4).

- ``loreBookEntries`` (keyword instruction blocks) become a lorebook;
- ``triggerEvents`` become chapters, one per event: ``triggerOnTurn`` → ``min_turn``,
  ``triggerPrereqs`` → ``required_previous_chapters``, ``triggerBlockers`` → ``blocked_by``
  (both the 2.4 object and the older bare list); what LUNA cannot judge as a condition (events
  the AI decides, tracked-item checks, chance, logic groups) and the trigger's effects become
  sentences of the chapter's instructions, and the whole event is kept verbatim in the chapter's
  ``source_data`` (DESIGN §4), so export writes it back unchanged;
- title, description, background, instructions and objective go onto the story; player
  characters and NPCs join the cast; tracked items become tracked values of the story's state;
- a tracked item's ``visibility`` other than ``everyone`` becomes a secret (issue #20): ``player_only`` is
  known by the player, the AI-only and hidden ones by no character (``nobody``); export writes a changed
  ``known_by`` back as the visibility; an NPC's ``secret_info`` becomes a secret that NPC knows, and a
  changed fact is written back as it.
There is no public specification: the field names follow real platform exports (see
``tests/data/SOURCES.md``).
"""

from __future__ import annotations

import copy
import json
import secrets

from ...knowledge import rules as knowledge_rules
from .document import (
    Book,
    Character,
    Entry,
    FormatError,
    LoreDocument,
    Secret,
    StoryInfo,
    Written,
    dump_json,
    keys_value,
    load_json,
    object_of,
    overlay,
    text_value,
)

NAME = "iw_world"
LABEL = "Infinite Worlds world"

STORY_FIELDS = {"title": (("title",), None), "premise": (("description",), None), "setting": (("background",), None),
                "memory": (("instructions",), None), "authors_note": (("objective",), None)}
ENTRY_FIELDS = {"keys": (("keywords",), None), "content": (("content",), None), "comment": (("name",), None)}
PC_FIELDS = {"name": (("name",), None), "description": (("description",), None)}
NPC_FIELDS = {"name": (("name",), None), "description": (("detail",), None), "personality": (("one_liner",), None)}
LISTS = ("possibleCharacters", "NPCs", "trackedItems", "triggerEvents", "loreBookEntries")
PLACEHOLDER = "__luna__"  # where a list LUNA rebuilds stood in the world, kept in the story's fields
SOURCE_KEY = "iw_trigger_event"  # the chapter's source_data key holding the event's JSON text

EFFECT_SENTENCES = {
    "effectShowMessage": "Show the player: {data}",
    "effectTellAIWhatToDo": "{data}",
    "effectGiveInfo": "Secret information for the narrator: {data}",
    "effectChangeMainInstructions": "From now on, the main instructions are: {data}",
    "effectChangeAuthorStyle": "From now on, write in this style: {data}",
    "effectChangeObjective": "The player's objective becomes: {data}",
    "effectChangeBackground": "The background becomes: {data}",
    "effectEndsGame": "The story ends here.",
}


EVERYONE_SEES = "everyone"
NPC_SECRET = "NPCs/"
PLAYER_ONLY = "player_only"


def known_by_of_visibility(visibility) -> list[str] | None:
    """A tracked item's ``visibility`` as ``known_by``; None for ``everyone`` (no secret). ``ai_only``,
    ``ai_only_boring``, ``hidden`` and ``hidden_boring`` keep it from the player: no character knows it."""
    if not isinstance(visibility, str) or visibility == EVERYONE_SEES:
        return None
    return [knowledge_rules.PLAYER] if visibility == PLAYER_ONLY else [knowledge_rules.NOBODY]


def visibility_of_known_by(known_by: list[str]) -> str | None:
    """The visibility a ``known_by`` writes back as; None when Infinite Worlds has no such visibility."""
    folded = [who.casefold() for who in known_by]
    if not folded or knowledge_rules.EVERYONE in folded:
        return EVERYONE_SEES
    if folded == [knowledge_rules.PLAYER]:
        return PLAYER_ONLY
    return "ai_only" if folded == [knowledge_rules.NOBODY] else None


def _tracked_secrets(items: list) -> list[Secret]:
    secrets = []
    for item in items:
        known_by = known_by_of_visibility(item.get("visibility")) if isinstance(item, dict) else None
        if known_by is not None and isinstance(item.get("id"), str):
            value = item.get("initialValue") if isinstance(item.get("initialValue"), str) else ""
            fact = f"{item.get('name') or item['id']}: {value or item.get('description') or ''}".strip()
            secrets.append(Secret(fact=fact[: knowledge_rules.MAX_FACT_CHARS], known_by=known_by,
                                  ref=f"trackedItems/{item['id']}"))
    return secrets


def _npc_secrets(npcs: list) -> list[Secret]:
    """An NPC's ``secret_info`` (what the platform's AI knows of the NPC and the player is not told) as a
    secret the NPC knows, until the story reveals it."""
    secrets = []
    for npc in npcs:
        if not isinstance(npc, dict) or not isinstance(npc.get("id"), str):
            continue
        info, name = npc.get("secret_info"), npc.get("name")
        if isinstance(info, str) and info.strip() and isinstance(name, str) and name.strip():
            secrets.append(Secret(fact=info.strip()[: knowledge_rules.MAX_FACT_CHARS], known_by=[name.strip()],
                                  ref=f"{NPC_SECRET}{npc['id']}"))
    return secrets


def _npc_secret_info(npcs: list, secrets: list[Secret], dropped: list[str]) -> None:
    """The world's NPCs with the ``secret_info`` each one's secret now says, where its fact changed. A secret
    told to others, revealed by a condition or deleted has no form here: the NPC keeps its own, and the
    export says so."""
    known = {secret.ref.removeprefix(NPC_SECRET): secret for secret in secrets if secret.ref.startswith(NPC_SECRET)}
    kept = 0
    for npc in npcs:
        if not isinstance(npc, dict) or not isinstance(npc.get("id"), str):
            continue
        original = _npc_secrets([npc])
        secret = known.get(npc["id"])
        if secret is None:
            kept += bool(original)
            continue
        if not original or secret.fact != original[0].fact:
            npc["secret_info"] = secret.fact
        if (not original or [who.casefold() for who in secret.known_by] != [original[0].known_by[0].casefold()]
                or secret.reveal_when):
            kept += 1
    if kept:
        dropped.append(f"{kept} NPCs' secret known_by or reveal_when (Infinite Worlds keeps an NPC's secret info "
                       "for the AI alone)")


def _tracked_visibility(items: list, secrets: list[Secret], dropped: list[str]) -> list:
    """The world's tracked items with the visibility each secret's ``known_by`` says, where it changed."""
    known = {secret.ref.removeprefix("trackedItems/"): secret.known_by for secret in secrets
             if secret.ref.startswith("trackedItems/")}
    unrepresentable = 0
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        known_by = known.get(item["id"], [])
        if (known_by_of_visibility(item.get("visibility")) or []) == known_by:
            continue
        visibility = visibility_of_known_by(known_by)
        if visibility is None:
            unrepresentable += 1
        else:
            item["visibility"] = visibility
    if unrepresentable:
        dropped.append(f"{unrepresentable} tracked items' known_by (Infinite Worlds shows an item to everyone, "
                       "the player only or the AI only)")
    return items


def detect(value) -> bool:
    return isinstance(value, dict) and any(key in value for key in ("triggerEvents", "loreBookEntries",
                                                                    "possibleCharacters", "trackedItems"))


def _list(world: dict, key: str) -> list:
    value = world.get(key) or []
    if not isinstance(value, list):
        raise FormatError("must be a list.", field_name=key)
    return value


def _entry(obj, position: int) -> Entry:
    obj = object_of(obj, "loreBookEntries", entry=position)
    uid = obj.get("id") if isinstance(obj.get("id"), str) and obj.get("id") else position
    return Entry(keys=keys_value(obj, ("keywords",), entry=uid), content=text_value(obj, ("content",), entry=uid),
                 comment=text_value(obj, ("name",), entry=uid), uid=str(uid), source_format=NAME, source_fields=obj)


def _character(obj, key: str, position: int) -> Character:
    obj = object_of(obj, key, entry=position)
    fields = PC_FIELDS if key == "possibleCharacters" else NPC_FIELDS
    values = {attribute: text_value(obj, names, entry=f"{key}[{position}]") for attribute, (names, _) in fields.items()}
    if not values["name"].strip():
        raise FormatError("the character has no name.", entry=f"{key}[{position}]", field_name="name")
    return Character(**values, is_player=key == "possibleCharacters" and position == 0, source_format=NAME,
                     source_fields=obj)


def _condition_data(condition: dict, key: str) -> list[str]:
    """Trigger ids of a prerequisite or blocker: the 2.4 object or the older bare list."""
    data = condition.get("data")
    ids = data.get(key) if isinstance(data, dict) else data
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def _chapter(event, position: int, numbers: dict[str, int]) -> dict:
    event = object_of(event, "triggerEvents", entry=position)
    where = event.get("id") or position
    title = text_value(event, ("name",), entry=where).strip() or f"Trigger {position + 1}"
    conditions, required, blocked, sentences = {}, [], [], []
    raw_conditions = event.get("triggerConditions") or []
    if not isinstance(raw_conditions, list):
        raise FormatError("must be a list.", entry=where, field_name="triggerConditions")
    if event.get("triggerOnStartOfGame"):
        sentences.append("This happens at the very start of the story.")
    for condition in raw_conditions:
        if not isinstance(condition, dict):
            raise FormatError("each condition must be a JSON object.", entry=where, field_name="triggerConditions")
        kind, data = condition.get("type"), condition.get("data")
        if condition.get("category") == "logic":  # a group: all ("and") or any ("or") of its conditions
            kind = f"{condition.get('operator', 'and')} group"
        if kind == "triggerOnTurn" and isinstance(data, (int, float, str)) and str(data).strip().isdigit():
            conditions["min_turn"] = int(str(data).strip())
        elif kind == "triggerPrereqs":
            required += [numbers[i] for i in _condition_data(condition, "prereqs") if i in numbers]
        elif kind == "triggerBlockers":
            blocked += [numbers[i] for i in _condition_data(condition, "blockers") if i in numbers]
        elif kind == "triggerOnEvent" and isinstance(data, str):
            sentences.append(f"It begins when this happens: {data}")
        else:  # judged by Infinite Worlds' AI or its variables: described, and kept verbatim
            sentences.append(f"It begins when this Infinite Worlds condition holds ({kind}): "
                             f"{json.dumps(data, ensure_ascii=False)}")
    for effect in event.get("triggerEffects") or []:
        if isinstance(effect, dict):
            template = EFFECT_SENTENCES.get(effect.get("type"))
            data = effect.get("data")
            sentences.append(template.format(data=data) if template and isinstance(data, (str, bool)) else
                             f"Effect {effect.get('type')}: {json.dumps(data, ensure_ascii=False)}")
    return {
        "number": position + 1, "title": title[:200], "description": "", "summary": "",
        "required_previous_chapters": sorted(set(required)), "blocked_by": sorted(set(blocked)),
        "trigger_conditions": conditions, "critical": ["character_present"], "suggested_beats": [],
        "allow_divergence": True, "min_similarity_threshold": 0.4, "visibility": "title", "start_early": False,
        "narrative_instructions": "\n".join(sentences),
        "source_data": {SOURCE_KEY: json.dumps(event, ensure_ascii=False)},
    }


def parse(text: str, *, name: str = "") -> LoreDocument:
    world = object_of(load_json(text, "Infinite Worlds world"), "world")
    story = StoryInfo(**{attribute: text_value(world, names) for attribute, (names, _) in STORY_FIELDS.items()},
                      source_format=NAME,
                      source_fields={key: (PLACEHOLDER if key in LISTS else value) for key, value in world.items()})
    story.opening = text_value(world, ("firstInput",))
    tracked = {}
    for position, item in enumerate(_list(world, "trackedItems")):
        item = object_of(item, "trackedItems", entry=position)
        item_name = text_value(item, ("name",), entry=item.get("id", position))
        if item_name:
            tracked[item_name] = text_value(item, ("initialValue",), entry=item.get("id", position))
    story.state = {"tracked": tracked} if tracked else {}
    story.source_fields["trackedItems"] = _list(world, "trackedItems") if "trackedItems" in world else PLACEHOLDER
    events = _list(world, "triggerEvents")
    numbers = {event["id"]: index + 1 for index, event in enumerate(events)
               if isinstance(event, dict) and isinstance(event.get("id"), str)}
    entries = [_entry(obj, index) for index, obj in enumerate(_list(world, "loreBookEntries"))]
    characters = [_character(obj, key, index) for key in ("possibleCharacters", "NPCs")
                  for index, obj in enumerate(_list(world, key))]
    books = [Book(name=f"{story.title or name or 'World'} lore", entries=entries, source_format=NAME)] if (
        "loreBookEntries" in world) else []
    return LoreDocument(books=books, characters=characters, story=story,
                        chapters=[_chapter(event, index, numbers) for index, event in enumerate(events)],
                        secrets=[*_tracked_secrets(_list(world, "trackedItems")), *_npc_secrets(_list(world, "NPCs"))])


def _new_id() -> str:
    return secrets.token_urlsafe(6)[:8]


def _event_for(chapter: dict, ids: dict[int, str]) -> dict:
    """A trigger event for a chapter written in LUNA: turn, prerequisites and blockers as
    conditions, other conditions as an event the AI judges, the instructions as guidance."""
    conditions = []
    if chapter["trigger_conditions"].get("min_turn"):
        conditions.append({"id": _new_id(), "category": "condition", "type": "triggerOnTurn",
                           "data": chapter["trigger_conditions"]["min_turn"]})
    for kind, key, numbers in (("triggerPrereqs", "prereqs", chapter["required_previous_chapters"]),
                               ("triggerBlockers", "blockers", chapter["blocked_by"])):
        if numbers:
            conditions.append({"id": _new_id(), "category": "condition", "type": kind,
                               "data": {key: [ids[n] for n in numbers if n in ids], "firedThisTurn": False}})
    others = {k: v for k, v in chapter["trigger_conditions"].items() if k != "min_turn"}
    if others:
        described = "; ".join(f"{k.replace('_', ' ')}: {v if isinstance(v, str) else ', '.join(map(str, v))}"
                              for k, v in others.items())
        conditions.append({"id": _new_id(), "category": "condition", "type": "triggerOnEvent", "data": described})
    effects = [{"id": _new_id(), "type": "effectTellAIWhatToDo", "data": chapter["narrative_instructions"]}] if (
        chapter["narrative_instructions"]) else []
    return {"id": ids[chapter["number"]], "name": chapter["title"], "triggerConditions": conditions,
            "triggerEffects": effects, "canTriggerMoreThanOnce": False}


def write(document: LoreDocument) -> Written:
    dropped = []
    story = document.story or StoryInfo()
    if story.source_format == NAME and story.source_fields:
        world = copy.deepcopy(story.source_fields)
        original = StoryInfo(**{attribute: text_value(world, names) for attribute, (names, _) in STORY_FIELDS.items()})
    else:
        world, original = {"title": "", "description": "", "background": "", "instructions": "", "objective": "",
                           "possibleCharacters": PLACEHOLDER, "NPCs": PLACEHOLDER, "trackedItems": PLACEHOLDER,
                           "triggerEvents": PLACEHOLDER, "loreBookEntries": PLACEHOLDER}, None
    overlay(world, story, original, STORY_FIELDS)
    players, npcs = [], []
    for character in document.characters:
        is_iw = character.source_format == NAME and character.source_fields
        as_player = "characterId" in character.source_fields if is_iw else character.is_player
        fields = PC_FIELDS if as_player else NPC_FIELDS
        target = copy.deepcopy(character.source_fields) if is_iw else (
            {"name": "", "description": "", "characterId": _new_id(), "skills": {}} if as_player else
            {"id": _new_id(), "name": "", "detail": "", "one_liner": "", "appearance": "", "location": "",
             "secret_info": "", "names": []})
        before = Character(**{attribute: text_value(target, names) for attribute, (names, _) in fields.items()}) if (
            is_iw) else None
        (players if as_player else npcs).append(overlay(target, character, before, fields))
    entries = []
    for position, entry in enumerate(entry for book in document.books for entry in book.entries):
        is_iw = entry.source_format == NAME and entry.source_fields
        target = copy.deepcopy(entry.source_fields) if is_iw else {"id": _new_id(), "name": "", "content": "",
                                                                   "keywords": []}
        entries.append(overlay(target, entry, _entry(copy.deepcopy(target), position) if is_iw else None,
                               ENTRY_FIELDS))
    ids = {}
    for chapter in document.chapters:
        event = _source_event(chapter)
        ids[chapter["number"]] = event.get("id") if event and isinstance(event.get("id"), str) else _new_id()
    events = []
    for chapter in document.chapters:
        event = _source_event(chapter)
        if event is None:
            events.append(_event_for(chapter, ids))
            continue
        if event.get("name") != chapter["title"] and not (not event.get("name") and chapter["title"].startswith(
                "Trigger ")):
            event["name"] = chapter["title"]
        events.append(event)
    _npc_secret_info(npcs, document.secrets, dropped)
    tracked = world.get("trackedItems")
    if isinstance(tracked, list):
        tracked = _tracked_visibility(tracked, document.secrets, dropped)
    if tracked == PLACEHOLDER:
        values = story.state.get("tracked") or {}
        tracked = [{"id": _new_id(), "name": name, "positionInList": index, "dataType": "text",
                    "visibility": "everyone", "description": "", "updateInstructions": "", "initialValue": value,
                    "initialValueBasedOnPC": "same", "autoUpdate": True} for index, (name, value) in
                   enumerate(values.items())]
    rebuilt = {"possibleCharacters": players, "NPCs": npcs, "triggerEvents": events, "loreBookEntries": entries,
               "trackedItems": tracked}
    for key, value in rebuilt.items():
        if world.get(key) == PLACEHOLDER or (key not in world and value):
            world[key] = value
    if len(document.books) > 1:
        dropped.append(f"{len(document.books)} books merged into one list of keyword blocks")
    lost = [attribute for attribute in ("secondary_keys", "constant", "probability", "case_sensitive")
            if any(getattr(e, attribute) != getattr(Entry(keys=[], content=""), attribute)
                   for book in document.books for e in book.entries)]
    if lost:
        dropped.append(f"lore entries' {', '.join(a.replace('_', ' ') for a in lost)} (Infinite Worlds has none)")
    return Written(dump_json(world), dropped)


def _source_event(chapter: dict) -> dict | None:
    text = (chapter.get("source_data") or {}).get(SOURCE_KEY)
    return json.loads(text) if isinstance(text, str) else None
