"""Grounding: resolve a noun phrase from a task ("the red block", "the bin") to one object in the scene.

A reference is colour words, size words and a noun. Nouns come from the scene itself: each object's
category, its synonyms and its name (with '_' as a space, colour and size words dropped), plus
"block"/"cube" for cubes. The words "one", "object", "thing" and "item" stand for any noun. The word
tables (colours, sizes, determiners, category nouns) are in planners.language.
"""
from __future__ import annotations

from collections.abc import Mapping

from hardware.types import ObjectState
from planners.language import CATEGORY_NOUNS, DETERMINERS, KNOWN_COLORS, NOT_MANIPULABLE, SIZE_WORDS, WILDCARD_NOUNS
from planners.plan import TaskError


def describe_object(obj: ObjectState, objects: Mapping[str, ObjectState]) -> str:
    """A short human label ("large red cube"); the name when the label would not be unique."""
    label = obj.describe() or obj.name
    same = [o for o in objects.values() if (o.describe() or o.name) == label]
    return label if len(same) == 1 else obj.name.replace("_", " ")


def describe_scene(objects: Mapping[str, ObjectState]) -> str:
    """All objects as a comma-separated list, for error messages."""
    return ", ".join(describe_object(o, objects) for o in objects.values()) or "nothing"


def scene_colors(objects: Mapping[str, ObjectState]) -> frozenset[str]:
    return KNOWN_COLORS | {o.color.lower() for o in objects.values() if o.color}


def scene_nouns(objects: Mapping[str, ObjectState]) -> dict[str, frozenset[str]]:
    """Noun phrase -> names of the objects it can denote."""
    colors = scene_colors(objects)
    nouns: dict[str, set[str]] = {}
    for obj in objects.values():
        category = obj.category.lower()
        phrases = {category, *(s.lower() for s in obj.synonyms), *CATEGORY_NOUNS.get(category, ())}
        name_words = [w for w in obj.name.lower().replace("_", " ").split()
                      if w not in colors and w not in SIZE_WORDS]
        if name_words:
            phrases.add(" ".join(name_words))
        for phrase in phrases:
            nouns.setdefault(" ".join(phrase.split()), set()).add(obj.name)
    return {noun: frozenset(names) for noun, names in nouns.items() if noun}


def reference_vocabulary(objects: Mapping[str, ObjectState]) -> frozenset[str]:
    """Every word that can appear in a reference to an object of this scene."""
    noun_words = {w for noun in scene_nouns(objects) for w in noun.split()}
    return frozenset(noun_words | scene_colors(objects) | SIZE_WORDS.keys() | WILDCARD_NOUNS | DETERMINERS)


def _find_noun(words: list[str], nouns: Mapping[str, frozenset[str]]) -> tuple[str | None, list[str]]:
    """The longest scene noun in `words` (preferring the rightmost), and the words left over."""
    for length in range(min(len(words), 4), 0, -1):
        for start in range(len(words) - length, -1, -1):
            phrase = " ".join(words[start:start + length])
            if phrase in nouns:
                return phrase, words[:start] + words[start + length:]
    return None, words


def ground(phrase: str, objects: Mapping[str, ObjectState]) -> tuple[str, str | None]:
    """Resolve `phrase` to one object name; also return a note when an underspecified reference was
    resolved by preferring the large object ("'red cube' taken as the large red cube ...").

    Raises TaskError (one line) when nothing, or more than one object, matches.
    """
    words = [w for w in phrase.lower().replace("_", " ").split() if w not in DETERMINERS]
    said = " ".join(words)
    if not words:
        raise TaskError(f"which object? objects here: {describe_scene(objects)}")
    bare = " ".join(w for w in phrase.lower().split() if w not in DETERMINERS)
    by_lower_name = {name.lower(): name for name in objects}
    if bare in by_lower_name:  # an exact object name, e.g. "red_cube"
        return by_lower_name[bare], None
    nouns = scene_nouns(objects)
    noun, rest = _find_noun(words, nouns)
    if noun is None and any(w in NOT_MANIPULABLE for w in words):
        raise TaskError(f"the {said} is not an object I can manipulate; "
                        f"objects here: {describe_scene(objects)}")
    colors_known = scene_colors(objects)
    colors = {w for w in rest if w in colors_known}
    sizes = {SIZE_WORDS[w] for w in rest if w in SIZE_WORDS}
    unknown = [w for w in rest if w not in colors_known and w not in SIZE_WORDS and w not in WILDCARD_NOUNS]
    no_such = TaskError(f"no {said} in the scene; objects here: {describe_scene(objects)}")
    if unknown or (noun is None and not colors and not sizes and not set(rest) & WILDCARD_NOUNS):
        raise no_such
    candidates = [o for o in objects.values()
                  if (noun is None or o.name in nouns[noun])
                  and all((o.color or "").lower() == c for c in colors)]
    sized = [o for o in candidates if all(o.size == s for s in sizes)]
    if not sized and candidates and sizes and all(o.size is None for o in candidates):
        sized = candidates  # "the big tray" when trays have no size at all
    candidates = sized
    if not candidates:
        raise no_such
    if len(candidates) == 1:
        return candidates[0].name, None
    preferred = [o for o in candidates if o.size in ("large", None)]
    others = [o for o in candidates if o.size == "small"]
    if not sizes and len(preferred) == 1 and len(preferred) + len(others) == len(candidates):
        chosen = preferred[0]
        alternatives = " or ".join(f"'{describe_object(o, objects)}'" for o in others)
        plural = "s" if len(others) > 1 else ""
        return chosen.name, (f"'{said}' taken as the {describe_object(chosen, objects)} "
                             f"(say {alternatives} for the other{plural})")
    listing = ", ".join(describe_object(o, objects) for o in candidates)
    raise TaskError(f"'{said}' is ambiguous: {listing}; say which")
