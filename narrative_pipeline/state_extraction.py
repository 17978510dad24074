"""What a turn changes in the story's state, read deterministically from the player's action (DESIGN §3).

Three rules, each about one field, all plain regular expressions over the action's clauses (a clause
ends at punctuation, "and", "then", and before "while/as/before/after … I"; a clause that is negated, a
wish, a question or someone else's doing changes nothing):

- **Items** come only from verbs of getting (take, grab, pick up, buy, receive, pocket, stash, find, steal,
  "X gives me", "I am handed", "X presses … into my hand / tosses … to me" …; what is looted is where things
  come from, not a thing) and are lost only through verbs of parting (drop, give, sell, lose, throw away,
  use up, eat, "pay … with", "trade/spend X for/on Y", "buy Y with X" …; a loss counts only for something the
  inventory holds; a bare drink bought is drunk on the spot). The object is cut
  at the first preposition, conjunction or subordinator ("before", "while", "to", "with", "that" …),
  loses its determiners and price/quality words ("a cheap fishing rod" → "fishing rod"), and is refused
  when it is not a thing: a person (a known name, a pronoun, a title), a body part, scenery held on to,
  or an abstract noun ("a look", "a breath", "my way").
- **Location** comes only from verbs of movement (walk, go, head, run, sail, climb, ride, return, push,
  weave … to/into/toward/onto/along/through/upstairs to…, past what is crossed on the way: "through the crowd
  toward the stage", "cross the square to", "hurry after Hakim toward"; "make my way to", "leave for", "arrive
  at", "enter", "reach", "climb the bell tower" but not "climb the ladder"; "to" + a verb is a purpose). A place the
  story knows (a chapter's location, the current one) keeps its own spelling; a new one keeps the
  words the player wrote ("the docks").
- **Presence**: a known character the player acts on or with (or receives something from) is present, not one
  who only does something of their own ("Tamsin runs to the stables"); "X arrives / walks in / joins"
  (in the action or the passage) brings them in, "X leaves / I leave X behind / I send X away" takes
  them out ("he", "she", "they" being the character named last in that sentence or the one before);
  when the player moves somewhere new, the characters who were there stay behind unless they come along
  ("with Orla", "Orla follows", "we …"). Who came along on a move, or was asked to ("I ask
  Orla to come with me"), is a companion (a ``companion:<name>`` flag) and follows every move until they
  leave or are left behind.

No database and no model: the same action, state and passage always give the same change.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field

from .inflection import past, present_participle, third_person


# The rules build their patterns from the scene's names, more than the re module's own cache keeps: compiled once each.
@functools.lru_cache(maxsize=16384)
def _compiled(pattern: str, flags: int) -> re.Pattern:
    return re.compile(pattern, flags)


def _search(pattern: str, string: str, flags: int = 0) -> re.Match | None:
    return _compiled(pattern, flags).search(string)


def _match(pattern: str, string: str, flags: int = 0) -> re.Match | None:
    return _compiled(pattern, flags).match(string)


def _fullmatch(pattern: str, string: str, flags: int = 0) -> re.Match | None:
    return _compiled(pattern, flags).fullmatch(string)


def _finditer(pattern: str, string: str, flags: int = 0):
    return _compiled(pattern, flags).finditer(string)


def _findall(pattern: str, string: str, flags: int = 0) -> list:
    return _compiled(pattern, flags).findall(string)


def _split(pattern: str, string: str, maxsplit: int = 0, flags: int = 0) -> list[str]:
    return _compiled(pattern, flags).split(string, maxsplit)


def _sub(pattern: str, repl, string: str, count: int = 0, flags: int = 0) -> str:
    return _compiled(pattern, flags).sub(repl, string, count)


# Where a noun phrase ends: prepositions, conjunctions, subordinators, and the next verb's particles.
PHRASE_STOPS = {
    "and", "or", "but", "then", "before", "after", "while", "when", "whilst", "as", "because", "so", "until",
    "if", "though", "although", "unless", "once", "to", "with", "without", "that", "which", "who", "whom",
    "where", "from", "for", "at", "in", "into", "on", "onto", "off", "by", "behind", "under", "over",
    "near", "beside", "toward", "towards", "through", "across", "along", "up", "down", "out", "around",
    "against", "inside", "outside", "between", "past", "like", "than", "instead", "again", "back", "away",
    "here", "there", "now", "quickly", "slowly", "carefully", "quietly", "too", "also", "tomorrow", "tonight",
    "today", "later", "soon", "yesterday", "somewhere", "anywhere", "everywhere", "nowhere",
    "overboard", "ashore", "aboard", "aside", "below", "upstairs", "downstairs", "abroad",
    "bc", "cuz", "cos", "coz", "since", "yet", "already", "still", "anymore", "right", "just", "shortly",
    "among", "amongst", "amid", "amidst", "above", "beneath", "underneath", "atop", "within", "beyond", "upon", "throughout",
    "together", "alone", "afterwards", "afterward", "immediately", "first", "anyway", "fast",
    # a subject pronoun starts a relative clause: "the key I find in the drawer"
    "i", "he", "she", "we", "they", "you", "somebody", "someone", "anyone", "nobody",
}
PARTICLES = {"up", "out", "off", "down", "away", "over", "in", "on", "back"}
PREPOSITIONS = {"on", "in", "at", "of", "for", "from", "with", "by", "about", "into", "onto", "over", "under", "through",
                "across", "behind", "between", "near", "beside", "among", "above", "below", "beneath", "upon", "within",
                "without", "toward", "towards", "around", "against", "past", "like"}
DETERMINERS = {"a", "an", "the", "some", "any", "my", "our", "your", "his", "her", "their", "its", "this",
               "that", "these", "those", "one", "two", "three", "four", "five", "few", "several", "another",
               "each", "every", "all", "both", "many", "more", "much", "extra", "whole", "entire",
               "remaining"}
# Words about price or worth, not about the thing: dropped so one thing has one name.
WORTH_WORDS = {"cheap", "expensive", "pricey", "costly", "nice", "fine", "good", "decent", "shoddy", "new",
               "cheapest", "best", "overpriced", "bargain", "second-hand", "secondhand"}
PRONOUNS = {"i", "me", "myself", "you", "yourself", "yourselves", "ourselves", "he", "him", "himself", "she", "her", "herself", "it", "itself",
            "we", "us", "they", "them", "themselves", "someone", "somebody", "anyone", "everyone", "nobody",
            "something", "anything", "everything", "nothing", "one", "everybody", "what", "whatever"}
PERSON_NOUNS = {
    "man", "woman", "men", "women", "boy", "girl", "child", "children", "kid", "baby", "person", "people",
    "guard", "guards", "captain", "soldier", "sailor", "merchant", "stranger", "friend", "innkeeper",
    "barkeep", "bartender", "priest", "king", "queen", "prince", "princess", "lord", "lady", "sir", "madam",
    "mother", "father", "brother", "sister", "wife", "husband", "son", "daughter", "thief", "beggar", "crowd",
    "doctor", "officer", "knight", "wizard", "witch", "mage", "monk", "nun", "servant", "master", "mistress",
    "fisherman", "fishermen", "shopkeeper", "vendor", "trader", "pilot", "commander", "sergeant", "lieutenant",
    "old", "elder", "companion", "ally", "enemy", "foe", "dog", "cat", "horse",
}
BODY_PARTS = {
    "arm", "arms", "hand", "hands", "wrist", "wrists", "shoulder", "shoulders", "leg", "legs", "foot", "feet",
    "head", "hair", "face", "neck", "throat", "finger", "fingers", "elbow", "elbows", "knee", "knees", "chin",
    "jaw", "ear", "ears", "nose", "cheek", "lips", "mouth", "chest", "waist", "back", "ankle", "ankles",
    "palm", "fist", "collar", "sleeve", "sleeves", "cloak-hem", "hem", "heart", "eyes", "eye", "body", "thumb",
    "wound", "wounds", "injury", "injuries", "bruise", "bruises", "gash", "scar", "skin", "forehead", "brow", "shin",
    "hip", "belly", "stomach", "ribs", "pulse",
}
# How a thing ends up after the verb, not part of its name: "shake a coconut loose", "kick the door shut".
RESULTS = {"loose", "open", "shut", "clean", "apart", "free", "tight", "flat", "dry", "closed", "awake", "straight"}
# Nouns that end like a past participle ("a steed", not "a key taped under the desk").
ED_NOUNS = {"steed", "creed", "breed", "speed", "tweed", "greed", "hundred", "seabed", "riverbed", "flowerbed",
            "seaweed", "tumbleweed", "woodshed", "homestead", "bobsled", "birdseed", "linseed", "hayseed"}
# Participles that do not end in -ed, which after a noun start a clause too: "a roll of film hidden under the pew".
IRREGULAR_PARTICIPLES = {"hidden", "stolen", "forgotten", "fallen", "frozen", "hewn", "sewn", "woven", "written", "given",
                         "shaken", "beaten", "bitten", "chosen", "eaten", "forbidden", "ridden", "spoken", "torn", "worn",
                         "thrown", "blown", "drawn", "grown", "known", "shown", "strewn", "stuck", "hung", "laid",
                         "found", "held", "caught", "spun", "slung", "bought", "sold", "brought",
                         "built", "sent", "lent", "kept", "tucked"}
# Nouns that end like a participle ("the lantern hanging by the door" ends at "hanging"; "a signet ring" does not).
ING_NOUNS = {"ring", "earring", "string", "wing", "sling", "thing", "ceiling", "building", "clothing", "painting",
             "drawing", "stocking", "bedding", "pudding", "lining", "carving", "offering", "binding", "writing",
             "wedding", "king", "spring", "bearing", "herring", "icing", "fishing", "sewing", "kindling", "stuffing"}
# What is held on to, not carried off.
SCENERY = {"railing", "rail", "rails", "door", "doorframe", "wall", "walls", "ledge", "edge", "handle", "helm",
           "wheel", "mast", "table", "floor", "ground", "banister", "bannister", "tree", "branch", "rope-ladder",
           "ladder", "rigging", "counter", "post", "pillar", "gate", "window", "shore", "water", "air"}
# Nouns that follow "take/get/find/make" without being things ("take a look", "find my way").
NOT_THINGS = {"look", "glance", "peek", "breath", "breaths", "step", "steps", "seat", "moment", "chance", "turn",
              "rest", "nap", "walk", "stroll", "bath", "aim", "cover", "notice", "care", "time", "place",
              "part", "stock", "sip", "swig", "bite", "way", "courage", "heart", "hold", "advantage", "offence",
              "offense", "comfort", "pity", "charge", "lead", "leave", "pause", "risk", "shelter", "refuge",
              "revenge", "thoughts", "bearings", "chances", "lesson", "promise", "deal", "oath", "vow",
              "ready", "up", "out", "off", "away", "back", "down", "over", "closer", "nearer", "angry", "lost",
              "free", "dressed", "going", "moving", "started", "sleep", "drink", "break", "shot",
              "interest", "idea", "answer", "answers", "plan", "solution", "scheme", "lock", "locks", "fight", "quarrel", "winner",
              "target", "teeth", "practice", "exercise", "training", "nerve", "will", "resolve", "energy", "words",
              "patience", "motivation", "news", "word", "sense", "feeling", "glimpse", "sight",
              "pace", "speed", "slack", "trail", "scent", "advice", "counsel", "point", "side", "offer",
              "suggestion", "round", "rounds", "orders", "order", "warning", "measure", "lift", "elevator", "train", "tram", "bus",
              "shuttle", "stairs", "staircase", "escalator", "cab", "coach", "carriage", "tube"}
# What "take/have a …" says without a thing, but with "of" measures one out: "a shot of rye", "a swig of water".
MEASURES = {"shot", "sip", "swig", "bite", "drink", "wheel", "measure", "drop", "dash", "pinch", "slice", "piece"}
# What an "of" makes abstract: "the thread of the conversation", "the gist of the story".
TALK = {"conversation", "discussion", "story", "argument", "tale", "plot", "talk", "debate", "song", "tune", "melody",
        "joke", "matter", "situation", "problem", "speech", "lecture", "sermon", "negotiations", "proceedings"}
TIME_SPANS = {"ages", "age", "while", "week", "weeks", "day", "days", "hour", "hours", "month", "months", "year", "years", "minute", "minutes",
              "night", "nights", "lifetime", "moment", "second", "seconds", "evening", "morning", "afternoon"}
# Two words that name a thing though the last alone would not: "an energy drink", "a sports drink".
COMPOUND_THINGS = {"energy drink", "sports drink", "soft drink", "fizzy drink", "protein shake", "power bar",
                   "breath mint", "cough drop", "hip flask", "name tag", "hand mirror", "hand axe", "hand drill"}
# What one is given that is a gesture, a favour or a feeling ("Mabel gives me a wink"); only as the last word,
# since as the first it may describe a thing ("a wave pattern").
GESTURES = {"wink", "nod", "smile", "grin", "smirk", "hug", "kiss", "shrug", "wave", "slap", "kick", "shove",
            "nudge", "frown", "glare", "stare", "scowl", "sneer", "salute", "curtsy", "hint", "ride", "call",
            "shout", "earful", "talking-to", "lecture", "tour", "compliment", "apology", "excuse", "reason",
            "squeeze", "boost", "leg-up", "heads-up", "thumbs-up", "once-over", "laugh", "chuckle", "sigh",
            "blessing", "kindness", "favour", "favor", "job", "task", "mission", "quest", "punishment", "scolding",
            "fright", "scare", "start", "headache", "fever", "thrashing", "beating", "wits", "strength",
            "permission", "discount", "refund", "welcome", "thanks", "attention", "directions", "side-eye", "eye",
            "stink-eye", "brush-off", "runaround", "finger", "bird", "creeps", "willies", "all-clear", "go-ahead",
            "treatment", "benefit", "chills", "shivers", "lowdown", "rundown", "visit", "price", "story", "secret", "bump",
            "high-five", "five", "peck", "name", "names", "info", "information", "address", "tip-off", "intel", "rumour",
            "rumor", "gossip", "password",
            "joke", "tale", "riddle", "song", "lie", "question", "glance"}
# A drink bought without a vessel or a serving is drunk where it is bought ("spend my coins on ale", "rum and
# bread"); "a bottle of ale" and "a coffee" (a cup of it) are carried off.
DRUNK_ON_THE_SPOT = {"ale", "beer", "mead", "cider", "wine", "grog", "rum", "whisky", "whiskey", "tea", "coffee",
                     "stout", "lager", "drinks", "brandy", "gin", "vodka", "sake"}
# What is paid for is used where it is paid for: a meal, a service ("pay for the gas", "a room for the night").
USED_ON_THE_SPOT = {"gas", "fuel", "petrol", "diesel", "meal", "meals", "dinner", "lunch", "breakfast", "supper",
                    "brunch", "room", "rooms", "fare", "fares", "passage", "lodging", "lodgings", "haircut", "shave",
                    "bath", "repairs", "repair", "toll", "admission", "entry", "stay", "night"}
# Words that make a person-noun a thing: "a hot dog", "a toy soldier", "a wooden horse".
THING_MAKERS = {"toy", "wooden", "stuffed", "clay", "stone", "tin", "rocking", "paper", "plastic", "glass", "iron",
                "brass", "jade", "carved", "hot", "corn", "chili", "gingerbread", "jelly", "porcelain", "china",
                "silver", "golden", "gold", "bronze", "ivory", "wax", "straw", "rag", "lead", "chocolate", "sugar"}
# What one goes through to search it, not a place: "I go through the victim's handbag".
BELONGINGS = {"handbag", "bag", "pockets", "pocket", "wallet", "purse", "desk", "drawer", "drawers", "files", "papers",
              "belongings", "things", "stuff", "luggage", "suitcase", "locker", "pack", "backpack", "satchel", "notes",
              "records", "mail", "post", "letters", "inventory", "kit", "gear"}
# Places one goes to with no article: "to school", "home", "to market".
BARE_PLACES = {"school", "church", "town", "market", "sea", "jail", "prison", "class", "college", "university", "hospital",
               "court", "bed", "work", "camp", "shore", "land", "port", "harbour", "harbor", "home", "downtown", "uptown",
               "upstairs", "downstairs", "deck", "chapel", "mass", "temple", "base", "headquarters", "hq", "breakfast", "lunch", "dinner", "supper", "practice", "rehearsal", "detention", "sickbay", "medbay",
               "ashore", "outside", "inside", "indoors", "outdoors", "heaven", "hell", "space", "orbit"}
PURPOSE_VERBS = {"let", "make", "do", "be", "have", "keep", "give", "bring", "find", "catch", "avoid", "escape", "allow"}
NOT_PLACES = {"walk", "swim", "drink", "run", "sleep", "bed", "work", "war", "pieces", "waste", "help", "rest", "aid", "safety", "cover",
              "meet", "see", "find", "look", "fetch", "get", "buy", "talk", "speak", "ask", "fight", "hide", "wait",
              "join", "warn", "stop", "greet", "check", "investigate", "explore", "search"}
# What one goes out into that is no place, when it is all the words: "into the dark" (but "the night market" is one).
ATMOSPHERE = {"dark", "darkness", "night", "distance", "unknown", "void", "mist", "fog", "rain", "storm", "snow", "tears",
              "despair", "action", "silence", "sunshine", "sun", "cold", "wind", "gloom", "shadows"}

# A clause that is not the player doing something now.
NOT_DONE = re.compile(
    r"\b(?:not|don't|dont|do not|doesn't|didn't|never|won't|wouldn't|can't|cannot|couldn't|shouldn't|refuse|"
    r"refuses|decline|declines|want|wants|wish|wishes|hope|hopes|plan|plans|intend|intends|consider|considers|"
    r"wonder|wonders|think about|thinking|imagine|imagines|pretend|pretends|would|could|might|should|may|if|"
    r"will|shall|i'll|we'll|i'd|we'd|ain't|aint|going to|gonna|tomorrow|later|like to|love to|afford|"
    r"unless|whether|almost|nearly|try not|ask \w+ to|tell \w+ to|beg \w+ to|let \w+|without|"
    r"mean to|means to|meant to|aim to|aims to|expect to|expects to|ought to|need to|needs to|have to|has to|must|"
    r"shan't|mustn't|all but|long to|longs to|yearn to|yearns to|about to|resolve to|resolves to|refrain|refrains|"
    r"abstain|abstains|resist|resists|hesitate|hesitates|forget to|forgets to|fail to|fails to|dare not|daren't|"
    r"rather not|in vain|planning|intending|hoping|wanting|aiming|maybe|perhaps|possibly|probably|no way|not a chance|"
    r"(?:send|sends|sent|dispatch|dispatches|dispatched|order|orders|ordered|command|commands|commanded) (?:\S+ ){1,3}?to)\b",
    re.I)

@functools.cache
def verb_forms(bases: str) -> str:
    """A regex alternation of every form of the verbs in ``bases`` (base forms, one per line or comma; a phrasal
    verb inflects its first word): "pick up" → pick up|picks up|picked up|picking up. British spelling doubles a
    final vowel-l too ("travelled" beside "traveled")."""
    forms: set[str] = set()
    for base in _split(r"\s*[,\n]\s*", bases.strip()):
        verb, *rest = base.split(" ", 1)
        inflected = {verb, third_person(verb), past(verb), present_participle(verb)}
        if _search(r"[aeiou]l$", verb) and not verb.endswith("ll"):
            inflected |= {verb + "led", verb + "ling"}
        forms |= {" ".join([form, *rest]) for form in inflected}
    return "|".join(sorted(forms, key=len, reverse=True))


GAIN_BASES = """take, grab, snatch, pick up, pick out, buy, buy up, purchase, receive, pocket, collect, steal, acquire,
obtain, find, accept, borrow, loot, retrieve, stash, fetch, pluck, scoop up, gather up, get, get hold of,
help myself to, pilfer, swipe, fish out, fish up, pull out, dig up, dig out, keep, win, earn, scavenge, salvage, pull,
yank, prise, pry, unhook, lift, nab, nick, filch, pinch, purloin, snag, seize, claim, procure, inherit, snap up,
reel in, haul in, haul up, scoop, strip, tear, rip, cut, unbuckle, unclip, untie, unfasten, unstrap, detach, peel,
wrench, twist, bag, palm, impound, commandeer, haggle, wheedle, charm, sweet-talk, con, swindle, trick, coax, blag, bargain, pay for, barter for, haggle for, lay hands on, lay my hands on, come by, rent, hire,
order, unearth, harvest, forage, craft, forge, whittle, brew, recover, reclaim, take back, buy back, win back,
extract, withdraw, secure, score, yoink, snaffle, liberate, requisition, confiscate, wrest, scrounge, scrounge up, cadge,
bum, snare, track down, hunt down, uncover, discover, come across, stumble on, stumble upon,
stumble across, happen upon, chance upon, choose, select, strap on, load up on, stock up on, rescue, dredge up,
snatch up, swipe up, sweep up, pick, recieve, aquire, sieze, come up with, come away with, walk away with, make off with, run off with, get away with,
end up with, wind up with"""
# Irregular forms the inflection rules do not make.
# (Trading first: "haggle with the trader for a pelt" is one verb, before "haggle" alone.)
GAIN_VERBS = (r"(?:" + verb_forms("haggle, barter, bargain, dicker, negotiate, trade, swap, gamble") +
              r") with (?:[\w'-]+ ){1,3}?for|(?:" + verb_forms("haggle, bargain, dicker, beat") + r") (?:[\w'-]+ ){1,3}?down "
              r"(?:[\w'-]+ ){0,4}?for|"
              r"(?:" + verb_forms("trade, swap, exchange, barter") + r")"
              r" [\w'-]+(?: [\w'-]+){0,10}? for|(?:" + verb_forms("spend, blow, splurge, waste") + r") \w+(?: \w+){0,4}? on|"
              + verb_forms(GAIN_BASES))
SCOOP = set(verb_forms("scoop").split("|"))
# Verbs of getting only with where the thing comes from: "pull a chip from the console", not "pull the lever".
TAKEN_FROM = set(verb_forms("pull, yank, prise, pry, loot, strip, tear, rip, cut, unbuckle, unclip, untie, unfasten, unstrap, "
                            "detach, peel, wrench, twist, bag, palm, haggle, wheedle, charm, sweet-talk, con, swindle, trick, coax, "
                            "blag, bargain").split("|"))  # "scoop the change off the bar" gets; "scoop up" gets without a source
# Phrasal verbs of getting whose particle may follow the thing: "pick the hook up", "fish a key out of the mud".
GAIN_SPLIT = re.compile(r"(?<![\w'])(?:" + verb_forms("pick, scoop, fish, dig, pull, snap, haul, buy, gather, dredge, "
                                                         "hook, prise, pry, winkle, root, tease, coax, pluck, hoist, drag, "
                                                         "yank, fetch, reel, winch") +
                        r")\s+(?P<thing>(?:[\w'-]+\s+){0,4}?[\w'-]+)\s+(?:up|out)(?![\w'])", re.I)
# What is answered, not carried off, when picked up: "I pick up the phone and call Lou".
TELEPHONES = {"phone", "telephone", "receiver", "handset"}
# What one rides, not carries off: "take the ferry over to Gull Island".
VEHICLES = {"lift", "elevator", "train", "tram", "bus", "shuttle", "ferry", "stairs", "staircase", "tube", "cab",
            "coach", "taxi", "metro", "subway", "boat", "barge", "ship", "plane", "flight", "carriage", "wagon",
            "cart", "path", "road", "trail", "route", "shortcut", "gondola", "raft", "skiff", "steps", "streetcar", "trolley",
            "car", "ride", "rickshaw", "uber", "lyft", "rideshare", "tuk-tuk", "maglev", "monorail", "airship",
            "zeppelin", "chopper", "helicopter", "hovercraft", "hovercar", "speeder", "limo", "limousine", "minibus",
            "jitney", "palanquin", "sampan", "dropship", "skycab", "aircab", "hackney", "barouche", "phaeton", "landau",
            "brougham", "curricle", "gig", "chaise", "cabriolet", "sleigh", "troika", "dogcart", "hansom", "stagecoach",
            "greyhound", "convertible", "rover", "buggy"}
# Verbs that take "to"/"into" without anyone going anywhere ("I whisper to the guard", "I burst into tears"): an
# unknown verb before "to the …" is taken as a way of moving ("I apparate to the village square") unless it is one.
NOT_MOVING = set(verb_forms("""talk, speak, say, whisper, listen, point, nod, wave, reply, answer, write, explain, admit, confess, pray, sing,
read, shout, yell, call, mutter, murmur, bow, gesture, signal, turn, tend, attend, cling, stick, hold, belong,
react, respond, agree, object, apologize, apologise, refer, add, happen, toast, propose, submit, look, stare,
glance, peer, gaze, peek, glare, smile, grin, wink, sign, swear, lie, pledge, promise, complain, report,
introduce, describe, mention, relate, appeal, cater, adapt, adjust, convert, change, transform, translate,
bump, crash, burst, break, tune, dig, bite, sink, lean, fall, kneel, bend, reach, tie, chain, nail, pin, tape,
glue, hook, attach, lash, pour, drop, throw, toss, hand, give, pass, send, show, play, hum, whistle, shrug,
raise, lift, offer, wish, salute, motion, beckon, need, want, have, try, use, keep, stay, hang, chat, chatter,
gossip, natter, moan, grumble, holler, cry, laugh, sob, weep, yawn, sigh, growl, snarl, bark, hiss, scream,
plead, beg, preach, lecture, mean, aim, expect, ought, long, yearn, resolve, refrain, hesitate, fail, shift, switch, wake, doze, open, close, lock, seal,
staple, warm, cool, tear, rip, cut, slice, carve, fade, rise, flick, zoom, scroll, skip, fast-forward, rewind,
commit, dedicate, devote, subscribe, vote, contribute, donate, lend""")
                 .split("|"))
# Ways one takes rather than rides: "take the stairs"; with any verb ("I pole a raft") only a craft goes somewhere.
WAYS_TAKEN = {"path", "road", "trail", "route", "shortcut", "steps", "stairs", "staircase", "ride"}


def vehicle_word(names: set[str]) -> str:
    """A regex for a vehicle of ``names`` or one known by its ending ("an autocab", "the snowcat", "a hovercar")."""
    return (r"(?:" + "|".join(sorted(names)) + r"|[\w-]+(?:cab|car|bus|ship|craft|opter|train|tram|boat|cat|mobile|bike|"
            r"plane|jet|sled|sledge|coach|cart|chaise))")


# What one leads or rides where one goes (with the ``VEHICLES``).
MOUNTS = {"horse", "horses", "mule", "mules", "pony", "camel", "donkey", "ox", "oxen", "mare", "stallion", "steed",
          "mount", "bike", "bicycle", "motorbike", "motorcycle", "scooter", "truck", "van", "jeep", "buggy", "canoe",
          "kayak", "dinghy", "sled", "sledge", "dogs", "team", "caravan", "yak", "goat", "goats", "herd", "cattle"}
# Verbs of someone else's with "me" and a thing that give nothing: "tells me a story", "costs me a fortune".
NOT_GIVING = NOT_MOVING | set(verb_forms("""ask, teach, cost, owe, wish, save, bid, remind, promise, deny, refuse, charge, fine,
spare, envy, forgive, allow, take, keep, guarantee, assure, name, hit, strike, kick, punch, slap, hurt, cause, text,
email, message, ping, quote, shoot, flash, cast, blow, tip, pay, do, lose, grant, earn, win""").split("|"))
GIVEN_TO_ME = (r"(?:" + verb_forms("give, hand, pass, toss, throw, offer, sell, trade, swap, barter, lend, slip, slide, bring, fetch, pour, send, "
                                   "deal, award, grant, gift, fling, lob, chuck, flick, leave, bequeath") +
               r") me(?: back)?|(?:" + verb_forms("present, provide, supply, furnish, equip, reward, arm, issue, gift, entrust, "
                                    "load, kit out, fit out") +
               r") (?:me|us) with|(?:" + verb_forms("hook, set, fix, sort") + r") (?:me|us) up with|"
               r"(?:" + verb_forms("let") + r") (?:me|us) (?:have|keep|take|borrow)|"
               r"(?!(?:" + "|".join(sorted(NOT_GIVING)) + r")\b)[a-z]{3,}(?:s|ed) me(?= (?:a|an|the|some|his|her|their|\d+)\s)|"
               r"(?:am|was|get|got|i'm|i’m) (?:given|handed|passed|tossed|sold|lent|offered|slipped|slid|"
               r"thrown|brought|sent|awarded|granted|gifted|dealt|poured|issued|loaned|allotted|allocated|"
               r"(?!(?:told|asked|shown|taught|charged|fined|promised|denied|refused|spared|allowed|called|named|owed|"
               r"saved|reminded|assured|guaranteed|paid|hit|struck|kicked|punched|slapped|offered|cost|wished)\b)"
               r"[a-z]{3,}ed(?= (?:a|an|the|some|\d+)\s)|"
               r"(?:presented|provided|supplied|furnished|equipped|rewarded|armed|issued|entrusted) with)")
# "Vivian hands over an envelope": someone else handing over, to nobody named, hands it to the player.
HANDED_OVER = (r"(?:" + verb_forms("hand, pass, give, slide, turn") + r")(?= (?:over|across)\b)|"
               r"(?:" + verb_forms("cough, fork, shell") + r")(?= (?:up|over|out)\b)")
# "Tessa presses a charm into my hand", "Orla tosses the key to me": the thing comes between verb and me.
PUT_IN_MY_HAND = re.compile(
    r"(?<![\w'])(?:" + verb_forms("press, slip, hand, toss, pass, put, push, drop, throw, give, tuck, place, thrust, slide, "
                                  "shove, roll, flick, lob, chuck, fling, kick, send, bring, carry, deliver, return, stuff, "
                                  "cram, stow, stash, pop, tie, pin, fasten, clip, hang, drape, loop, strap, buckle, sew, "
                                  "attach, hook, string, fix, bestow, confer, lavish, heap, shower, foist, force, fold, "
                                  "wrap, curl, slap, plonk, plop, jam, dump, pile") +
    r")\s+(.+?)\s+(?:(?:into|in|onto|on|to|around|round|over|from) (?:my|our) (?:[\w-]+ )?"
    r"(?:hand|hands|palm|palms|grip|lap|pocket|pockets|satchel|pack|bag|boot|boots|belt|sleeve|coat|cloak|basket|"
    r"purse|pouch|arms|keeping|care|sash|neck|wrist|collar|lapel|robe|kimono|obi|jacket|vest|hat|hair|arm|shoulder|"
    r"shoulders|saddle|harness|armour|armor|tunic|shirt|dress|gown|bracer|bandolier|backpack|rucksack|knapsack)|"
    r"(?:into|in) (?:my|our) (?!(?:" + "|".join(sorted(BODY_PARTS - {"hand", "hands", "palm", "palms", "arms", "sleeve", "sleeves", "collar"})) + r")\b)[\w-]+|"
    r"to me|to us|(?:on|upon|at) (?:me|us)|my way)\b", re.I)
LOSE_BASES = """drop, give away, give back, give, hand over, hand back, hand, sell, sell off, lose, throw away, throw out,
throw, toss away, toss, discard, use up, eat, drink, spend, abandon, leave behind, pawn, trade away, trade, swap,
exchange, break, burn, pay, put down, set down, lay down, offer, surrender, lend, plant, bury, shatter, consume, leave,
ditch, dump, chuck, fling, hurl, donate, part with, relinquish, sacrifice, forfeit, deliver, tip, bribe, slide,
pass, send, mail, post, return, burn through, run through, chew through, hand in, turn in, give up, hand off, pass on, give out, hand out, trade in,
cash in, feed, gift, present, provide, supply, furnish, reward, equip, arm, bestow, entrust, devour, gobble, gulp, quaff, swig, chug, wolf down, scoff, munch, drop off,
jettison, get rid of, dispose of, sell back, smash, destroy, tear up, rip up, shred, thrust, press, hock, flog, peddle, hawk,
offload, unload, fence, auction off, chew, wolf, smoke, smear, apply, spread, dab, daub, fumble, snap, splinter, gnaw, scarf, scarf down, polish off, finish off, guzzle, slurp, snarf, chomp,
chow down on, chow down, tuck into, dig into, nibble, nibble on, gnaw on, snack on, feast on, dine on, glug, swill, sup,
imbibe, neck,
misplace, mislay, waste, expend, fire off, let off, crunch, finish, drain, empty, empty out, knock back, toss back, slug back, slip, bung, palm off, fob off, foist, dole out, hand round, yield, cede, sell on, give over, turn over, cough up, fork over, fork out, shell out, hand across"""
LOSE_VERBS = verb_forms(LOSE_BASES) + r"|burnt|downs|downed|down(?= (?:my|our|the|that|this|a|an)\b)"
MOVE_BASES = """walk, go, head, run, sail, climb, ride, travel, return, hurry, sneak, stroll, wander, march, row, swim,
dive, jog, race, flee, drive, fly, move, step, descend, ascend, set off, set out, hike, trek, wade, slip, dash, sprint,
limp, crawl, creep, hurtle, venture, come, get, move on, push on, press on, push, shove, edge, weave, amble, saunter,
stalk, stomp, plod, hasten, jump, leap, tramp, trudge, steer, paddle, cross, skip, hop, float, drift, glide, squeeze,
stumble, scramble, slide, shuffle, tiptoe, stride, rush, bolt, roll, duck, dart, nip, exit, follow, clamber, scurry,
scuttle, lope, bound, troop, mosey, meander, roam, rove, pop, zip, speed, zoom, cycle, pedal, gallop, trot, canter,
soar, swing, shimmy, shin, wriggle, inch, sidle, slink, skulk, prowl, storm, charge, barge, burst, hustle, journey,
retreat, withdraw, backtrack, double back, circle back, turn back, hitchhike, vault, plunge, stagger, totter, lurch,
traipse, teleport, tumble, flit, commute, hobble, waddle, strut, swagger, dawdle, cruise, rappel, abseil, swarm,
ski, skate, sled, sledge, bike, motor, toboggan, snowshoe, surf, canoe, kayak, punt, cut across, cut through, cut back,
skedaddle, vamoose, scram, hightail, sashay, scoot, scarper, bustle, careen, barrel, pelt, scamper, sally, slog, tromp,
clomp, lumber, shamble, schlep, promenade, whisk, rocket, file, parade, veer, swerve, detour, relocate, migrate, decamp,
evacuate, mooch, toddle, pootle, potter, stray, advance, proceed, plough, plow, navigate, ramble, embark, whizz, whiz,
hare, light out, make tracks, hotfoot it, leg it, beat it, slope off, sweep, streak, whoosh, thunder, jaunt, caper,
frolic, flounce, stump, wheel, coast, taxi, jaywalk, commute, carpool, hitch, steal away, steal off, steal out,
sneak away, sneak off, slip off, stick close, keep close, tag along, tag, drop down, drop, kick off, push off, pole, punt, skateboard, rollerblade, scooter, longboard, retire, repair, adjourn, betake myself, remove"""
# "make my way", "push our way through the crowd to" (but "find my way" is knowing the way, not going).
WAY_MAKERS = """make, pick, thread, elbow, push, fight, work, wind, wend, squeeze, shoulder, edge, inch, weave, force,
claw, battle, worm, bluff, feel, muscle, jostle, nudge, hack, cut, carve, wriggle"""
MOVE_VERBS = (verb_forms(MOVE_BASES) + "|snuck|dove|wove|strode|leapt|"
              r"(?:" + verb_forms(WAY_MAKERS) + r") (?:my|our|his|her|their) way|"
              r"(?!(?:find|finds|found|know|knows|knew|lose|loses|lost|pay|pays|paid|have|has|had|get|gets|got|see|sees|saw|"
              r"give|gives|gave|eat|eats|ate|gnaw\w*|chew\w*|munch\w*|nibbl\w*|drink\w*|drank|read\w*|talk\w*|lie|lies|"
              r"lied|bribe\w*|buy\w*|bought|charm\w*|think\w*|thought)\b)[a-z]{3,} (?:my|our) way"
              r"(?= (?:up|down|back|over|out|across|along|through|to|into|toward))|"
              # "let myself into the scriptorium", "haul myself up onto the ledge"
              r"(?:" + verb_forms("let, pull, drag, haul, hoist, heave, lower, swing, push, throw, launch, fling, ease, "
                                  "force, tow, winch, squeeze, cram, wedge, tuck, pack, press, fold, install, plant, park") +
              r") (?:myself|ourselves)|"
              r"(?:" + verb_forms("make") + r") it(?: back| safely| all the way)?(?= (?:to|into|inside|as far as)\b)|"
              r"(?:" + verb_forms("follow, lead, tail, shadow, trail, chase, pursue, accompany") + r") [\w'.-]+|"
              r"(?:" + verb_forms("take, catch, ride, grab, hail, hop on, jump on, get on, board, flag down") + r") (?:the|a|an) (?:[\w-]+ )?" + vehicle_word(VEHICLES) + r"\b|"
              r"(?:" + verb_forms("lead, walk, ride, drive, steer, guide, row, wheel, pilot, push, pedal, spur, urge") +
              r") (?:my|our|the) (?:[\w'-]+ )?(?:" + "|".join(sorted(MOUNTS)) + "|" + vehicle_word(VEHICLES) + r")\b|"
              r"(?!(?:" + "|".join(sorted(NOT_MOVING | set(verb_forms("load, unload, sell, push, shove, kick, roll, moor, "
                                                                     "anchor, hitch, tether, secure, park, buy, rent, hire, "
                                                                     "steal, take, find, see, watch, hear").split("|")))) +
              r")\b)[a-z]{3,} (?:my|our|the|a|an) (?:[\w'-]+ )?(?:" + "|".join(sorted(MOUNTS)) + "|"
              + vehicle_word(VEHICLES - WAYS_TAKEN) + r")\b")
ROUTES = (r"path|paths|road|stairs|staircase|steps|trail|track|lane|street|ladder|hill|slope|corridor|hall|hallway|"
          r"passage|tunnel|shore|beach|river|bridge|cliff|cliffs|way|rope|gangplank|alley|ramp|dunes|causeway|"
          r"hatch|door|doorway|gate|airlock|arch|archway|window|gap|vent|duct|shaft|tube|chute|pipe|stair|stairway|back|front|"
          r"rear|trapdoor")
# What is crossed on the way ("through the crowd toward the stage"), the means ("in a palanquin to the castle",
# "across the ravine on a vine to the ledge"), a route before the place ("the stairs to the lamp room"), then
# particles and manners, then the preposition of arriving.
MOVE_PREPOSITIONS = (r"(?:(?:through|across|along|up|down|over|past|via|around|between|off|from|out of)\s+"
                     r"(?:(?:the|a|an|my)\s+)?(?:[\w'-]+\s+){1,2}?|"
                     r"(?:(?:off|away|back|out)\s+)?(?:in|on|by|aboard)\s+(?:the|a|an|my|our|his|her|their)\s+(?:[\w'-]+\s+){1,2}?|"
                     r"(?:(?:through|across|along|up|down|over|past|via|out of|out)\s+)?(?:the\s+(?:\w+\s+)?(?:" + ROUTES + r")\s+(?:and\s+)?)){0,2}"
                     r"(?:(?:back|down|up|out|over|off|on|away|across|inside|outside|upstairs|downstairs|straight|all the way|through|"
                     r"onward|onwards|ahead|further|quickly|slowly|carefully|quietly|downriver|upriver|downstream|"
                     r"upstream|downhill|uphill|inland|north|south|east|west|northward|southward|eastward|westward|"
                     r"home|hand over hand|side by side|step by step|bit by bit|inch by inch|single file|on foot|at a run|"
                     r"at a trot|at last|at once)\s+)*"
                     r"(?:to|into|toward|towards|onto|on to|inside|in to|through|along|across|up|down|over|"
                     r"out to|round to|around to|as far as|aboard|on board|ashore at|ashore in|ashore on|in at|"
                     r"between|among|amongst|amid|beyond)")
HEAD_FOR = (r"(?:head|heads|headed|heading|make|makes|made|making|set off|set out|sets off|sets out|bolt|bolts|"
            r"bolted|run|runs|ran|strike out|strikes out|leave|leaves|left|"
            + verb_forms("swim, row, sail, paddle, race, sprint, dash, ride, drive, steer, fly, scramble, hurry, "
                         "strike out, set sail") + r")\s+for")
# Verbs that move something else as often as the mover ("get the key to Orla", "push the cart into the river"):
# they need the preposition right after them; the others may cross a few words first ("cross the square to").
MOVES_SOMETHING = (r"drop|drops|dropped|get|gets|got|push|pushes|pushed|shove|shoves|shoved|roll|rolls|rolled|slide|slides|slid|move|"
                   r"moves|moved|drive|drives|drove|lead|leads|led|come|comes|came|take|takes|slip|slips|slipped")
# Being moved by others: "two fishermen carry me up to the infirmary", "we were taken by boat to Gull Island".
CARRIES_ME = (r"(?:" + verb_forms("carry, drag, take, bring, lead, escort, row, ferry, drive, fly, haul, wheel, "
                                  "guide, march, hustle, bundle, usher, sweep, wash, pull, push, send, summon, throw, toss, kick, "
                                  "chuck, boot, shove, piggyback, tow, cart, chauffeur, shuttle, walk, show, see, hoist, "
                                  "airlift, lower, wheel, truck, boat") +
              r")\s+(?:me|us)(?:,[^,]{1,30},)?\s+|(?:" + verb_forms("give") + r") (?:me|us) a (?:lift|ride)\s+|"
              r"(?!(?:" + "|".join(sorted(NOT_MOVING | set(verb_forms("welcome, introduce, invite, direct, refer, treat, "
                                                                     "recruit, tell, ask, hire, warn")
                                                          .split("|")) | PHRASE_STOPS)) + r")\b)"
              r"[a-z]{3,}\s+(?:me|us)\s+")  # "two goons frogmarch me into the tower"
# Participles after "I'm" that do not move me: "I'm used to the cold", "I'm introduced to the Duchess".
NOT_MOVED = {"used", "accustomed", "related", "engaged", "married", "attached", "addicted", "dedicated", "committed",
             "devoted", "opposed", "exposed", "subjected", "introduced", "sentenced", "condemned", "assigned", "welcomed",
             "invited", "drawn", "attracted", "tied", "chained", "glued", "nailed", "pinned", "reduced", "restricted",
             "limited", "entitled", "obliged", "inclined", "supposed", "expected", "allowed", "forced", "tempted",
             "pleased", "amazed", "shocked", "surprised", "moved", "elected", "appointed", "promoted", "listed",
             "connected", "linked", "resigned", "reconciled", "asked", "told", "ordered",
             "urged", "advised", "warned", "encouraged", "needed", "wanted", "scared", "terrified", "frightened",
             "tired", "bored", "excited", "interested", "confused", "annoyed", "stuck", "trapped", "stranded", "rooted"}
CARRIED = (r"(?:am|are|is|was|were|get|gets|got|i'm|we're|being)\s+(?:\w+ly\s+)?"
           r"(?:dropped off|carried|dragged|taken|brought|led|escorted|rowed|ferried|driven|flown|hauled|wheeled|guided|marched|"
           r"hustled|bundled|ushered|swept|washed|pulled|pushed|sent|summoned|shipped|thrown|tossed|borne|flung|slung|"
           r"swung|spun|blown|ridden|cast|thrust|spirited|"
           r"(?!(?:" + "|".join(sorted(NOT_MOVED)) + r")\b)[a-z]{3,}ed)\s+"
           r"(?:by\s+[\w'-]+(?:\s+[\w'-]+)?\s+)?")
# Being left somewhere: "Deke drops me off at the bus station", "I'm dropped off at the quarry".
DROPPED_OFF = (r"(?:(?P<drops_me>(?:" + verb_forms("drop, let, set, put, deposit, dump, leave, maroon, strand") +
               r")\s+(?:me|us))|(?:am|are|is|was|were|get|gets|got|i'm|we're|being)\s+(?:\w+ly\s+)?"
               r"(?:dropped|let|set|put|deposited|dumped|left|marooned|stranded))\s+(?:(?:off|down|out|ashore)\s+)?"
               r"(?:by\s+[\w'-]+(?:\s+[\w'-]+)?\s+)?(?:at|outside|in front of|on|by|in)")
SPEECH = verb_forms("say, ask, tell, shout, yell, beg, order, plead, cry, call, whisper, demand")
ARRIVE = (r"(?:" + verb_forms("arrive, end up, find myself, disembark, land, dock, alight, touch down, put in, pull in, "
                                "make landfall, step ashore, come ashore, go ashore, wash up, wash ashore, hole up, hunker down, "
                                "take shelter, take refuge, bed down, camp out, shelter") +
          r") (?:at|in|on)|(?:" + verb_forms("join, meet, meet up with, catch up with, rejoin") +
          r") (?:the|a|an|my|our) (?:[\w'-]+ ){1,2}?(?:(?:down|up|out|over|back) )?(?:at|in|on|by)")
CLIMB = r"(?:climb|climbs|climbed|ascend|ascends|ascended|descend|descends|descended|scale|scales|scaled)"
ENTER = (r"(?:enter|enters|entered|reach|reaches|reached|board|boards|boarded|climb into|duck into|slip into|"
         + verb_forms("check into, check in at, pull into, pull in at") + ")")

ARRIVAL_BASES = """arrive, enter, walk in, come in, step in, appear, show up, turn up, join me, join us, join you,
step out of, emerge, catch up, return, come back, approach, walk up, come over, burst in, stride in, climb aboard,
step off, disembark, come ashore, come aboard, wander in, wander over, drop by, drop in, pop in, stop by, come by,
come up, run up, hurry over, reappear, materialise, materialize, pop up, rock up, roll in, get here, get back,
come out of, climb out of, crawl out of, drop down from, pull up, swing by, pop by, pop over, stop in, check in"""
ARRIVAL_WORDS = (verb_forms(ARRIVAL_BASES) + "|is waiting|was waiting|"
                 r"(?:is|are|was|were) (?:announced|shown in|ushered in|admitted|let in|brought in|shown up)")
# "The footman announces Lord Ashcombe", "Thomas shows Miss Pembroke in": someone else bringing a character in.
SHOWN_IN = (r"(?:" + verb_forms("announce, admit") + r")\s+{key}(?![\w])|"
            r"(?:" + verb_forms("show, usher, let, bring, wave") + r")\s+{key}\s+(?:in|inside|through|up)\b")
LEAVING_BASES = """leave, depart, walk away, walk off, go away, storm off, storm out, walk out, head off, head home, go home,
go to bed, disappear, vanish, slip away, run off, run away, sail away, flee,
die, excuse himself, excuse herself, excuse themselves, take his leave, take her leave, take their leave, turn in,
retire, wander off, move on, pass away, fade away, fade out, head for the door, make for the door, head for the exit,
make for the exit, head out the door, walk out the door"""
LEAVING_WORDS = (verb_forms(LEAVING_BASES) + "|is gone|was gone|is dead|is killed|was killed|gets killed|got killed|"
                 "is slain|was slain|"
                 r"(?:is|was|gets|got|are|were) (?:called|taken|led|dragged|carried|hauled|sent|summoned|swept|washed|"
                 r"thrown|knocked|pulled|blown|whisked|rushed|escorted|marched|"
                 r"(?!(?:" + "|".join(sorted(NOT_MOVED)) + r")\b)[a-z]{3,}ed) (?:(?:back|up|down|over|out) )?"
                 r"(?:away|off|out|overboard|ashore|below|(?:to|into|for)(?= (?!me\b|us\b|you\b)))")
# "X <moves> off/out/away": a leaving, but not "cries out", "passes out", "nods off" or "points out the tower".
NOT_LEAVING_OFF = ("cries|cried|calls|called|shouts|shouted|yells|yelled|speaks|spoke|reaches|reached|holds|held|"
                   "passes|passed|nods|nodded|dozes|dozed|drifts off|drifted off|lashes|lashed|points|pointed|"
                   "hands|handed|sorts|sorted|works|worked|figures|figured|checks|checked|tries|tried|finds|found|"
                   "gives|gave|lays|laid|breaks|broke|starts|started|puts|put|"
                   "lives|lived|believes|believed|was|has|does|is")
# Where one comes up to in the room the player is in: "Brandt strolls up to the desk".
IN_THE_ROOM = "|".join(sorted(SCENERY | {"desk", "bar", "booth", "bed", "bedside", "fire", "fireplace", "hearth", "stall",
                                         "stand", "kiosk", "register", "bench", "stage", "podium", "altar"}))
# "Vex bails": leaving in a word, only where the clause ends (not "Vex splits the loot").
SLANG_LEAVING = verb_forms("bail, split, scram, bounce, dip, jet, skedaddle, vamoose, beat it, peace out, clear off, "
                           "push off, shove off, bog off, sod off, make tracks, hightail it, ship out, bow out, take off, "
                           "clock out, log off, check out, push on, move along, get going, toddle off")
# "… up" that is not coming up to the player: "Vex gives up", "Mags sits up".
NOT_ARRIVING_UP = ("gives|gave|shuts|shut|looks|looked|sits|sat|wakes|woke|stands|stood|speaks|spoke|gets|got|throws|"
                   "threw|cheers|cheered|sums|summed|backs|backed|fills|filled|lights|lit|ties|tied|locks|locked|lines|"
                   "lined|picks|picked|puts|put|sets|set|makes|made|takes|took|holds|held|keeps|kept|breaks|broke|ends|"
                   "ended|gears|geared|hangs|hung|messes|messed|covers|covered|perks|perked|clams|clammed|warms|warmed|"
                   "sobers|sobered|fires|fired|packs|packed|tidies|tidied|cleans|cleaned|washes|washed|dresses|dressed")
SEEING = "looks|looked|stares|stared|peers|peered|glances|glanced|peeks|peeked|gazes|gazed|sees|saw|calls|called|shouts|shouted"
COME_ALONG = (r"follows|followed|follow|comes with|came with|comes along|came along|tags along|tagged along|"
              r"goes with|went with|walks with|walked with|keeps pace|kept pace|at my side|by my side|in tow|"
              r"joins me|joined me|trails|trailed|hurries after|hurried after")


# Words that start a new clause after a comma or "and" ("bread, then open the door"): the verbs above and
# the everyday ones, so a list of things ("bread, a lamp and rope") is not cut.
VERBS = {form.split()[0] for bases in (GAIN_BASES, LOSE_BASES, MOVE_BASES) for form in verb_forms(bases).split("|")} | {
    "snuck", "dove", "wove", "strode", "leapt", "burnt"} | {
    "look", "looks", "say", "says", "ask", "asks", "tell", "tells", "open", "opens", "close", "closes", "wait",
    "waits", "watch", "watches", "call", "calls", "shout", "shouts", "pull", "pulls", "push", "pushes", "draw",
    "draws", "attack", "attacks", "hide", "hides", "search", "searches", "listen", "listens", "nod", "nods", "smile",
    "smiles", "turn", "turns", "sit", "sits", "stand", "stands", "kneel", "kneels", "read", "reads", "write",
    "writes", "light", "lights", "check", "checks", "greet", "greets", "thank", "thanks", "try", "tries", "start",
    "starts", "leave", "leaves", "hold", "holds", "put", "puts", "set", "sets", "show", "shows", "lock", "locks",
    "unlock", "unlocks", "fight", "fights", "strike", "strikes", "cut", "cuts", "tie", "ties", "whisper",
    "whispers", "sing", "sings", "laugh", "laughs", "shrug", "shrugs", "wave", "waves", "knock", "knocks",
    "examine", "examines", "inspect", "inspects", "study", "studies", "bow", "bows", "rest", "rests", "sleep",
    "sleeps", "pray", "prays", "hug", "hugs", "kiss", "kisses", "stare", "stares", "meet", "meets", "see", "sees",
    "board", "boards", "enter", "enters", "reach", "reaches", "stop", "stops", "warn", "warns", "offer", "pay", "tip", "count", "counts",
    "catch", "catches", "caught", "hail", "hails", "hailed"}


@dataclass(frozen=True)
class Scene:
    """What the extractor knows before the turn: the state and the names the story knows."""

    location: str = ""
    present: tuple[str, ...] = ()
    inventory: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()  # known characters other than the player
    player: str | None = None
    places: tuple[str, ...] = ()  # known places (chapter locations, lore); the current location is known too
    companions: tuple[str, ...] = ()  # who goes where the player goes, until they part (``companion:`` flags)


@dataclass(frozen=True)
class StateChange:
    location: str | None = None
    items_gained: list[str] = field(default_factory=list)
    items_lost: list[str] = field(default_factory=list)
    entering: list[str] = field(default_factory=list)
    leaving: list[str] = field(default_factory=list)
    companions_joining: list[str] = field(default_factory=list)
    companions_parting: list[str] = field(default_factory=list)


COMPANION_FLAG = "companion:"  # a state flag per companion, as the Dreamer's "dead:" flags: the player sees and edits it


def companions_in(flags) -> tuple[str, ...]:
    return tuple(flag[len(COMPANION_FLAG):] for flag in flags if flag.startswith(COMPANION_FLAG))


def fold(text: str) -> str:
    return _sub(r"\s+", " ", text.replace("’", "'")).strip().casefold()


# A sentence ends at . ! ? but not after a title's abbreviation ("Dr. Okafor").
ABBREVIATION_SAFE_END = r"(?<!\bDr\.)(?<!\bMr\.)(?<!Mrs\.)(?<!\bMs\.)(?<!\bSt\.)(?<!\bLt\.)(?<!Sgt\.)(?<=[.!?])\s+"


SUBORDINATORS = ("while", "whilst", "as", "before", "after", "when", "once")


def _clauses(text: str) -> list[str]:
    """Sentences cut at "," ";" "and"/"then" before a new verb; a question is not an action."""
    clauses = []
    # "we'd drifted" is "we had drifted", done; "we'd go" is a wish
    text = _sub(r"\([^)]*\)", "", text)  # an aside: "(he'll find it later, long story)"
    text = _sub(r"\b(I|we)'d(?=\s+(?:(?:\w+ly|all|both|just|already)\s+)*(?:[a-z]+ed|been|gone|come|made|taken|got|gotten|run|"
                  r"left|found|seen)\b)",
                  r"\1 had", text.replace("’", "'"), flags=re.I)
    for sentence in _split(ABBREVIATION_SAFE_END + r"|\n+|;", text):
        sentence = sentence.strip()
        if not sentence or sentence.endswith("?"):
            continue
        sentence = _sub(r"[\"“”]", "", sentence).rstrip(".!")
        # A comma ends a clause only before a new doer or verb: "bread, a lamp and rope" is one list.
        # "while I go to the mill" is the player's own doing inside someone else's: its own clause.
        parts = _split(r",\s*(?:and\s+|then\s+)?(?=(?:I|we|then|and)\b|[A-Za-z]+\b)|\s+(?:and then|then)\s+|"
                         r"\s+and\s+(?=I\b|we\b)|\s+and\s+(?=(?:" + "|".join(sorted(VERBS)) + r")\b)|"
                         rf"\s+(?=(?:{'|'.join(SUBORDINATORS)})\s+(?:I|we)\b)", sentence)
        merged: list[str] = []
        for part in parts:
            first = (_words(part) or [""])[0]
            opens = _match(r"\s*(?:so|but|yet)\s+(?:I|we)\b", part, re.I)  # "…, so I jog up to the rooftop"
            if merged and not (first in ("I", "we", "We") or first.lower() in SUBORDINATORS or _looks_like_verb(first) or opens):
                merged[-1] += ", " + part
            elif merged and _looks_like_verb(first) and (doer := _doer(merged[-1])):
                merged.append(f"{doer} {part}")  # "Patel clocks out and heads home": Patel heads home, not the player
            else:
                merged.append(part)
        clauses.extend(part.strip() for part in merged if part.strip())
    return clauses


def _doer(clause: str) -> str | None:
    """Who does the clause when it is someone other than the player: the words before its verb ("Nurse Patel"
    in "Nurse Patel clocks out")."""
    words = clause.split()
    if _search(r"\b(?:I|we|We)\b", clause):
        return None  # the player acts in it too ("the bell rings, so I set my work aside and wander out")
    for index, word in enumerate(words):
        if word.islower() and (_looks_like_verb(word) or _fullmatch(r"[a-z]{3,}(?:s|ed)", word)):
            doer = words[:index]
            if not doer or doer[0] in ("I", "We", "we", "Then", "then") or doer[-1].lower() in ("i", "we") or (
                    doer[0].lower() in SUBORDINATORS) or len(doer) > 4 or any(
                    word.lower().strip(",") in PHRASE_STOPS | {"my", "our", "his", "her", "their", "is", "was", "are", "so"}
                    for word in doer[1:]) or doer[0].lower() in PHRASE_STOPS:
                return None  # "the bell's ringing and honestly my hand …" is no doer
            return " ".join(doer)
    return None


def _words(phrase: str) -> list[str]:
    return _findall(r"[\w'&-]+", phrase)


def _cut(phrase: str, *, keep_of: bool) -> list[str]:
    """The phrase's words up to the first stop word ("of" kept inside an item: "a bottle of wine")."""
    words: list[str] = []
    tokens = _words(_split(r"[,;:()]", phrase, maxsplit=1)[0])
    for index, word in enumerate(tokens):
        bare = word.lower()
        after_determiner = bool(words) and words[-1].lower() in DETERMINERS
        if (bare in PHRASE_STOPS and not (after_determiner and bare in ("back", "inside", "outside", "up", "down", "right", "first"))
                or (bare == "of" and not keep_of)):
            break  # but "the back alley", "the inside pocket": after a determiner it describes the thing
        following = tokens[index + 1].lower() if index + 1 < len(tokens) else ""
        if words and bare in RESULTS and words[-1].lower() not in DETERMINERS | {"of"}:
            break  # "shake a coconut loose", "pry the lid open": how the thing ends up, not its name
        if words and bare.endswith("ing") and (following in PHRASE_STOPS and bare not in ING_NOUNS or following in DETERMINERS):
            break  # "the lantern hanging by the door": the participle starts a clause
        if (words and (len(bare) > 4 and bare.endswith("ed") and bare not in ED_NOUNS or bare in IRREGULAR_PARTICIPLES)
                and words[-1].lower() not in DETERMINERS | {"of"} and (not following or following in PHRASE_STOPS)):
            break  # "an old key taped under the desk", "a letter addressed to me"
        words.append(word)
    return words


