"""The words operators use, in one place: numbers, units and distances, horizontal directions, fillers,
colour/size/determiner words, and the validation of text before any parsing.

The task parser, the correction distiller, grounding and the voice vocabulary all read these tables; none of
them restates a word list. Skill names and the directions' unit vectors are not language: they come from the
skill library (`skill_lib.skills`), and the tables here are checked against it when this module is imported.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from skill_lib.skills import default_skills
from skill_lib.skills.common import DIRECTIONS
from skill_lib.spec import SkillSpec


class PhraseError(ValueError):
    """A phrase the tables refuse ("two distances", "a number without a unit"); the caller re-raises it as
    its own error type, with its own hint of what works."""


# -- skills -------------------------------------------------------------------------------------------------
#: the skills words can name: the library's one list
SKILL_SPECS: Mapping[str, SkillSpec] = {spec.name: spec for spec in default_skills()}


def known_skills(names: Iterable[str], table: str) -> frozenset[str]:
    """`names` as a set, after checking that the library has each skill (a table naming a renamed or removed
    skill fails on import, not when an operator first says the word)."""
    names = frozenset(names)
    if unknown := sorted(names - SKILL_SPECS.keys()):
        raise LookupError(f"{table} names skill(s) {', '.join(unknown)} that the skill library does not have")
    return names


def float_param(skill: str, name: str) -> tuple[float, float, float]:
    """(low, high, default) of a skill's float parameter, from its spec (the skill owns its bounds)."""
    param = SKILL_SPECS[skill].param(name)
    low, high = param.bounds
    return low, high, float(param.default)


# -- numbers ------------------------------------------------------------------------------------------------
ONES: tuple[str, ...] = tuple("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                              "fourteen fifteen sixteen seventeen eighteen nineteen".split())
#: twenty, thirty, ... ninety (index i is (i + 2) * 10)
TENS: tuple[str, ...] = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
#: the tens a distance may be said in: up to fifty, as the parser has always read them (larger ones stay
#: refused; no skill takes a distance of 50 cm)
_DISTANCE_TENS = {word: (i + 2) * 10 for i, word in enumerate(TENS) if (i + 2) * 10 <= 50}
#: number words of a distance -> value ("twenty five" is read from its two words)
NUMBER_WORDS: Mapping[str, float] = {**{w: i for i, w in enumerate(ONES)}, **_DISTANCE_TENS, "a": 1, "an": 1,
                                     "half a": 0.5, "half an": 0.5}


def number_words(number: int) -> str:
    """0..999 as spoken English words ("25" -> "twenty five"): recognisers hear words, not digits."""
    if not 0 <= number < 1000:
        raise ValueError(f"{number} is outside 0-999")
    if number < 20:
        return ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return TENS[tens - 2] + (f" {ONES[ones]}" if ones else "")
    hundreds, rest = divmod(number, 100)
    return f"{ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")


# -- units and distances ------------------------------------------------------------------------------------
#: unit word -> metres
UNITS_M: Mapping[str, float] = {
    "mm": 0.001, "cm": 0.01, "m": 1.0, "in": 0.0254, "inch": 0.0254, "inches": 0.0254,
    **{stem + end: scale for stem, scale in (("millimet", 0.001), ("centimet", 0.01), ("met", 1.0))
       for end in ("er", "re", "ers", "res")}}
#: how a refusal names the units (the abbreviations; the spelled-out words work too)
UNIT_HINT = "cm, mm, m or in"
_NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[-+]?[0-9]+)?"
_WORD_NUMBER = (rf"(?:{'|'.join(_DISTANCE_TENS)})(?:[ -](?:{'|'.join(ONES[1:10])}))?"
                rf"|{'|'.join(sorted(NUMBER_WORDS, key=len, reverse=True))}")
