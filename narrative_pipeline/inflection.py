"""Just enough English verb inflection for the offline narrator and the state rules: "grab" → "grabbed" / "grabs",
"surface" → "surfaced", "carry" → "carried", "go" → "went" / "goes".

Regular rules, with a table for the common irregular verbs and for the two-syllable verbs whose last
syllable is stressed (the only ones that double: "admit" → "admitted", but "open" → "opened"). A verb
the tables do not know is inflected by the regular rules, which are right for nearly all of them.
"""

from __future__ import annotations

import re

IRREGULAR_PAST = {
    "be": "was", "become": "became", "begin": "began", "bend": "bent", "bind": "bound", "bite": "bit",
    "bleed": "bled", "blow": "blew", "break": "broke", "bring": "brought", "build": "built",
    "buy": "bought", "catch": "caught", "choose": "chose", "cling": "clung", "come": "came", "creep": "crept",
    "cut": "cut", "deal": "dealt", "dig": "dug", "do": "did", "draw": "drew", "drink": "drank",
    "drive": "drove", "eat": "ate", "fall": "fell", "feed": "fed", "feel": "felt", "fight": "fought",
    "find": "found", "flee": "fled", "fling": "flung", "fly": "flew", "forget": "forgot", "forgive": "forgave",
    "freeze": "froze", "get": "got", "give": "gave", "go": "went", "grind": "ground", "grow": "grew",
    "hang": "hung", "have": "had", "hear": "heard", "hide": "hid", "hit": "hit", "hold": "held",
    "hurt": "hurt", "keep": "kept", "kneel": "knelt", "know": "knew", "lay": "laid", "lead": "led",
    "leap": "leapt", "leave": "left", "lend": "lent", "let": "let", "lie": "lay", "light": "lit",
    "lose": "lost", "make": "made", "mean": "meant", "meet": "met", "pay": "paid", "put": "put",
    "quit": "quit", "read": "read", "ride": "rode", "ring": "rang", "rise": "rose", "run": "ran",
    "say": "said", "see": "saw", "seek": "sought", "sell": "sold", "send": "sent", "set": "set",
    "shake": "shook", "shine": "shone", "shoot": "shot", "shut": "shut", "sing": "sang",
    "sink": "sank", "sit": "sat", "sleep": "slept", "slide": "slid", "sling": "slung", "slip": "slipped",
    "speak": "spoke", "spend": "spent", "spin": "spun", "spit": "spat", "split": "split", "spread": "spread",
    "spring": "sprang", "stand": "stood", "steal": "stole", "stick": "stuck", "sting": "stung",
    "strike": "struck", "swear": "swore", "sweep": "swept", "swim": "swam", "swing": "swung", "take": "took",
    "teach": "taught", "tear": "tore", "tell": "told", "think": "thought", "throw": "threw",
    "understand": "understood", "wake": "woke", "wear": "wore", "weep": "wept", "win": "won", "wind": "wound",
    "write": "wrote", "slink": "slunk", "speed": "sped", "stride": "strode", "weave": "wove", "bear": "bore",
    "shrink": "shrank", "tread": "trod",
}
# Two-syllable verbs stressed on the last syllable: they double like one-syllable verbs.
STRESSED_LAST = {"admit", "begin", "commit", "compel", "confer", "control", "defer", "deter", "equip",
                 "expel", "forbid", "forget", "incur", "occur", "omit", "patrol", "permit", "prefer",
                 "propel", "rebel", "recur", "refer", "regret", "repel", "submit", "transfer", "unwrap"}
IRREGULAR_PRESENT = {"be": "is", "have": "has", "do": "does", "go": "goes"}
VOWELS = "aeiou"


def _doubles(verb: str) -> bool:
    """Whether the final consonant doubles before -ed: one stressed syllable ending consonant-vowel-consonant
    (grab, stop, plan), not w, x or y (show, fix, play)."""
    if len(verb) < 3 or verb[-1] in "wxy" + VOWELS or verb[-2] not in VOWELS or verb[-3] in VOWELS:
        return False
    if verb in STRESSED_LAST:
        return True
    syllables = len(re.findall(r"[aeiouy]+", verb))
    return syllables == 1


def past(verb: str) -> str:
    """The simple past of a verb given in its base form ("grab" → "grabbed")."""
    lower = verb.lower()
    if lower in IRREGULAR_PAST:
        return _same_case(verb, IRREGULAR_PAST[lower])
    if lower.endswith("e"):
        inflected = lower + "d"
    elif lower.endswith("y") and len(lower) > 1 and lower[-2] not in VOWELS:
        inflected = lower[:-1] + "ied"
    elif lower.endswith("c") and lower[-2:-1] in VOWELS and lower not in {"sync"}:
        inflected = lower + "ked"  # panic → panicked
    elif _doubles(lower):
        inflected = lower + lower[-1] + "ed"
    else:
        inflected = lower + "ed"
    return _same_case(verb, inflected)


def third_person(verb: str) -> str:
    """The present tense after he, she, it or a name ("grab" → "grabs", "reach" → "reaches")."""
    lower = verb.lower()
    if lower in IRREGULAR_PRESENT:
        inflected = IRREGULAR_PRESENT[lower]
    elif lower.endswith(("s", "sh", "ch", "x", "z", "o")):
        inflected = lower + "es"
    elif lower.endswith("y") and len(lower) > 1 and lower[-2] not in VOWELS:
        inflected = lower[:-1] + "ies"
    else:
        inflected = lower + "s"
    return _same_case(verb, inflected)


def present_participle(verb: str) -> str:
    """The -ing form of a verb given in its base form ("grab" → "grabbing", "leave" → "leaving", "tie" → "tying")."""
    lower = verb.lower()
    if lower.endswith("ie"):
        inflected = lower[:-2] + "ying"
    elif lower.endswith("e") and not lower.endswith(("ee", "ye", "oe")) and len(lower) > 2:
        inflected = lower[:-1] + "ing"
    elif lower.endswith("c") and lower[-2:-1] in VOWELS and lower not in {"sync"}:
        inflected = lower + "king"  # panic → panicking
    elif _doubles(lower):
        inflected = lower + lower[-1] + "ing"
    else:
        inflected = lower + "ing"
    return _same_case(verb, inflected)


def _same_case(original: str, inflected: str) -> str:
    return inflected[:1].upper() + inflected[1:] if original[:1].isupper() else inflected


# Common verbs besides the irregular ones: a word after "and" or "then" is inflected only if it is a verb
# this module knows ("grab the rope and pull" → "grabs the rope and pulls", never "the bread and waters").
_REGULAR_VERBS = """
accept add aim answer approach argue arrive ask attack avoid back bargain beg block borrow bow call calm carry
charge chase check circle clean climb close collect comfort count crawl cross crouch cry dance decide
defend dive drag drop duck enter escape examine explain fill fire fix follow force gasp gather glance grab
greet grin guard guide help hesitate hop hug hunt hurry ignore inspect jump kick kill kiss knock land laugh
lean lift listen lock look march mark motion move nod notice offer open order pause peek pick plan play
point pour pray press pretend promise pull push question reach refuse relax remember repeat rest return
roll rush scream search shout shove shrug sigh signal smell smile sneak sniff stare start step stop
study surface talk tap taste thank touch trace try tug turn use vanish wade wait walk wander warn wash
watch wave whisper wipe wish wonder work yell
"""
REGULAR_VERBS = set(_REGULAR_VERBS.split())
VERBS = REGULAR_VERBS | set(IRREGULAR_PAST) | STRESSED_LAST