def _names_in(text: str, names) -> list[str]:
    folded = fold(text)
    return [name for name in names if name and _search(rf"(?<![\w']){re.escape(fold(name))}(?![\w])", folded)]


def _name_pattern(scene: Scene) -> str:
    names = [re.escape(name) for name in sorted(scene.cast, key=len, reverse=True) if name]
    return "|".join(names) or "x^"


def _is_person(words: list[str], scene: Scene, *, unknown_name: bool = True) -> bool:
    """Whether the words name a person; a lone capitalised word the story does not know is one as a thing
    ("I grab Mira"), not as a destination ("I travel to Saltmarsh", ``unknown_name=False``)."""
    text = " ".join(words)
    if _names_in(text, [*scene.cast, *scene.present, scene.player or ""]) or any(
            _bare(name) and _search(rf"(?<![\w']){re.escape(_bare(name))}(?![\w'])", fold(text))
            for name in scene.cast):
        return True  # "fist-bump Dr Okafor" names Dr. Okafor
    made = len(words) > 1 and words[-2].lower() in THING_MAKERS  # "a hot dog", "a toy soldier"
    return any(word.lower() in PRONOUNS or word.lower() in PERSON_NOUNS and not made for word in words[-1:]) or (
        unknown_name and len(words) == 1 and words[0][:1].isupper() and words[0].lower() not in DETERMINERS)