_UNIT = "|".join(sorted(UNITS_M, key=len, reverse=True))
#: a number (digits or words) and a unit; groups `num` and `unit` (see `measure`)
DISTANCE = re.compile(rf"(?<![\w.])(?P<num>{_NUMBER}|{_WORD_NUMBER}) ?(?P<unit>{_UNIT})(?![\w'])")
#: digits left once the distance is taken out: a number without a unit
STRAY_NUMBER = re.compile(rf"(?<![\w.]){_NUMBER}")


def measure(match: re.Match[str]) -> float:
    """Metres, from a match with the groups of DISTANCE ('10 cm' -> 0.1)."""
    num = match["num"]
    if num in NUMBER_WORDS:
        value = float(NUMBER_WORDS[num])
    elif num[0].isdigit() or num[0] in "+-.":
        value = float(num)
    else:  # "twenty five", "twenty-five"
        tens, _, ones = num.replace("-", " ").partition(" ")
        value = float(_DISTANCE_TENS[tens] + ONES.index(ones))
    return round(value * UNITS_M[match["unit"]], 9)


def take_distance(text: str, example: str) -> tuple[float | None, str]:
    """The one distance in `text` (metres, None if there is none) and the text without it. Raises PhraseError
    for two distances, or for a number without a unit (`example` shows how to say one)."""
    found = list(DISTANCE.finditer(text))
    if len(found) > 1:
        raise PhraseError(f"give one distance, not {', '.join(m.group() for m in found)}")
    distance = measure(found[0]) if found else None
    rest = text[:found[0].start()] + " " + text[found[0].end():] if found else text
    if stray := STRAY_NUMBER.search(rest):
        raise PhraseError(f"'{stray.group()}' needs a unit ({UNIT_HINT}), e.g. '{example}'")
    return distance, rest


# -- directions ---------------------------------------------------------------------------------------------
#: a sideways direction, with its optional frame words ("to the robot's left", "leftwards", "left side")
_SIDEWAYS = r"(?:(?:to|towards?) )?(?:the )?(?:robot'?s |your |its )?{}(?:wards?)?(?: side)?"
#: what "away from" / "towards" refer to: the robot's base, or the operator standing at it
_BASE = r"(?:the robot|the base|you|yourself|me|us)"
#: canonical direction (a key of skill_lib's DIRECTIONS, which holds its unit vector) -> its phrasings
DIRECTION_PHRASES: Mapping[str, str] = {
    "left": _SIDEWAYS.format("left"),
    "right": _SIDEWAYS.format("right"),
    "forward": rf"(?:(?:further|farther) )?away(?: from {_BASE})?|forwards?|ahead|to the front",
    "backward": rf"(?:towards?|closer to|nearer to) {_BASE}|closer|nearer|backwards?|back",
}
if DIRECTION_PHRASES.keys() != DIRECTIONS.keys():
    raise LookupError(f"direction phrases for {sorted(DIRECTION_PHRASES)}, but the skills' directions are "
                      f"{sorted(DIRECTIONS)}")
#: canonical direction -> a pattern finding its phrasings, in the order of skill_lib's DIRECTIONS
DIRECTION_PATTERNS: Mapping[str, re.Pattern[str]] = {
    name: re.compile(rf"\b(?:{DIRECTION_PHRASES[name]})\b") for name in DIRECTIONS}
#: single words that carry on a clause after "and" / "," instead of starting a new one ("push it 5 cm, left"):
#: direction words and the prepositions that lead into a direction or a distance
DIRECTION_ARGUMENT_WORDS: frozenset[str] = frozenset(
    "left right leftwards rightwards forward forwards backward backwards back away ahead closer nearer "
    "towards toward to by".split())


def direction_of(phrase: str) -> str | None:
    """The canonical direction a whole phrase names ("away from me" -> "forward"), or None."""
    return next((name for name, rx in DIRECTION_PATTERNS.items() if rx.fullmatch(phrase)), None)


def directions_in(text: str) -> list[str]:
    """Every direction `text` names, each once, in the order of DIRECTION_PATTERNS."""
    return [name for name, rx in DIRECTION_PATTERNS.items() if rx.search(text)]


