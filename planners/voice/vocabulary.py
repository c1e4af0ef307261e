"""The words and phrase templates of operator corrections: what `distill` understands, and what the
voice recogniser's grammar is built from (planners.voice.recogniser builds a JSGF grammar from it).

Every `<name>` in a template is a key of `slots`; slot values are literal word sequences (no nested
slots), so a grammar is the templates with each slot expanded to an alternative of its values.
tests/planners/corrections/test_correction_distill.py expands every template and checks that `distill` accepts it.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hardware.types import ObjectState
from planners.grounding import scene_nouns
from planners.language import KNOWN_COLORS, UNITS_M, direction_of, number_words
from planners.language import NUMBER_WORDS as DISTANCE_NUMBER_WORDS, SIZE_WORDS as LANGUAGE_SIZE_WORDS
from skill_lib.skills.common import DIRECTIONS

#: spoken numbers, one to twenty: speech recognisers give words, not digits
NUMBER_WORDS: tuple[str, ...] = tuple(number_words(n) for n in range(1, 21))
#: the spelled-out units a recogniser's dictionary has (a subset of planners.language.UNITS_M: a unit added here
#: must be in the dictionary, or the grammar drops it with a warning)
UNIT_WORDS: tuple[str, ...] = ("centimeters", "centimetres", "centimeter", "millimeters", "millimetres",
                               "inches", "inch", "meters")
#: horizontal directions in the robot base frame (x forward, y to the robot's left): the canonical names and
#: one spoken alternative each for forward and backward ("further away" and the like are not in the grammar)
DIRECTION_WORDS: tuple[str, ...] = (*DIRECTIONS, "away", "closer")
#: the directions said as "to the <side>": those across the robot (a y component)
SIDE_WORDS: tuple[str, ...] = tuple(name for name, (_, y) in DIRECTIONS.items() if y)
#: colour and size words; no template uses them yet, so they are not in the grammar
COLOR_WORDS: tuple[str, ...] = tuple(sorted(KNOWN_COLORS))
SIZE_WORDS: tuple[str, ...] = tuple(LANGUAGE_SIZE_WORDS)
# what the grammar lets a recogniser say, the distiller must read
_UNREAD = ([w for w in NUMBER_WORDS if w not in DISTANCE_NUMBER_WORDS] + [w for w in UNIT_WORDS if w not in UNITS_M]
           + [w for w in DIRECTION_WORDS if direction_of(w) is None])
if _UNREAD:
    raise LookupError(f"voice words that planners.language does not read: {', '.join(_UNREAD)}")
DEFAULT_OBJECT_WORDS: tuple[str, ...] = ("cube", "block", "brick", "lego brick", "tray", "box")
DEFAULT_CONTAINER_WORDS: tuple[str, ...] = ("tray", "box", "bin")
DEFAULT_SKILL_WORDS: tuple[str, ...] = ("pick", "place", "push", "move to")

#: canonical correction templates (each one a phrase distill() accepts once its slots are filled)
TEMPLATES: tuple[str, ...] = (
    # grasp height (pick.grasp_offset)
    "grasp lower", "grasp higher", "grasp it lower", "grasp it higher",
    "grasp it a bit lower", "grasp it a bit higher",
    "grasp it <number> <unit> lower", "grasp it <number> <unit> higher",
    "grab it lower", "grab it higher", "grab it a bit lower", "grab it a bit higher", "pick it up lower",
    "pick it up higher",
    # grasp side (recorded; no skill uses it yet)
    "grasp it from the side", "grasp it from the top",
    # placement (place.offset_x / offset_y)
    "<number> <unit> to the <side>", "<number> <unit> <direction>",
    "a bit to the <side>", "a bit more to the <side>", "a bit <direction>", "a bit more <direction>",
    "more to the <side>", "move it <number> <unit> <direction>", "move it <number> <unit> to the <side>",
    "place it <number> <unit> <direction>", "put it a bit more to the <side>",
    # push distance (push.distance)
    "push it further", "push it a bit further", "push it <number> <unit> further",
    "push it <number> <unit> more", "push it less far", "push it <number> <unit> less",
    # hover height (move_to.height)
    "hover higher", "hover lower", "hover <number> <unit> higher", "hover <number> <unit> lower",
    # speed (every skill with a speed parameter, or the skill in context)
    "slower", "faster", "move slower", "move faster", "more slowly", "more quickly", "go slower",
    "go faster", "a bit slower", "a bit faster", "go a bit slower", "go a bit faster", "much slower",
    "slow down", "speed up",
    "push it slower", "grasp it slower", "place it slower",
    # plan rules: destinations and ordering
    "that goes in the <container>", "it goes in the <container>", "this belongs in the <container>",
    "the <object> goes in the <container>", "the <object> belongs in the <container>",
    "put that in the <container>", "that should go in the <container>", "put the <object> in the <container>",
    "pick up the <object> before the <object>",
    "pick up the <object> first", "open the gripper first",
)

#: only for scenes with a drawer: "pull" beside "push" is a pair the recogniser confuses, so scenes
#: without drawers do not offer it (with it, the default scene's "push it further" was heard as "pull")
DRAWER_TEMPLATES: tuple[str, ...] = (
    "pull it further", "pull it a bit further", "pull it <number> <unit> further", "pull it <number> <unit> more",
    "pull it less far", "open it further", "open it a bit more", "pull it out more", "pull it out a bit more",
    "pull it out <number> <unit> more", "pull the <object> out more", "pull the <object> out further",
    "open the <object> first",
)
#: only for scenes whose objects name grasp points (the <grasp> slot: "handle", ...)
GRASP_POINT_TEMPLATES: tuple[str, ...] = ("grasp it by the <grasp>", "pick it up by the <grasp>",
                                          "hold it by the <grasp>", "grab it by the <grasp>",
                                          "grasp the <object> by the <grasp>", "grab the <object> by the <grasp>")


@dataclass(frozen=True)
class GrammarVocabulary:
    #: canonical correction templates with slots, e.g. "move it <number> <unit> <direction>"
    phrases: tuple[str, ...]
    #: slot name -> the words/phrases it can take ("direction": ("left", "right", ...))
    slots: dict[str, tuple[str, ...]]

    def words(self) -> frozenset[str]:
        """Every single word of the templates and slot values (a recogniser's dictionary)."""
        text = " ".join(self.phrases) + " " + " ".join(" ".join(v) for v in self.slots.values())
        return frozenset(w for w in re.sub(r"<\w+>", " ", text).split())


def template_slots(template: str) -> list[str]:
    """The slot names a template uses, in order ("<number> <unit> <direction>" -> number, unit, direction)."""
    return re.findall(r"<(\w+)>", template)


def _clean(words: Iterable[str]) -> tuple[str, ...]:
    """Lower-case, '_' as a space, de-duplicated, order kept."""
    cleaned = (" ".join(str(w).lower().replace("_", " ").split()) for w in words)
    return tuple(dict.fromkeys(w for w in cleaned if w))


def correction_vocabulary(object_words: Iterable[str] = (), skill_words: Iterable[str] = (), *,
                          container_words: Iterable[str] = (), drawers: bool = False,
                          grasp_points: Iterable[str] = ()) -> GrammarVocabulary:
    """The correction grammar for a scene: templates plus slot values.

    `object_words` are object descriptions from the scene ("red cube", "lego brick"); `skill_words` the
    skill names; `container_words` the containers of the scene (defaults: tray, box, bin); `drawers` and
    `grasp_points` (names such as "handle") add the pull and grasp-point phrasings.
    """
    objects = _clean(object_words) or DEFAULT_OBJECT_WORDS
    containers = _clean(container_words) or DEFAULT_CONTAINER_WORDS
    grasps = _clean(grasp_points)
    slots = {
        "number": NUMBER_WORDS, "unit": UNIT_WORDS, "direction": DIRECTION_WORDS, "side": SIDE_WORDS,
        "object": objects, "container": containers, "color": COLOR_WORDS, "size": SIZE_WORDS,
        "skill": _clean(skill_words) or DEFAULT_SKILL_WORDS,
    }
    if grasps:
        slots["grasp"] = grasps
    return GrammarVocabulary(
        phrases=TEMPLATES + (DRAWER_TEMPLATES if drawers else ()) + (GRASP_POINT_TEMPLATES if grasps else ()),
        slots=slots,
    )


def scene_vocabulary(objects: Mapping[str, ObjectState], skill_words: Iterable[str] = ()) -> GrammarVocabulary:
    """The grammar for a scene (name -> ObjectState): every way its objects can be said.

    Operators say "the blue cube" or "the box", not the planner's unique label "large blue cube", so
    each object contributes its nouns (category, synonyms) bare, with its colour, and with size + colour.
    """
    phrases: set[str] = set()
    container_phrases: set[str] = set()
    for noun, names in scene_nouns(objects).items():
        for name in names:
            obj = objects[name]
            said = {noun, *(f"{obj.color} {noun}" for _ in [0] if obj.color),
                    *(f"{obj.size} {obj.color or ''} {noun}" for _ in [0] if obj.size),
                    *(f"{obj.size} {noun}" for _ in [0] if obj.size)}
            (container_phrases if obj.is_container else phrases).update(" ".join(p.split()) for p in said)
    drawers = any(o.opening is not None for o in objects.values())
    grasps = sorted({g for o in objects.values() for g in o.grasp_points})
    return correction_vocabulary(sorted(phrases), skill_words, container_words=sorted(container_phrases),
                                 drawers=drawers, grasp_points=grasps)