def _thing(phrase: str, scene: Scene) -> str | None:
    """The phrase as the name of a thing ("a cheap fishing rod before dawn" → "fishing rod"), or None."""
    if _match(r"\s*note\s+of\b", phrase, re.I):
        return None  # "take note of"
    words = _cut(phrase, keep_of=True)
    named_doer = _search(rf"\s(?:{_name_pattern(scene)})\s+[a-z]+s\b", " ".join(words))
    if named_doer:  # "the coin Hakim drops": a named doer starts a relative clause
        words = _words(" ".join(words)[:named_doer.start()])
    while words and words[-1].lower() == "of":
        words.pop()
    # A possessor is not part of the thing's name, but a person's body part is nobody's item.
    for index, word in enumerate(words):
        if word.lower().endswith(("'s", "s'")) and index + 1 < len(words):
            words = words[index + 1:]
            break
    while words and (words[0].lower() in DETERMINERS or words[0].lower() in WORTH_WORDS
                     or _fullmatch(r"\d+", words[0])):
        words = words[1:]
    if not words or len(words) > 5 or len(words) == 1 and words[0].lower().endswith("ed") and words[0].lower() not in ED_NOUNS:
        return None  # "wedged" alone is how something is, not a thing
    head = (words[:words.index("of")] if "of" in words[1:] else words)[-1].lower()  # "a bottle of water" is a bottle
    measured = (head in MEASURES and "of" in words[1:]  # "a shot of rye" is poured; "take a shot" is not a thing
                or " ".join(words[-2:]).lower() in COMPOUND_THINGS)
    if "of" in words[1:] and (words[-1].lower() in TALK or head in TIME_SPANS) or len(words) == 1 and head in TIME_SPANS:
        return None  # "the thread of the conversation", "a week of detention"
    if words[0].lower() in ("of",) or head in BODY_PARTS | GESTURES | DETERMINERS or (
            head in NOT_THINGS | SCENERY and not measured):
        return None
    compound = len(words) > 1 and words[0].lower() in VEHICLES | PARTICLES  # "a bus pass", "a down suit"
    if words[0].lower() in NOT_THINGS and not measured and not compound or _is_person(words, scene):
        return None
    return " ".join(word.lower() if not word.isupper() else word for word in words)


