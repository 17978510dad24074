"""Built-in worlds a player can start a story from: a cast, a setting and an opening passage, and the
blurb that sells each on its card (New story, the landing page)."""

import re

STARTER_WORLDS = {
    "drowned-bell": {
        "title": "The Drowned Bell",
        "genre": "mystery",
        "premise": "On a storm-bound island, the bell of a chapel that sank a century ago has started ringing again.",
        "setting": "Gullhaven, a fishing town of slate roofs and salt-stiff nets, cut off from the mainland by the "
                   "winter storms. The old chapel lies beneath the bay; at low tide its spire breaks the water.",
        "state": {"location": "the harbour", "inventory": ["oilskin coat", "brass lantern"]},
        "characters": [
            {"name": "Wren", "is_player": True, "description": "the new lighthouse keeper, sharp-eyed and restless"},
            {"name": "Captain Hale", "description": "the harbour master, who knows more than he says",
             "personality": "gruff, protective, guilty"},
            {"name": "Orla", "description": "a diver who lost her brother to the bay", "personality": "fearless, bitter"},
        ],
        "opening": "The bell rings at dusk, three slow strokes that roll in across the water and set every dog in "
                   "Gullhaven howling. You are on the harbour wall when it starts, lantern in hand, and you see "
                   "Captain Hale stop dead on the quay, his face the colour of old sailcloth.\n\nAt the end of the "
                   "pier, Orla is already pulling on her diving boots.",
    },
    "iron-court": {
        "title": "Embers of the Iron Court",
        "genre": "fantasy",
        "premise": "An exiled heir returns in disguise to a city ruled by her father's killer.",
        "setting": "Caldris, a city of forges built into a volcano's flank, ruled from the Iron Court by the "
                   "Regent Maelor. Ash falls like snow; the guilds whisper of rebellion.",
        "state": {"location": "the Ash Gate", "inventory": ["signet ring", "travelling cloak"]},
        "characters": [
            {"name": "Seren", "is_player": True, "description": "the exiled heir, travelling as a glass-seller"},
            {"name": "Captain Voss", "description": "captain of the Ash Gate, loyal to whoever pays",
             "personality": "shrewd, tired, secretly decent"},
            {"name": "Regent Maelor", "description": "the usurper on the iron throne", "personality": "patient, cruel"},
        ],
        "opening": "The queue at the Ash Gate shuffles forward through falling cinders. Above the arch, your "
                   "father's banner has been replaced by Maelor's hammer and flame. When your turn comes, Captain "
                   "Voss looks at your wares, then at your hands, then, for a moment too long, at your face.",
    },
    "last-signal": {
        "title": "The Last Signal",
        "genre": "science fiction",
        "premise": "The relay station's crew went silent three weeks ago. You are the engineer sent to find out why.",
        "setting": "Relay Station Kestrel, a spinning ring at the edge of the system, built to pass messages "
                   "between Earth and the outer colonies. Half its lights are dark.",
        "state": {"location": "the docking ring", "inventory": ["toolkit", "sidearm"]},
        "characters": [
            {"name": "Juno", "is_player": True, "description": "systems engineer, alone on this job"},
            {"name": "ANSEL", "description": "the station's maintenance AI", "personality": "polite, evasive"},
            {"name": "Dr. Okafor", "description": "the station's last logged crew member", "personality": "unknown"},
        ],
        "opening": "The airlock cycles and the docking ring greets you with silence and the smell of burnt "
                   "wiring. A maintenance drone rolls out of the dark, stops, and speaks in a calm voice: "
                   "\"Welcome to Kestrel. I am ANSEL. I am afraid the crew cannot meet you.\"",
    },
}


# What each world's card says to a player choosing it (the premise above is what the writers' room reads).
STARTER_BLURBS = {
    "drowned-bell": "Keep the lighthouse on an island where a drowned chapel's bell has begun to ring. Who is "
                    "ringing it, and why does the harbour master look so guilty?",
    "iron-court": "Walk back into the city that killed your father, disguised as a glass-seller, and find out who "
                  "still remembers your face.",
    "last-signal": "A relay station at the edge of the system has gone silent. You are the engineer sent aboard; "
                   "only its polite AI answers.",
}

FIRST_LINES_SENTENCES = 2


def first_lines(opening: str, sentences: int = FIRST_LINES_SENTENCES) -> str:
    """The first sentences of an opening passage: a taste of it on a card."""
    first_paragraph = opening.strip().split("\n\n")[0]
    taken: list[str] = []
    for part in re.split(r"(?<=[.!?\"”])\s+(?=[A-Z“\"])", first_paragraph):
        taken.append(part)
        if len(taken) >= sentences and " ".join(taken).count('"') % 2 == 0:  # never stop inside a quotation
            break
    return " ".join(taken)


def starter_world_cards() -> list[dict]:
    """Each starter world as its card shows it: key, title, genre, blurb, who the player is, the rest of the
    cast (name and a few words), the opening's first lines and the whole opening."""
    cards = []
    for key, world in STARTER_WORLDS.items():
        player = next((person for person in world["characters"] if person.get("is_player")), None)
        cards.append({
            "key": key, "title": world["title"], "genre": world["genre"], "blurb": STARTER_BLURBS[key],
            "player": player, "cast": [person for person in world["characters"] if not person.get("is_player")],
            "first_lines": first_lines(world["opening"]), "opening": world["opening"]})
    return cards