def take_direction(text: str) -> tuple[str | None, str]:
    """The one direction `text` names (None if none) and the text without it; PhraseError for several."""
    spans = [(m.start(), m.end(), name) for name, rx in DIRECTION_PATTERNS.items() for m in rx.finditer(text)]
    names = {name for _, _, name in spans}
    if len(names) > 1:
        raise PhraseError(f"give one direction, not {' and '.join(sorted(names))}")
    for start, end, _ in sorted(spans, reverse=True):
        text = text[:start] + " " + text[end:]
    return (names.pop() if names else None), text


# -- objects: colours, sizes, determiners -------------------------------------------------------------------
#: size word -> the size an ObjectState carries
SIZE_WORDS: Mapping[str, str] = {
    "small": "small", "little": "small", "tiny": "small", "mini": "small", "smaller": "small",
    "large": "large", "big": "large", "bigger": "large", "larger": "large",
}
#: colour words understood even when nothing in the scene has that colour ("purple cube" -> none here)
KNOWN_COLORS: frozenset[str] = frozenset({
    "red", "green", "blue", "yellow", "orange", "purple", "violet", "pink", "white", "black",
    "gray", "grey", "brown", "cyan", "magenta",
})
#: extra nouns for a category
CATEGORY_NOUNS: Mapping[str, tuple[str, ...]] = {"cube": ("cube", "block")}
#: nouns that stand for any object ("the green one")
WILDCARD_NOUNS: frozenset[str] = frozenset({"one", "object", "thing", "item"})
DETERMINERS: frozenset[str] = frozenset({"the", "a", "an", "that", "this", "your", "my"})
#: words before a noun phrase that make it a set ("all the cubes", "both red ones"), with how many objects the
#: set must have (None: however many match)
SET_QUANTIFIERS: Mapping[str, int | None] = {"all": None, "every": None, "each": None, "both": 2}
#: a word for every object that can be picked up (containers and fixtures are not)
EVERYTHING = "everything"
#: things in the workspace that are not objects to manipulate
NOT_MANIPULABLE: frozenset[str] = frozenset({
    "robot", "arm", "gripper", "hand", "table", "tabletop", "floor", "yourself", "me", "you", "wall",
})