def _is_player_doing(prefix: str, scene: Scene) -> bool:
    """Whether the clause before the verb is the player acting now ("I", "we", nothing, the player's name)."""
    # A fronted phrase is not the clause's negation: "Without a word I leave for the medical bay".
    prefix = _sub(r"^\s*without\b[^,]*?(?=\b(?:I|we|We)\b)", "", prefix, flags=re.I)
    if _search(r"\b(?:who|whoever)\s+(?:\w+\s+)?$", prefix, re.I):
        return False  # "and who comes strolling in but Sheikh Mansour"
    if NOT_DONE.search(prefix):
        return False
    subject = list(_finditer(r"(?<![\w'])(?:I|i|we|We)(?![\w'])", prefix))
    if subject:
        # "I watch Okafor float away": the one named right before the verb does it, not the player.
        return not _search(rf"(?<![\w'])(?:{_name_pattern(scene)}|it|him|her|them)\s+(?:\w+ly\s+)?$",
                             prefix[subject[-1].end():], re.I)  # "I watch it tumble away": it goes
    words = [word.lower() for word in _words(prefix)]
    if words and words[0] in ("the", "a", "an", "his", "her", "their", "some", "two", "three", "several", "my", "our") or (
            words and words[-1] in ("who", "whoever")):
        return False  # "The ringmaster storms out", "Two goons …": someone else
    others = [name for name in _names_in(prefix, [*scene.cast, *scene.present]) if name != scene.player]
    return not (others or any(word in ("he", "she", "they", "it") for word in words))


