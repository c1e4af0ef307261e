"""Grounding: resolve a noun phrase from a task ("the red block", "the bin") to one object in the scene.

A reference is colour words, size words and a noun. Nouns come from the scene itself: each object's
category, its synonyms and its name (with '_' as a space, colour and size words dropped), plus
"block"/"cube" for cubes. The words "one", "object", "thing" and "item" stand for any noun. The word
tables (colours, sizes, determiners, category nouns, quantifiers) are in planners.language.

A set reference names several objects: a plural ("the cubes", "the red ones"), a quantifier ("all the
cubes", "every block", "both small cubes", "the two red cubes", "everything") or a list ("the blue and the
green cube", "the red cube, the lego and the blue one").
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from hardware.types import ObjectState
from planners.language import CATEGORY_NOUNS, DETERMINERS, EVERYTHING, KNOWN_COLORS, NOT_MANIPULABLE, NUMBER_WORDS, \
    SET_QUANTIFIERS, SIZE_WORDS, WILDCARD_NOUNS
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


def _matching(words: list[str], said: str, objects: Mapping[str, ObjectState]) -> tuple[list[ObjectState], set[str]]:
    """The objects a reference (determiners removed) can denote, and the sizes it asked for."""
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
    if not sized:
        raise no_such
    return sized, sizes


def manipulable(obj: ObjectState) -> bool:
    """An object the robot can pick up: not a container and not a fixture (a drawer)."""
    return not obj.is_container and obj.opening is None


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
    candidates, sizes = _matching(words, said, objects)
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


_LIST_SPLIT = re.compile(r" ?(?:, ?and\b|,|\band\b) ?")


def _singular(word: str, nouns: Mapping[str, frozenset[str]]) -> str | None:
    """The scene noun (or wildcard noun) a plural word is the plural of: cubes, boxes, ones; else None."""
    for stem in (word[:-2], word[:-1]) if word.endswith("es") else (word[:-1],) if word.endswith("s") else ():
        if stem and (stem in nouns or stem in WILDCARD_NOUNS):
            return stem
    return None


def _quantified(words: list[str]) -> tuple[bool, int | None, list[str]]:
    """Leading quantifier and count words taken off: (said as a set?, how many it must be, the rest)."""
    is_set, count = False, None
    while words:
        word = words[0]
        if word in SET_QUANTIFIERS:
            is_set, count = True, SET_QUANTIFIERS[word] if count is None else count
        elif word in ("of",) or word in DETERMINERS:
            pass
        elif word.isdigit() or (word in NUMBER_WORDS and word not in ("a", "an") and NUMBER_WORDS[word] >= 2):
            is_set, count = True, int(word) if word.isdigit() else int(NUMBER_WORDS[word])
        else:
            break
        words = words[1:]
    return is_set, count, words


def is_set_reference(phrase: str, objects: Mapping[str, ObjectState]) -> bool:
    """Whether `phrase` names several objects (a plural, a quantifier or a list), not one."""
    words = phrase.lower().replace("_", " ").split()
    if " ".join(words) in {n.lower() for n in objects}:
        return False
    if words[:1] == [EVERYTHING] or _quantified(words)[0] or len(_LIST_SPLIT.split(" ".join(words))) > 1:
        return True
    nouns = scene_nouns(objects)
    return bool(words) and words[-1] not in nouns and _singular(words[-1], nouns) is not None


def ground_set(phrase: str, objects: Mapping[str, ObjectState]) -> list[str]:
    """Resolve a set reference (see is_set_reference) to object names, in scene order. Raises TaskError (one
    line) when a part names nothing, a count does not match ("both red cubes" with three red cubes), or a
    list names one object twice."""
    phrase = " ".join(phrase.lower().replace("_", " ").split())
    nouns = scene_nouns(objects)
    parts = _LIST_SPLIT.split(phrase)
    head = parts[-1].split()[-1] if parts[-1] else ""
    head_singular = _singular(head, nouns) or head
    chosen: list[str] = []
    for part in parts:
        is_set, count, words = _quantified(part.split())
        if words[:1] == [EVERYTHING]:
            found = [o for o in objects.values() if manipulable(o)]
            said = " ".join(words)
        else:
            if words and _singular(words[-1], nouns):
                is_set, words = True, words[:-1] + [_singular(words[-1], nouns) or ""]
            elif len(parts) > 1 and words and words[-1] not in nouns and words[-1] not in WILDCARD_NOUNS:
                words = words + [head_singular]  # "the blue [cube] and the green cube"
                is_set = is_set or head != head_singular
            said = " ".join(words)
            if not words:
                raise TaskError(f"which objects? objects here: {describe_scene(objects)}")
            if is_set:
                found = _matching(words, said, objects)[0]
                if words[-1] in WILDCARD_NOUNS:  # "the red ones", "all objects": things to pick up, not the tray
                    found = [o for o in found if manipulable(o)]
            else:
                name, _ = ground(" ".join(words), objects)
                found = [objects[name]]
        if count is not None and len(found) != count:
            listing = ", ".join(describe_object(o, objects) for o in found) or "none"
            raise TaskError(f"'{part}' names {count} objects but {len(found)} match here ({listing}); say which")
        for obj in found:
            if obj.name in chosen:
                raise TaskError(f"the {describe_object(obj, objects)} is named twice in '{phrase}'")
            chosen.append(obj.name)
    order = list(objects)
    return sorted(chosen, key=order.index)