# -- normalising and fillers --------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Lower case, curly quotes straight, punctuation other than .,;'+- and the word "please" as spaces,
    single spaces, no leading or trailing punctuation."""
    text = text.lower().translate({0x2018: "'", 0x2019: "'"})
    text = re.sub(r"[^\w\s.,;'+-]", " ", text)
    text = re.sub(r"\bplease\b", " ", text)
    return re.sub(r"\s+", " ", text).strip(" .,;'-+")


#: fillers that open any instruction, task or correction
LEADING_FILLERS: tuple[str, ...] = ("hey robot", "robot", "you should", "and", "now")
#: fillers that close any instruction
TRAILING_FILLERS: tuple[str, ...] = ("now", "thanks", "thank you")


@dataclass(frozen=True)
class Fillers:
    """Words that open or close an instruction and carry no meaning ("could you", "thanks").

    Leading phrases are tried in the order given and the first that matches as whole words is taken, so a
    phrase listed after one of its own prefixes never applies (the order is behaviour: keep it)."""

    leading: tuple[str, ...]
    trailing: tuple[str, ...]

    @cached_property
    def _leading(self) -> re.Pattern[str]:
        return re.compile(rf"^(?:{'|'.join(self.leading)})\b ?")

    @cached_property
    def _trailing(self) -> re.Pattern[str]:
        return re.compile(rf" ?\b(?:{'|'.join(self.trailing)})$")

    def remove(self, text: str) -> str:
        """`text` without its leading and trailing fillers, repeatedly ("now could you ..." loses both)."""
        previous = None
        while text != previous:
            previous = text
            text = self._trailing.sub("", self._leading.sub("", text)).strip(" ,")
        return text


# -- word forms ---------------------------------------------------------------------------------------------
#: words without a concept of their own: whether a task says a taught phrase is decided by the other words
FUNCTION_WORDS: frozenset[str] = frozenset(
    "a an the this that these those my your our its their me us you i it them of to in into on onto at by for "
    "from with up down away out off over and or then some all every each".split())
#: words a task may say around a taught phrase: the workspace as a whole ("tidy up *the table*") and verbs of
#: doing ("*build* a tower")
FRAME_WORDS: frozenset[str] = frozenset(
    "table tabletop workspace desk bench area here everything things stuff mess "
    "do make build create form assemble".split())


def word_forms(word: str) -> frozenset[str]:
    """The word and the base forms it may be an inflection of: stacking -> stack, putting -> put, tidying ->
    tidy, placing -> place, cubes -> cube, boxes -> box, tidies -> tidy. Over-generates (placing -> plac):
    two words are the same word when their forms meet."""
    forms = {word}
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            base = word[:-len(suffix)]
            forms |= {base, base + "e"} | ({base[:-1]} if base[-1] == base[-2] else set())
    if word.endswith("ies") and len(word) > 4:
        forms.add(word[:-3] + "y")
    elif word.endswith("es") and len(word) > 3:
        forms |= {word[:-2], word[:-1]}
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        forms.add(word[:-1])
    return frozenset(forms)


def same_word(a: str, b: str) -> bool:
    return bool(word_forms(a) & word_forms(b))


def content_words(text: str) -> list[str]:
    """The words of normalised text that carry a concept (not FUNCTION_WORDS)."""
    return [w for w in text.split() if w not in FUNCTION_WORDS]


# -- validating text ----------------------------------------------------------------------------------------
#: characters no operator text carries: control, surrogate, private-use and unassigned
_CONTROL_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})


@dataclass(frozen=True)
class TextRules:
    """How one kind of operator text is checked before parsing, with its one-line refusals. A message is a
    format string (fields: {type}, {length}, {max_chars}, {count}); None leaves that check out."""

    max_chars: int
    not_text: str
    too_long: str
    #: control, binary or (with `printable_only`) other non-printing characters; {count} of them
    non_text: str | None = None
    empty: str | None = None
    #: mostly non-ASCII letters (the tables are English)
    not_english: str | None = None
    #: refuse every non-printing character (format characters, non-breaking and other odd spaces) as well:
    #: text from a network, where they are garbage rather than typing
    printable_only: bool = False
    #: say "empty" before the other refusals (a blank task over the limit, or of odd spaces, is "empty")
    empty_first: bool = False

    def is_non_text(self, char: str) -> bool:
        if char in "\t\n\r":
            return False
        return not char.isprintable() if self.printable_only else unicodedata.category(char) in _CONTROL_CATEGORIES


def text_problem(text: object, rules: TextRules) -> str | None:
    """Why `text` is refused under `rules` (a one-line message), or None if it may be parsed."""
    if not isinstance(text, str):
        return rules.not_text.format(type=type(text).__name__)
    if rules.empty is not None and rules.empty_first and not text.strip():
        return rules.empty
    if len(text) > rules.max_chars:
        return rules.too_long.format(length=len(text), max_chars=rules.max_chars)
    if rules.non_text is not None:
        count = sum(1 for c in text if rules.is_non_text(c))
        if count or "\ufffd" in text:  # U+FFFD: what a decoder left of bytes that were not text
            return rules.non_text.format(count=count or 1)
    if rules.empty is not None and not text.strip():
        return rules.empty
    if rules.not_english is not None:
        letters = [c for c in text if c.isalpha()]
        if letters and sum(not c.isascii() for c in letters) > 0.3 * len(letters):
            return rules.not_english
    return None


def require_text(text: object, rules: TextRules, error: type[Exception]) -> str:
    """`text`, or `error` with the reason it is refused."""
    if (problem := text_problem(text, rules)) is not None:
        raise error(problem)
    assert isinstance(text, str)  # text_problem refuses anything else
    return text