def _inside_name(clause: str, position: int, scene: Scene) -> bool:
    """Whether ``position`` falls inside a known name ("Cross" in "Vivian Cross" is no verb)."""
    return any(found.start() < position < found.end()
               for found in _finditer(rf"(?<![\w'])(?:{_name_pattern(scene)})(?![\w'])", clause, re.I))


def _after_determiner(clause: str, position: int) -> bool:
    """Whether the word at ``position`` follows a determiner, so is a noun: "the pocket watch", "my last find"."""
    before = _words(clause[:position])
    return bool(before) and before[-1].lower() in DETERMINERS - {"that", "one"}


def _in_noun_phrase(clause: str, position: int) -> bool:
    """Whether the word at ``position`` ends a noun phrase begun by a determiner a word or two before ("a soggy betting
    slip in the drain"), so is a noun, not a verb (but "the ambulance drops me off" has its verb's object after it)."""
    if _match(r"\s*\S+\s+(?:me|us|him|her|them|my|our)\b", clause[position:], re.I):
        return False
    before = _words(_split(r"[,;]", clause[:position])[-1])[-3:]
    if before and before[-1].lower() in PREPOSITIONS:
        return True  # "checking on craft services": "craft" is a noun
    for distance, word in enumerate(reversed(before)):
        lowered = word.lower()
        if lowered in DETERMINERS - {"that", "one", "all", "both"}:
            return distance > 0  # "a ride on a caravan" is the ride itself; "a betting slip" has a word between
        if lowered in ("i", "we") or _looks_like_verb(word) or lowered in PHRASE_STOPS:
            return False
    return False


def _verb_matches(clause: str, verbs: str, scene: Scene):
    """(prefix before the verb, rest after it) for each verb of ``verbs`` in the clause, not inside a name."""
    for match in _finditer(rf"(?<![\w'])(?:{verbs})(?![\w'])", clause, re.I):
        if (_inside_name(clause, match.start(), scene) or _after_determiner(clause, match.start())
                or _in_noun_phrase(clause, match.start())):
            continue  # "the pocket watch", "the ice pick": a noun
        yield clause[:match.start()], clause[match.end():], match.group(0).lower()


def _items(clauses: list[str], scene: Scene, *, only_mine: bool = False) -> tuple[list[str], list[str]]:
    """What the clauses get and part with; ``only_mine`` keeps to the clauses where the player takes part (a passage:
    "Dr. Han fishes an EpiPen out of her coat" names what "hands it to you" gives)."""
    gained: list[str] = []
    lost: list[str] = []
    named = None  # the thing the clause before named, for "it": "I shake a coconut loose and grab it"
    for clause in clauses:
        antecedent, named = named, _first_thing(clause, scene)
        if only_mine and not _search(r"\b(?:I|we)\b|\b(?:me|my|us|our)\b", clause):
            continue
        taken = False
        declined = _search(r"\bbut\b.*\b(?:decline|refuse|say no|wave (?:it|them) (?:away|off)|turn (?:it|them) down|"
                             r"shake my head|no thanks|hand (?:it|them) back)", clause, re.I)
        for prefix, rest, verb in _verb_matches(clause, GIVEN_TO_ME, scene):
            if declined and verb.startswith("offer"):
                continue  # "Hakim offers me his pipe but I wave it away"
            if not NOT_DONE.search(prefix):
                gained.extend(_things_listed(rest, scene))
                paid_with = _search(r"\bfor\s+((?:my|our)\s.+)", rest)
                if paid_with and verb.startswith(("trad", "swap", "barter", "sell", "sold")):
                    lost.extend(_held(paid_with.group(1), scene))  # "trades me a lump of copper for my peaches"
                taken = True
        for prefix, rest, _ in _verb_matches(clause, HANDED_OVER, scene):
            if (not NOT_DONE.search(prefix) and _names_in(prefix, scene.cast) and not _search(r"\b(?:I|we)\b", prefix, re.I)
                    and not _search(r"\bto\b", rest)):
                gained.extend(_things_listed(_sub(r"^\s*(?:over|across|up|out)\b", "", rest), scene))
                taken = True
        for put in PUT_IN_MY_HAND.finditer(clause):
            between = {word.lower() for word in _words(put.group(1))}
            if between & {"while", "whilst", "as", "and", "when", "before", "after", "because", "me", "us"}:
                continue  # "hands you a stick while she reads over your shoulder": the shoulder is no place for it
            put_away = _things_listed(put.group(1), scene)  # "tuck it into my belt" names nothing new
            if _fullmatch(r"\s*(?:it|them)\s*", put.group(1), re.I):  # "blesses an amulet and places it in my palm"
                put_away = [thing for thing in [_referent(clause[:put.start()], antecedent, scene)] if thing]
            if put_away and not NOT_DONE.search(clause[:put.start()]):  # "Tessa presses … into my hand", "I stuff …"
                gained.extend(put_away)
                taken = True
        split = GAIN_SPLIT.search(clause)
        if split and _is_player_doing(clause[:split.start()], scene) and not (
                set(word.lower() for word in _words(split.group("thing"))) & (PHRASE_STOPS - {"of"})):
            gained.extend(_things_listed(split.group("thing"), scene))  # "pick the hook up", "fish a key out"
            taken = True
        slipped = _match(r"\s*(?:my|our)\s+(.+?)\s+(?:slips|falls|tumbles|drops|rolls|slides|blows|floats|sinks|drifts|"
                           r"slipped|fell|tumbled|dropped|rolled|slid|blew|floated|sank|drifted)\b.*\b(?:away|out|over|overboard|"
                           r"off|into|down|under)\b", clause, re.I)
        if slipped:
            lost.extend(_held(slipped.group(1), scene))  # "my pocket compass slips out of my pocket and tumbles over"
        stripped = _search(r"\b(?:strip|strips|stripped|relieve|relieves|relieved|rob|robs|robbed|divest|divests|divested|"
                             r"lighten|lightens|lightened)\s+(?:\S+\s+){1,4}?of\s+((?:his|her|their|its)\s.+)", clause, re.I)
        if stripped and _is_player_doing(clause[:stripped.start()], scene):
            gained.extend(_things_listed(stripped.group(1), scene))  # "I strip the goblin scout of his rusty dagger"
        exchanged = _search(r"\bin (?:exchange|return|trade) for\s+(.+)", clause, re.I)
        if exchanged and _is_player_doing(clause[:exchanged.start()], scene):
            gained.extend(_things_listed(exchanged.group(1), scene))  # "part with my reticule in exchange for a parasol"
        if taken:
            continue
        lent = _search(r"\b(?:let|lets|allow|allows)\s+(?:\S+\s+){1,3}?(?:borrow|have|keep|take|use)\s+((?:my|our)\s.+|it\b|them\b)",
                         clause, re.I)
        if lent and not NOT_DONE.search(clause[:lent.start()]):  # "I let Jordan borrow my calculator", "… let him keep it"
            lent_thing = lent.group(1) if lent.group(1).lower() not in ("it", "them") else (
                _referent(clause[:lent.start()], antecedent, scene) or "")
            lost.extend(_held(lent_thing, scene))
        for prefix, rest, verb in _verb_matches(clause, GAIN_VERBS, scene):
            if _search(r"\bto\s+$", prefix):
                continue  # "I find the nerve to lift the shutter": a purpose, not yet done
            if not _is_player_doing(prefix, scene):
                rest = _sub(r"^\s*(?:away|off|back|up)\b", "", rest)  # "took away my ashwood bow"
                if _match(r"\s*(?:my|our)\s", rest) and _words(prefix) and not NOT_DONE.search(prefix):
                    lost.extend(_held(rest, scene))  # "Principal Hayes confiscates my phone": taken from me
                continue
            rest = _sub(r"^\s*(?:myself|ourselves)\b", "", rest)  # "get myself a new hat"
            needs_source = verb in TAKEN_FROM or verb in SCOOP  # "pull the lever" is no getting; "pull out a letter" is
            if needs_source and not _search(r"\b(?:from|out of|off)\b", rest):
                continue  # "pull the lever", "loot the pack" is no getting; "pull a chip from the console" is
            mine = bool(_match(r"\s*(?:my|our)\s", rest, re.I))  # "grab my coat": what is mine already is no gain
            if verb.startswith(("get", "got", "keep", "kept")) and not _match(r"\s+(?:a|an|the|some|my|\d+)\s", rest, re.I):
                continue  # "get up", "get angry", "keep watch": only "get/keep a/the …" is getting a thing
            given = _match(r"(?:trad|swap|exchang|barter|spend|spent|blow|blew|splurg|wast)\w*\s+(.+?)\s+(?:for|on)$", verb)
            if given and _search(r"\bwith\b", given.group(1)):
                given = _match(r"(\S+\s+.+?)\s+with\b", given.group(1)) or given  # "swap my rum with the drummer for …"
            if given:  # "trade my compass for rope", "spend my coins on dates": what is given goes
                lost.extend(_held(given.group(1), scene))
            paid_with = _search(r"\bwith\b(.+)", rest)
            if verb.startswith(("buy", "bought", "purchase", "pay", "paid")) and paid_with:
                lost.extend(_held(paid_with.group(1), scene))  # "buy a lamp with my last coins"
            ridden = verb.startswith(("take", "took", "catch", "caught", "grab", "hail"))
            listed = _things_listed(_sub(r"^\s*(?:up|out)\b", "", rest), scene)[1 if mine else 0:]
            if _match(r"\s*(?:it|them)\b", rest, re.I) and _referent(prefix, antecedent, scene):
                listed = [_referent(prefix, antecedent, scene)]
            if mine and not listed:
                continue
            answered = verb.startswith("pick") and not _search(r"\b(?:from|off)\b", rest)  # "pick up the phone"
            gained.extend(thing for thing in listed if thing.lower() not in USED_ON_THE_SPOT
                          and not (thing.lower() in DRUNK_ON_THE_SPOT
                                   and not _search(rf"\b(?:a|an)\s+{re.escape(thing)}\b", rest, re.I))
                          and not (ridden and thing.lower().split()[-1] in VEHICLES)  # "take the ferry over to"
                          and not (answered and thing.lower() in TELEPHONES))
            if listed:
                break  # else a later verb may name it: "I haggle for ages and eventually buy a pouch of cumin"
        else:
            for prefix, rest, verb in _verb_matches(clause, LOSE_VERBS, scene):
                if _is_player_doing(prefix, scene):
                    rest = _sub(r"^\s*(?:(?:my|our) way\s+)?(?:up|down|off|away|out|through|on)\b", "", rest)  # "gobble up
                    # the rice ball", "gnaw my way through the bread"
                    paid_with = _search(r"\bwith\b(.+)", rest)
                    if verb.startswith(("pay", "paid", "tip", "bribe", "present", "provid", "suppl", "furnish", "reward",
                                        "equip", "arm", "gift", "entrust")) and paid_with:
                        rest = paid_with.group(1)  # "pay the innkeeper with my purse": the purse is what goes
                    # "give Orla the key": the person who receives is skipped.
                    rest = _sub(rf"^\s*(?:{'|'.join(re.escape(name) for name in scene.cast) or 'x^'})\s+", " ",
                                  rest, flags=re.I)
                    if _match(r"\s*(?:it|them)\b", rest, re.I):
                        rest = _referent(prefix, antecedent, scene) or ""  # "leave it there"
                    lost.extend(_held(rest, scene))
                    break
    held = {fold(item) for item in scene.inventory}
    return [item for item in _unique(gained) if fold(item) not in held], _unique(lost)


def _referent(before: str, antecedent: str | None, scene: Scene) -> str | None:
    """What "it" stands for: the thing named earlier in its own clause (``before`` the verb), else the one the clause
    before named (``antecedent``)."""
    return _first_thing(before, scene) or antecedent


def _first_thing(clause: str, scene: Scene) -> str | None:
    """The first thing a clause names with an article as an object, not after a preposition ("I shake a coconut loose" →
    "coconut"; "Beneath a torn cloak I find an anklet" → "anklet")."""
    for introduced in _finditer(r"\b(?:a|an|the|some|my|our)\s+", clause, re.I):
        before = _words(clause[:introduced.start()])
        if before and before[-1].lower() in PHRASE_STOPS:
            continue
        thing = _thing(clause[introduced.start():], scene)
        if thing:
            return thing
    return None


def _things_listed(rest: str, scene: Scene) -> list[str]:
    """"a rope, a lamp and some bread" → three things; stops at the first part that is not a thing."""
    things = []
    for part in _split(r",\s*(?:and\s+)?|\s+and\s+", rest):
        words = _words(part)
        if things and (not words or words[0].lower() not in DETERMINERS | WORTH_WORDS and (
                _looks_like_verb(words[0]) or len(words) > 1 and words[1].lower() in PARTICLES | DETERMINERS)):
            break  # "a lamp, saddle up and ride out", "the dagger, thrust my tablet …": a bare word then a particle
            # or a determiner is a verb
        thing = _thing(part, scene)
        if thing is None:
            break
        things.append(thing)
        if len(_cut(part, keep_of=True)) < len(_words(part)):
            break  # the phrase ran into a preposition: what follows is not a list of things
    return things


def _looks_like_verb(word: str) -> bool:
    return word.lower() in VERBS


def _held(rest: str, scene: Scene) -> list[str]:
    """What of the inventory the phrase names (by its whole name or its last word: "the lantern")."""
    rest = _sub(r"^\s*(?:the\s+)?(?:last|rest|remainder|remains|dregs|end|remnants)(?:\s+(?:stick|piece|bit|drop|slice|bite|"
                  r"sip|swig|crumb|scrap|few|couple|one|two|three))?\s+of\s+", " ", rest, flags=re.I)
    named = fold(" ".join(_cut(rest, keep_of=True)))
    owned = [item for item in scene.inventory if _search(rf"(?:^|\s){re.escape(fold(item))}$", named)]
    if owned:
        return owned[:1]  # "my geiger counter": held, though a counter alone would be scenery
    thing = _thing(rest, scene)  # or, for a name no new thing could have ("my energy drink"), its plain words
    wanted = fold(thing or " ".join(word for word in _cut(rest, keep_of=True) if word.lower() not in DETERMINERS))
    if not wanted:
        return []
    exact = [item for item in scene.inventory if fold(item) == wanted]
    if exact:
        return exact
    return [item for item in scene.inventory
            if fold(item).split()[-1:] == wanted.split()[-1:] or fold(item).endswith(" " + wanted)
            or fold(item).split(" of ")[0].split()[-1:] == wanted.split()[-1:]
            or " of " in fold(item) and wanted.endswith(fold(item).split(" of ", 1)[1])][:1]


def _place(phrase: str, scene: Scene) -> str | None:
    """The place a movement names: a known place in its own spelling, or the player's words."""
    words = _cut(phrase, keep_of=True)
    while words and words[-1].lower() == "of":
        words.pop()
    if not words or len(words) > 6:
        return None
    text = _as_written(phrase, words)
    place = _known_place(phrase, scene)
    if place:
        return place
    if words[0].islower() and words[0] not in DETERMINERS and (_looks_like_verb(words[0]) or words[0] in PURPOSE_VERBS):
        return None  # "step aside to let the camels pass": "to" + a verb is a purpose, not a place
    if words[-1].lower() in BELONGINGS:
        return None  # "I go through the victim's handbag": searching it
    if len(words) == 1 and words[0].islower() and words[0] not in BARE_PLACES:
        return None  # "storms out to yell": a purpose; "to school", "to bed" are places
    content = [word for word in words if word.lower() not in DETERMINERS]
    owner = next((index for index, word in enumerate(content) if word.lower().endswith("'s")), None)
    if owner is not None and owner + 1 < len(content) and _names_in(" ".join(content[:owner + 1]), scene.cast):
        content = content[owner + 1:]  # "Grandma Pearl's house" is a house, not Grandma Pearl
    if not content or content[0].lower() in NOT_PLACES or len(content) == 1 and content[0].lower() in ATMOSPHERE or _is_person(content, scene, unknown_name=False) or content[-1].lower() in (
            PRONOUNS | BODY_PARTS):
        return None
    return text


def _as_written(phrase: str, words: list[str]) -> str:
    """The stretch of ``phrase`` its first ``words`` come from, as written ("Mr. Sato's penthouse")."""
    spelled = _match(r"\s*" + r"[^\w'-]+".join(re.escape(word) for word in words), phrase)
    return spelled.group(0).strip() if spelled else " ".join(words)


def _known_place(phrase: str, scene: Scene) -> str | None:
    """The known place (a chapter's, the current one) the phrase names, in its own spelling; a slip of one or two
    letters in a longer name is forgiven ("the carosel" is the carousel)."""
    words = _cut(phrase, keep_of=True)
    bare = _sub(r"^(?:the|a|an)\s+", "", fold(" ".join(words)))
    if not bare:
        return None
    whole = _sub(r"^(?:the|a|an)\s+", "", fold(phrase))
    for place in (*scene.places, scene.location):  # a name with a stop word in it: "the Anchor and Chain"
        known = _sub(r"^(?:the|a|an)\s+", "", fold(place)) if place else ""
        if set(known.split()) & PHRASE_STOPS and _match(rf"{re.escape(known)}(?![\w'])", whole):
            return place
    for place in (*scene.places, scene.location):
        known = _sub(r"^(?:the|a|an)\s+", "", fold(place)) if place else ""
        if known and (known == bare or len(bare) >= 6 and difflib.SequenceMatcher(None, known, bare).ratio() >= 0.86):
            return place
    return None


def _location(clauses: list[str], scene: Scene) -> str | None:
    location = None
    moves = (rf"{DROPPED_OFF}\s+|(?:(?P<carries_me>{CARRIES_ME})|(?P<carried>{CARRIED}))(?:{MOVE_PREPOSITIONS}\s+|(?=home\b))|"
             rf"(?:{MOVE_VERBS})\s+{MOVE_PREPOSITIONS}\s+|{HEAD_FOR}\s+|(?:{MOVE_VERBS})\s+(?=home\b)|{ARRIVE}\s+|{ENTER}\s+|"
             rf"(?:{MOVE_VERBS})\s+(?:back\s+)?(?:inside|in|aboard)\s+(?!(?:my|our|your|his|her|their)\b)|"
             # "follow the smell of bread to the bakery", "hurry after Hakim toward the docks"
             rf"(?!(?:{MOVES_SOMETHING})\b)(?:{MOVE_VERBS})\s+(?:(?!(?:to|into|onto|toward|towards)\b)[\w'.-]+\s+){{1,7}}?"
             rf"(?:to|into|toward|towards|onto)\s+|"
             rf"(?P<climbed>{CLIMB})\s+(?=(?:the|a|an)\s)|"
             rf"(?P<unknown>[a-z]{{3,}})\s+(?:(?:back|down|up|over|off|out|across|along|straight|away|on|all the way)\s+)*"
             rf"(?:(?:across|through|along|past|over|down|up|around)\s+(?:the\s+)?[\w'-]+(?:\s+[\w'-]+)?\s+)?"
             rf"(?:to|towards?|into|onto)\s+(?=\S)")
    for clause in clauses:
        # a clause opening on a verb is the player's ("say bye to Dr. Halvorsen and snowmobile out to the camp")
        player_leads = _looks_like_verb((_words(clause) or [""])[0])
        for match in _finditer(rf"(?<![\w'])(?:{moves})", clause, re.I):
            prefix = clause[:match.start()]
            if _inside_name(clause, match.start(), scene) or _in_noun_phrase(clause, match.start()):
                continue
            if match.group("unknown") and (match.group("unknown").lower() in VERBS | NOT_MOVING
                                           or not _search(r"(?:\b(?:I|we)|\band|\bthen)\s+(?:(?:\w+ly|had|have|just|then|all)\s+)*$", prefix, re.I)
                                           or not (_is_player_doing(prefix, scene) or player_leads and not NOT_DONE.search(prefix))):
                continue  # only a verb we do not know, right after the player: "I apparate to the square"
            if match.group("unknown") and not (_match(r"\s*(?:(?:the|a|an)\s|(?-i:[A-Z]))", clause[match.end():], re.I)
                                               or _known_place(clause[match.end():], scene)):
                continue  # "I apparate to the square", "we'd rattled into millbrook" (known), not "I fly to pieces"
            if match.group("drops_me") and not _words(prefix):
                continue  # "Drop me at the docks" asks
            if match.group("carries_me") and (not _words(prefix) or _search(rf"[:]|\b(?:{SPEECH})\b", prefix, re.I)):
                continue  # "I say: Take me to the docks!" asks, it does not move
            if match.group("carries_me") or match.group("drops_me"):
                if NOT_DONE.search(prefix):
                    continue  # whoever carries, it is the player who moves
            elif not (_is_player_doing(prefix, scene) or player_leads and not NOT_DONE.search(prefix)) and not (
                    _search(r"\bwe\b", prefix, re.I) and not NOT_DONE.search(prefix)):
                continue
            rest = clause[match.end():]
            if _search(r"\b(?:up|down|over|off|out|along|across|through)\s*$", match.group(0), re.I) and _match(
                    r"\s*(?:my|our|his|her|their)\b", rest, re.I):
                continue  # "roll up my prayer rug" rolls the rug
            place = _place(rest, scene)
            crossing = not place and _match(r"\s*[\w'.-]+(?:\s+[\w'.-]+){0,6}?\s+(?:to|into|toward|towards|onto)\s+", rest)
            if crossing and not set(_words(crossing.group(0).lower())) & (VERBS | {"and", "then"}):
                place = _place(rest[crossing.end():], scene)  # "along with Sven to the seal colony"
            further = place and _match(r"(?:\s+(?:in|of|on|at|near|by|under)\s+(?:the\s+)?[\w'-]+)?\s*(?:,?\s*and\s+)?"
                                         r"(?:(?:back|down|up|over|on|out|onward|then)\s+)?(?:to|into|toward|towards|onto)\s+",
                                         rest[fold(rest).find(fold(place)) + len(place):])
            if further:  # "up through the snow to Frostgate Pass", "through the hole in the fence and out onto the
                # highway": what comes first is the way there
                place = _place(further.string[further.end():], scene) or place
            if place and match.group("climbed") and fold(place).split()[-1] in set(ROUTES.split("|")) | SCENERY:
                continue  # "climb the ladder" is on the way, "climb the bell tower" is there
            if place:
                location = place  # the last place wins: "after slogging through the paddies we got to the ponds"
    return location


def _people_acted_on(clauses: list[str], scene: Scene) -> list[str]:
    """Known characters the player does something to or with in a clause that is really done."""
    named = []
    for clause in clauses:
        for name in _names_in(clause, scene.cast):
            before = fold(clause)[:fold(clause).find(fold(name))]
            if NOT_DONE.search(before):
                continue
            if not _search(r"\b(?:I|we)\b", clause[:clause.lower().find(fold(name))], re.I) and not _search(
                    r"\b(?:me|us|my|our|i|we)\b|\b(?:" + HANDED_OVER + r")", fold(clause)[len(before):]):
                continue  # "Tamsin runs to the stables": someone else's doing, not with the player
            received = _search(r"\b(?:receive|receives|received|recieve|recieves|recieved|accept|accepts|accepted|obtain|obtains|obtained|"
                                 r"borrow|borrows|borrowed|buy|buys|bought|get|gets|got)\b.*\bfrom\s+$", before)
            traded = _search(r"\b(?:trad|swap|exchang|barter|buy|bought|purchas|call|holler|shout|yell|whistl|send)\w*\b.*\bfor\s+$",
                               before)  # "swap … for Sven's compass", "I holler for Miss Pham"
            if not received and not traded and _search(r"(?:about|of|for|remember|miss|mourn|from|behind|leave|away|without|after|where|why|how|"
                         r"whether|what|when|if|"
                         r"send|sends|dismiss|dismisses|like|letter to|word to|message to)\s+(?:\w+\s+)?$", before):
                continue
            after = fold(clause)[len(before) + len(fold(name)):]
            if _match(rf"\s*(?:{LEAVING_WORDS})\b", after):
                continue
            owned = _match(r"'s?\s+(.+)", after)
            served = _search(rf"\b(?:{SERVING})\s+$", before)  # "I light Bix's cigarette": Bix is here
            if owned and not traded and not served and not {word.lower() for word in _cut(owned.group(1), keep_of=False)[:3]} & BODY_PARTS:
                continue  # "Okafor's journal" is about Okafor's things; "Orla's arm" is Orla, here
            named.append(name)
    return named


BETWEEN_NAMES = r"(?:\s*,\s*(?:and\s+)?|\s+and\s+)"  # "tobin, pim and mother brannock"


def _subject(key: str, names: str) -> str:
    """A doer that is the character ``key`` alone or in a list of names ("tobin and mother brannock leave")."""
    between = BETWEEN_NAMES
    return rf"(?<![\w'])(?:(?:{names})(?:{between}(?:{names}))*?{between}{key}|{key}(?:{between}(?:{names}))*)\s+"


def _bare(name: str) -> str:
    """A name folded without its full stops, so a sentence is not cut at "Dr." or "Ms."."""
    return fold(name).replace(".", "")


def _doers(folded: str, patterns: tuple[str, ...]) -> str:
    """The doers (a name or a list of them, the ``who`` group) each pattern finds, joined: one search for a whole scene."""
    return " | ".join(found.group("who") for pattern in patterns for found in _finditer(pattern, folded))


def _doers_going_elsewhere(folded: str, names: str) -> str:
    """The doers (one name or a list of them) who go somewhere other than to the player: "Hakim heads to the docks",
    "Reyes goes to bed", "… while Rafi shoulders his toolbag and heads down to the garage" (but not "Kel leads me down to
    the crypt" or "Pearl shuffles over to our booth": there the player is). Searched once for all the scene's names, since
    the verbs of going make a long pattern."""
    doers = rf"(?<![\w'])(?P<who>(?:{names})(?:{BETWEEN_NAMES}(?:{names}))*)\s+"
    elsewhere = (rf"(?:(?:back|off|away|out|on|down|up|over|across|along|straight) )*"
                 rf"(?:(?:(?:down|up|along|across|through|over) )?(?:the|a) [\w'-]+ )?(?:to|toward|towards|into|for) "
                 rf"(?!(?:me|us|you|him|her|them|my|our|your)\b|(?:the |a |an )?(?:{'|'.join(sorted(SCENERY))})\b)")
    going = rf"{doers}(?:\w+ly\s+)?(?!\w+ (?:me|us|you)\b)(?:{MOVE_VERBS}) {elsewhere}"
    going_after_doing = (rf"(?:^|[.!?;,]\s*(?:and\s+)?|\b(?:then|while|whilst|as|when|but)\s+){doers}(?:(?!{names})[^.;!?])*?"
                         rf"\b(?:and|before|then|after) (?:\w+ly\s+)?(?:{MOVE_VERBS}) {elsewhere}")
    return _doers(folded, (going, going_after_doing))


def _arrivals_and_departures(text: str, scene: Scene) -> tuple[list[str], list[str]]:
    arriving, departing = [], []
    folded = fold(text)
    for name in scene.cast:
        folded = _sub(rf"(?<![\w']){re.escape(fold(name))}(?![\w'])", _bare(name), folded)
    names = "|".join(re.escape(_bare(name)) for name in sorted(scene.cast, key=len, reverse=True) if name) or "x^"
    going_elsewhere = _doers_going_elsewhere(folded, names)
    arrives = (rf"(?:{ARRIVAL_WORDS}|(?:comes|came|come) (?:\w+ing )?(?:in|into|over|down|up|through|round|around|back|inside|aboard)|"
               rf"(?!(?:{NOT_LEAVING_OFF}|{LEAVING_WORDS})\b)\w{{3,}}(?:s|ed)? (?:(?:his|her|their|a|the) [\w'-]+ )?"
               rf"(?:(?:down|up|back|over) )?"
               rf"(?:in|into|onto|aboard|inside)|(?!(?:{NOT_LEAVING_OFF}|{SEEING})\b)\w{{3,}}(?:s|ed) (?:in )?through the "
               rf"(?:\w+ )?(?:door|doors|doorway|gate|entrance|hatch|curtain|curtains|arch|archway)\b|"  # "Finn bursts through the door"
               rf"(?!(?:{NOT_LEAVING_OFF}|{NOT_ARRIVING_UP})\b)\w{{3,}}(?:s|ed)? (?:(?:his|her|their|a|the) [\w'-]+ )?(?:over|up)"  # "Auntie Sal waddles over",
               rf"(?=\s*(?:$|[.,;!]|and\b|with\b|from\b|beside\b|behind\b|alongside\b|together\b|again\b|"
               rf"to (?:me|us|you)\b|"
               rf"to (?:the|a|our|my) (?:\w+ )?(?:{IN_THE_ROOM})\b)))(?![\w'])")  # "Mags rolls up", "… up to the desk"
    arrives_by = (rf"(?:\w{{3,}}(?:s|ed)? (?:up|down|along|across)|{CLIMB}) the (?:\w+ )?(?:{ROUTES})(?=\s*(?:$|[.,;!]|from\b|"
                  rf"and\b|together\b|to (?:me|us|you)\b))")  # "the harbourmaster stomps up the gangplank"
    leaves = (rf"(?:{LEAVING_WORDS}|\w{{3,}}(?:s|ed)? (?:down|up|out) the (?:\w+ )?(?:ladder|stairs|stair|steps|staircase|rope|"
              rf"trapdoor|hatch|gangplank|gangway)\b|(?:{SLANG_LEAVING})(?=\s*(?:$|[.,;!]|(?:and|then|when|as|because|after|before|while)\b))|"
              rf"(?!(?:{SEEING})\b)\w{{3,}}(?:s|ed)? (?:back |out |off )?through the (?:\w+ )?"
              rf"(?:door|doors|doorway|gate|exit|hatch|curtain|curtains|arch|archway)\b|(?!(?:{NOT_LEAVING_OFF})\b)\w{{3,}}(?:s|ed)? (?:(?:on|right|back|straight) )?"
              rf"(?:away|off|out|home|overboard|ashore|below|upstairs|downstairs|outside)"
              rf"(?!\s+(?:the|a|an|his|her|their|my|some|to (?:me|us|you))\b"
              rf"(?!\s+(?:back|door|doorway|window|exit|gate|side|front)\b)))(?![\w'])")  # "slips out the back"
    doers = rf"(?<![\w'])(?P<who>(?:{names})(?:{BETWEEN_NAMES}(?:{names}))*)\s+"
    clause_start = r"(?:^|[.!?;,]\s*(?:and\s+)?|\b(?:then|while|whilst|as|when|but)\s+)"
    # Who arrives or leaves by the long lists of verbs, searched once for every name in the scene.
    arriving_doers = _doers(folded, (
        rf"{doers}(?:(?:\w+ly|both|all)\s+)?(?:{arrives}|{arrives_by})",
        rf"{doers}(?:(?!{names})[^.;!?])*?\band (?:\w+ly\s+)?{arrives}",
        # "Pim runs up to me", "Caddock pushes through the crowd and sits down beside you"
        rf"{doers}(?:(?!{names})[^.;!?])*?\b(?:beside|next to|alongside|up to|over to|across to|in front of|opposite|"
        rf"across from|toward|towards) (?:me|us|you)\b"))
    leaving_doers = _doers(folded, (
        rf"{doers}(?:(?:\w+ly|both|all)\s+)?{leaves}",
        # "Brannock gathers her shawl and leaves", "Sable bids you and Dr. Okafor good evening and leaves" (the one
        # who leaves opens the clause)
        rf"{clause_start}{doers}(?:(?!{names})[^.;!?])*?\b(?:and|before|then|after) (?:\w+ly\s+)?{leaves}",
        rf"(?:^|[.!?;]\s+)(?:\w+,?\s+)?{doers}[^.;!?]*?\band (?:\w+ly\s+)?{leaves}"))
    for name in scene.cast:
        key = re.escape(_bare(name))
        subject = _subject(key, names)
        named = rf"(?<![\w']){key}(?![\w'])"
        if _search(named, arriving_doers) or _search(SHOWN_IN.format(key=key), folded):
            arriving.append(name)
        if _search(named, leaving_doers) or _search(named, going_elsewhere) or _search(
                rf"\b(?:wave|waves|waved|see|sees|saw|shoo|shoos|shooed|send|sends|sent|usher|ushers|ushered|pack|packs|packed|"
                rf"bundle|bundles|bundled|ship|ships|shipped)\s+{key}\s+"
                rf"(?:off|away|home|out|outta)\b", folded) or _search(
                rf"\b(?:{verb_forms('wave, bid, kiss, wish')}|bade)\s+{key}\s+(?:goodbye|farewell|good night|goodnight)\b",
                folded) or _search(
                # "I order Astrid to go and guard the ships": told to go, gone
                rf"(?<!not )(?<!n't )(?<!never )\b(?:{SENT_ON_AN_ERRAND}|told)\s+{key}\s+(?:to\s+(?:{ERRANDS})|up|down|out|off|"
                rf"back|away|below|aloft|ashore|over)\b",
                folded) or _search(
                rf"(?<!not )(?<!n't )(?<!never )\b(?:leave|leaves|left|send|sends|sent|dismiss|dismisses|dismissed|abandon|abandons|ditch|"
                rf"{verb_forms('dispatch, pack off')}|"
                rf"ditches|wave goodbye to|say goodbye to|bid farewell to|part ways with|slip away from|"
                rf"lose|lost|{verb_forms('shake off, evade, outrun, get rid of, escape from, give the slip to')})\s+{key}(?![\w])",
                folded):
            departing.append(name)
        # "June follows Officer Diaz outside": who is followed away leaves too.
        followed_away = (rf"(?:{verb_forms('follow, trail, tail, tag, chase, accompany, escort')}) (?:along )?(?:after |behind )?"
                         rf"(?:{{whom}}) "
                         rf"(?:away|off|out|outside|home|upstairs|downstairs|(?:(?:back|off|out|down|up|over) )?"
                         rf"(?:to|into|toward|towards|for) (?!(?:me|us|you)\b))")
        if _search(rf"{subject}(?:\w+ly\s+)?" + followed_away.format(whom=names), folded) or _search(
                rf"(?:^|[.!?;]\s+){subject}[^.;!?]*?\band (?:\w+ly\s+)?" + followed_away.format(whom=names), folded) or _search(
                rf"(?<![\w'])(?:{names})\s+(?:\w+ly\s+)?" + followed_away.format(whom=key), folded) or _search(
                rf"(?:^|[.!?;]\s+)(?:{names})\s[^.;!?]*?\band (?:\w+ly\s+)?" + followed_away.format(whom=key), folded):
            departing.append(name)
    for name in scene.cast:
        key = re.escape(_bare(name))
        subject = _subject(key, names)
        # "Chief Varga stomps in … with Auntie Pell hurrying after her"
        if any(_search(rf"{re.escape(_bare(arriver))}[^.;!?]*\b(?:with {key}(?![\w])|on {key}'s arm)", folded)
               for arriver in arriving):
            arriving.append(name)
        if any(_search(rf"{subject}(?:\w+ly\s+)?(?:followed|follows|came|comes|trailed|trails)\s+(?:close\s+|right\s+|just\s+)?"
                         rf"(?:behind|after) {re.escape(_bare(arriver))}(?![\w])", folded) for arriver in arriving):
            arriving.append(name)  # "Queen Elarwen followed close behind her"
        if any(_search(rf"{re.escape(_bare(leaver))}[^.;!?]*\bon {key}'s arm", folded) for leaver in departing):
            departing.append(name)  # "Delphine goes out onto the promenade on Captain Beaumont's arm"
        # "Dr. Okafor strides off toward the seed vault, and Sable trundles after her"
        if any(_search(rf"{subject}(?:\w+ly\s+)?(?:\w+ (?:after|with)|follows|followed|trails|trailed) {re.escape(_bare(leaver))}(?![\w])",
                         folded)
               for leaver in departing):
            departing.append(name)
    return _unique(arriving), _unique(departing)


def _pronouns_named(text: str, scene: Scene) -> str:
    """``text`` with "he", "she", "they" (and "him", "them", "her" sent off) as the last character named before them in
    the same sentence or the one before ("I wave to Hale as he walks away" → "… as Hale walks away"); a pronoun with no
    name before it stays. "After her" is never the one who goes after ("Okafor strides off, and Sable trundles after
    her" → after Okafor)."""
    if not scene.cast:
        return text
    names = "|".join(re.escape(name) for name in sorted(scene.cast, key=len, reverse=True))
    mention = re.compile(rf"(?<![\w'])(?:(?P<name>{names})|(?:he|she|they|him|them|(?<=after )her|her(?=\s+(?:off|away|out|home|goodbye|farewell|up|down|back|below|aloft|ashore)\b)))"
                         r"(?![\w'])", re.I)
    sentences = []
    last_named = None
    for sentence in _split(ABBREVIATION_SAFE_END, text):
        named = last_named  # the sentence before may name who "he" is
        named_here, written, position = None, [], 0
        earlier = None  # the one named before ``named``
        for match in mention.finditer(sentence):
            if match.group("name"):
                if named and fold(named) != fold(match.group("name")):
                    earlier = named
                named = named_here = match.group("name")
            follows = not match.group("name") and _search(r"\b(?:after|with|behind|beside|follows|followed|trails|trailed)\s+$",
                                                             sentence[:match.start()], re.I)
            meant = earlier if follows and earlier else named
            written += [sentence[position:match.start()], match.group(0) if match.group("name") else meant or match.group(0)]
            position = match.end()
        sentences.append("".join([*written, sentence[position:]]))
        last_named = named_here
    return " ".join(sentences)


# Who sends or points me somewhere does not come: "Varus sends me to the drill field".
NOT_COMING_WITH = verb_forms("send, order, tell, direct, point, wave, beckon, summon, call, invite, ask, welcome, "
                             "introduce, refer, sentence, banish, exile, throw, toss, kick, shove, push, post, assign")
# What one leaves with someone stays with them: "I leave my canteen with Dr. Okafor".
LEFT_WITH = verb_forms("leave, entrust, deposit, stash")
TAKES_ALONG = verb_forms("take, bring, lead, follow, help, drag, carry, guide, escort, tail, shadow, trail, chase, pursue, "
                         "accompany")


def _coming_along(action: str, scene: Scene) -> list[str]:
    folded = fold(action)
    along = []
    names = "|".join(re.escape(fold(name)) for name in sorted(scene.cast, key=len, reverse=True) if name) or "x^"
    gone_after = " | ".join(found.group("who") for found in _finditer(
        rf"\b(?:{MOVE_VERBS}|{TAKES_ALONG}|tag|tags|tagged)(?:\s+along)?\s+(?:after|behind|beside|with)\s+(?P<who>{names})(?![\w])",
        folded))  # "I trail after Astrid", "I tag along behind Lucia": once for every name, the verbs make a long pattern
    for name in scene.cast:
        key = re.escape(fold(name))
        with_them = _search(rf"\b(?:with|{TAKES_ALONG})\s+{key}(?![\w])", folded)
        left_with = with_them and _search(rf"\b(?:{LEFT_WITH})\b[^,;.]*$", folded[:with_them.start()])
        if with_them and not left_with or _search(
                rf"(?<![\w']){key}\s+(?:\w+ly\s+)?(?:{COME_ALONG})\b", folded) or _search(
                rf"(?<![\w']){key}\s+(?:\w+ly\s+)?(?!(?:{NOT_COMING_WITH})\b)[a-z-]+\s+(?:me|us)\s+(?:[\w'-]+\s+){{0,6}}?"
                rf"(?:to|into|onto|toward|towards|through|across|inside|aboard)\b", folded) or _search(
                rf"\b(?:led|taken|brought|escorted|guided|dragged|carried|walked|driven|shown|rowed|flown|hauled|pulled)"
                rf"\s+(?:[\w'-]+\s+){{0,4}}?by\s+{key}(?![\w])", folded) or _search(
                rf"(?<![\w']){key} and (?:i|me)\b|\b(?:i|me) and {key}(?![\w])", folded) or _search(
                rf"(?<![\w']){key}(?![\w'])", gone_after):
            along.append(name)
    return along


def _invited(action: str, scene: Scene) -> list[str]:
    """Characters who agree or are asked to go with the player from now on ("I ask Orla to come with me")."""
    invited = []
    for sentence in _split(r"(?<=[.!?;])\s+", fold(action)):
        for name in scene.cast:
            key = re.escape(fold(name))
            found = _search(rf"(?<![\w']){key}(?:'s)?\s+(?:\w+\s+)?(?:to\s+)?(?:(?:come|go|walk|travel|ride|sail)s?\s+"
                              rf"(?:along\s+)?with|(?:follow|join)s?)\s+(?:me|us)\b", sentence)
            if found and not _search(r"\b(?:not|don't|never|refuse|refuses|won't)\b", sentence[:found.start()]):
                invited.append(name)
    return invited


def _as_the_player(prose: str) -> str:
    """A passage told to "you" in the player's own words: "You find a key and slip it into your pocket" →
    "I find a key and slip it into my pocket", "Tobin hands you a rope" → "Tobin hands me a rope"."""
    text = _sub(r"(^|[.!?;:,]\s*|\b(?:and|then|as|while|when|before|after|once|so|but|until)\s+)you(?![\w'])", r"\1I",
                  prose.replace("’", "'"), flags=re.I | re.M)
    # "Tucked inside his jacket you find a map": "you" before a verb does it; before a thing or a word of place it is
    # given or spoken to ("hands you a rope", "beside you")
    text = _sub(rf"\byou(?=\s+(?!(?:{'|'.join(sorted(DETERMINERS | PHRASE_STOPS | PRONOUNS))}|your|all|again|and)\b)"
                  rf"(?:\w+ly\s+)?[a-z]+(?:s|ed)?\b)", "I", text)
    text = _sub(r"\byou're\b", "I'm", text, flags=re.I)
    text = _sub(r"\byourself\b", "myself", text, flags=re.I)
    text = _sub(r"\byour\b", "my", text, flags=re.I)
    return _sub(r"\byou\b", "me", text, flags=re.I)


def _items_told(prose: str, scene: Scene) -> tuple[list[str], list[str], list[str]]:
    """What the passage says the player got or parted with: only where "you" do it or are given it, never what
    someone else takes ("The guard pockets the coin")."""
    clauses = _clauses(_as_the_player(prose))
    told = [clause for clause in clauses if _search(r"\b(?:I|we)\b|\b(?:me|my|us|our)\b", clause)]
    gained, lost = _items(clauses, scene, only_mine=True)
    # Who gives the player something in the passage is there: "Auntie Sal presses a loaf into your arms".
    givers = [name for clause in told if _items([clause], scene)[0]
              for name in _names_in(_split(r"\b(?:me|my|us|our)\b", clause)[0], scene.cast)]
    return gained, lost, givers


TITLES = {"sergeant", "captain", "commander", "brother", "sister", "mother", "father", "mr", "mrs", "ms", "miss", "dr",
          "doctor", "abbot", "abbess", "ser", "sir", "lady", "lord", "old", "pilot", "bosun", "inspector", "detective",
          "officer", "professor", "master", "mistress", "judge", "lieutenant", "general", "major", "colonel", "uncle",
          "aunt", "auntie", "madam", "dame", "king", "queen", "prince", "princess", "little", "quartermaster",
          "boatswain", "mate", "cook", "granny", "grandma", "grandpa", "cousin", "chief", "elder", "nurse", "agent",
          "constable", "corporal", "private", "reverend", "bishop", "friar", "count", "countess", "duke", "duchess",
          "baron", "baroness", "mayor", "sheriff", "deputy", "marshal", "doc", "preacher", "padre", "don", "dona",
          "senor", "señor", "senora", "señora", "madame", "mister", "missus", "ma", "pa", "nana", "papa", "mama",
          "coach", "principal", "headmaster", "headmistress", "dean", "chancellor", "governor", "senator",
          "president", "admiral", "ensign", "commodore", "cadet", "sensei", "emperor", "empress", "sultan", "chef",
          "warden", "ranger", "trooper", "pastor", "vicar", "rabbi", "imam", "saint", "st",
          "grandmother", "grandfather", "gran", "gramps", "pop", "sarge", "cap", "cap'n", "skipper", "matron",
          "nanny", "herr", "frau", "monsieur", "mademoiselle", "signor", "signora", "lt",
          "sgt", "capt", "prof", "rev", "mx", "councillor", "alderman", "magistrate", "squire", "jarl", "thane", "earl", "khan", "chieftain",
          "shaman", "druid", "centurion", "legate", "tribune", "steward", "purser", "ringmaster", "big", "young", "mad",
          "blind", "fat", "tall", "red", "black", "grey", "gray", "white", "one-eyed", "prior",
          "prioress", "deacon", "archbishop", "cardinal", "sheikh", "emir", "pasha", "bey", "caliph", "vizier",
          "agha", "effendi", "healer", "herald"}


def _full_names(text: str, scene: Scene) -> str:
    """``text`` with a character called by a short name written in full: "Doyle" → "Sergeant Doyle" (a title
    dropped), "Bjorn" → "Bjorn the Skald" (an epithet dropped)."""
    for name in scene.cast:
        words = name.split()
        if len(words) == 2 and words[0].rstrip(".").lower() in TITLES and words[1][:1].isupper():
            short = words[1]
        elif len(words) >= 3 and words[1].lower() in ("the", "of") and words[0][:1].isupper():
            short = words[0]
        else:
            continue
        text = _sub(rf"(?<![\w']){re.escape(name)}(?![\w'])|(?<![\w'])(?<!\.\s){re.escape(short)}(?![\w]|'(?!s\b))",
                      lambda found, name=name: found.group(0) if _in_proper_name(found) else name, text)
        # typed in lower case, as the one who acts: "hargrove bustles off to the kitchens"
        text = _sub(rf"(^|[.!?;,]\s*|\b(?:and|then)\s+){re.escape(short.lower())}(?=\s+(?:\w+ly\s+)?[a-z]+(?:s|ed)\b)",
                      lambda found, name=name: found.group(1) + name, text)
    return _titles_named(text, scene)


# How one speaks of a character by their title alone: "her grace" is the duchess, "his lordship" the lord.
HONORIFICS = {"duchess": ("her grace",), "duke": ("his grace",), "lady": ("her ladyship", "milady", "my lady"),
              "lord": ("his lordship", "milord", "my lord"), "king": ("his majesty",), "queen": ("her majesty",),
              "countess": ("her ladyship",), "earl": ("his lordship",), "captain": ("the skipper", "cap'n"),
              "jarl": ("the jarl",), "professor": ("the prof",)}


def _titles_named(text: str, scene: Scene) -> str:
    """``text`` with "the duchess" or "her grace" written as the one character of the cast with that title."""
    def title_of(name: str) -> str:
        return _sub(r"^the\s+", "", name.lower().replace(".", "")).split(" ", 1)[0]

    for title in {title_of(name) for name in scene.cast} & TITLES:
        honorifics = HONORIFICS.get(title, ())
        holders = [name for name in scene.cast if title_of(name) == title]
        if len(holders) == 1:
            # "the duchess" only as a name, not as a word describing a thing: "the old sword", "the general store"
            text = _sub(rf"(?<![\w'])the {title}(?=\s*$|\s*[.,;:!?]|\s+(?:{'|'.join(sorted(PHRASE_STOPS))})\b|"
                          rf"\s+(?:is|was|are|were|and|[a-z-]+(?:s|ed))\b)", holders[0], text, flags=re.I)
            if honorifics:
                text = _sub(rf"(?<![\w'])(?:{'|'.join(map(re.escape, honorifics))})(?![\w'])", holders[0], text,
                              flags=re.I)
    return text


# Sending someone off is their leaving: "I send Teo to fetch water", "I order Astrid to go and guard the ships" (but
# asking is no sending: "I ask Orla to fetch the map").
SENT_ON_AN_ERRAND = verb_forms("order, tell, send, command, dispatch")
ERRANDS = verb_forms("go, leave, head, return, run, get out, get going, fetch, guard, find, check, wait outside, take, "
                     "bring, fly, ride, hurry, scout, warn")
# Verbs of tending to what someone has on them, which they do only with the owner there.
SERVING = verb_forms("light, refill, fill, top up, pour, straighten, adjust, button, unbutton, brush, dust off, mend, "
                     "hold, carry, kiss, shake, bandage, dress, stitch, tend, clean, wipe, wash, warm")
SENTENCE_OPENERS = {"I", "Then", "And", "But", "So", "When", "While", "As", "After", "Before", "Meanwhile", "Now", "Soon",
                    "Later", "Together", "With", "Without", "At", "On", "In", "Once", "Finally", "We", "You", "The"}


def _in_proper_name(found: re.Match) -> bool:
    """Whether a capitalised word touches the match: "Whitlock Farm" is a place, not Mr. Whitlock (but "I", a
    sentence's opening word or an adverb is no part of a name: "I bandage Bjorn's hand", "Then Doyle leaves")."""
    before, after = found.string[:found.start()], found.string[found.end():]
    word_before = _search(r"\b([A-Z][\w'.]*)\s+$", before)
    return bool(_match(r"\s+[A-Z]", after) or word_before and not (
        word_before.group(1) in SENTENCE_OPENERS or word_before.group(1).lower().endswith("ly")))


def state_change(action: str, *, scene: Scene, prose: str = "") -> StateChange:
    """What ``action`` (and the passage written for it, ``prose``) changes in the state described by ``scene``."""
    action, prose = _full_names(action, scene), _full_names(prose, scene)
    clauses = _clauses(action)
    gained, lost = _items(clauses, scene)
    told_gained, told_lost, givers = _items_told(prose, scene)
    gained, lost = _unique([*gained, *told_gained]), _unique([*lost, *told_lost])
    location = _location(clauses, scene)
    moved = location is not None and fold(location) != fold(scene.location)
    present = [name for name in scene.present if name != scene.player]
    arriving, departing = _arrivals_and_departures(_pronouns_named(action, scene), scene)
    prose_arriving, prose_departing = _arrivals_and_departures(_pronouns_named(prose, scene), scene)
    invited = _invited(action, scene)
    along = _unique([*_coming_along(action, scene), *invited])
    # who is with the player by their own words stays with them, whatever else the action says of them
    together = [name for name in along if _search(rf"(?<![\w']){re.escape(fold(name))} and (?:i|me)\b|\b(?:i|me) and "
                                                    rf"{re.escape(fold(name))}(?![\w'])", fold(action))]
    stay = set(along) | (set(scene.companions) & set(present))
    main_clause = _sub(r"\b(?:where|which|that|who|whom|whose)\b.*", "", fold(action))  # not "… where we sleep"
    if _search(r"\b(?:we|us|our)\b", main_clause) and not along:
        stay |= set(present)  # "we" is everyone here, unless the action says who ("a cab with Marcus and we ride")
    told_going = set(departing) | set(prose_departing)
    gone = set(told_going)
    if moved:
        gone |= {name for name in present if name not in stay}
    # A character the action or the passage brings in is in the scene, even at a new place; one who was here and is
    # told both coming and going ("withdraws into the kitchen") goes.
    arrived = {name for name in [*arriving, *prose_arriving] if not (name in present and name in told_going)}
    coming = [name for name in _unique([*along, *arriving, *prose_arriving, *givers, *_people_acted_on(clauses, scene)])
              if name != scene.player and (name not in gone or name in arrived or name in together)]
    gone -= set(coming)
    # Whoever came along on a move, or was asked to, goes with the player from now on; leaving parts them.
    joining = [name for name in _unique([*(along if moved else []), *invited])
               if name not in scene.companions and name not in gone and name != scene.player]
    parting = [name for name in scene.companions if name in gone or name in departing or name in prose_departing]
    return StateChange(location=location if moved else None, items_gained=gained, items_lost=lost,
                       entering=[name for name in coming if name not in present],
                       leaving=[name for name in present if name in gone],
                       companions_joining=joining, companions_parting=parting)


def _unique(values: list[str]) -> list[str]:
    seen, result = set(), []
    for value in values:
        if fold(value) not in seen:
            seen.add(fold(value))
            result.append(value)
    return result
