"""Plan-rule corrections: ordering ("open the drawer first", "pick up the blue cube before the red cube")
and destinations ("that goes in the tray"), from text to records."""
from __future__ import annotations

import re
from typing import Any

from planners.corrections.context import CorrectionContext, CorrectionError, containers, phrase_context
from planners.corrections.memory.record import CorrectionRecord, ObjectContext, PlanRule
from planners.language import DETERMINERS, SIZE_WORDS, known_skills
from planners.task_phrases import ALL_VERBS, GRIPPER_VERBS, PICK_VERBS, PUSH_VERBS, PUT_VERBS

_ORDERING = (re.compile(r"^(?:first )?(?P<first>.+?) (?:before|prior to|ahead of) (?P<then>.+)$"),
             re.compile(r"^(?:always )?(?P<first>.+?) (?:first|at first|to begin with)$"),
             re.compile(r"^first (?P<first>.+)$"))
DESTINATION = re.compile(
    r"^(?:(?P<subj>.+?) (?:goes|go|belongs|belong|should go|should be|has to go|have to go|must go|needs to go"
    r"|need to go|is supposed to go|are supposed to go)|(?:put|place|drop) (?P<subj2>it|that|this|them|those"
    r"|these|the .+?)) (?:in|into|inside|in to|on|onto|on top of|to) (?P<container>.+)$")
PRONOUNS = frozenset({"it", "that", "this", "them", "those", "these", "they", "that one", "this one"})
#: task verbs an ordering rule reads as a skill; other verbs ("open", "close") are kept as said
_VERB_SKILLS = ((PICK_VERBS, "pick"), (PUT_VERBS, "place"), (PUSH_VERBS, "push"))
known_skills((skill for _, skill in _VERB_SKILLS), "rules._VERB_SKILLS")
_GRIPPER_NOUNS = frozenset({"gripper", "the gripper", "your gripper", "hand", "the hand", "your hand", "fingers",
                            "the fingers", "your fingers"})


def _attributes(obj: ObjectContext, said: str) -> dict[str, Any]:
    """The attributes a rule matches on: the category always; colour and size only if the operator said them."""
    words = set(said.split())
    return {"category": obj.category,
            "color": obj.color if obj.color and obj.color in words else None,
            "size": obj.size if obj.size and words & {w for w, s in SIZE_WORDS.items() if s == obj.size} else None}


def _skill_of(verb: str) -> str:
    for verbs, skill in _VERB_SKILLS:
        if verb in verbs:
            return skill
    return verb  # "open", "close": kept as said; matched against plan calls when applied


def _action(phrase: str, context: CorrectionContext, inherit: dict | None, notes: list[str]) -> dict:
    """{"verb", "object", "phrase"} for "open the drawer" / "pick up the blue cube"; a phrase without a
    verb ("... before the red cube") takes the verb of `inherit`."""
    words = re.sub(r"^(\w+) up\b", r"\1", phrase).split()
    if len(words) > 2 and words[0] in ALL_VERBS and words[-1] == "up":  # "pick the red cube up"
        words.pop()
    if words and words[0] in ALL_VERBS:
        said, rest = words[0], " ".join(words[1:])
        if said in GRIPPER_VERBS and (not rest or rest in _GRIPPER_NOUNS):
            return {"verb": GRIPPER_VERBS[said], "object": None, "phrase": phrase}
        verb = _skill_of(said)
    elif inherit is not None and words:
        verb, rest = inherit["verb"], " ".join(words)
    else:
        raise CorrectionError(f"'{phrase}' should start with an action (pick up, put, push, open, ...)")
    if not rest:
        raise CorrectionError(f"'{phrase}': which object?")
    obj = phrase_context(rest, context.objects, strict=False)
    if context.objects and obj.name is None:
        bare = " ".join(w for w in rest.split() if w not in DETERMINERS)
        notes.append(f"no {bare} in the current scene: the rule applies when a plan involves one")
    return {"verb": verb, "object": _attributes(obj, rest), "phrase": phrase}


def match_ordering(norm: str) -> tuple[str, str | None] | None:
    for pattern in _ORDERING:
        if m := pattern.match(norm):
            return m["first"], m.groupdict().get("then")
    return None


def ordering_record(first_text: str, then_text: str | None, context: CorrectionContext,
                    common: dict) -> CorrectionRecord:
    notes: list[str] = []
    first = _action(first_text, context, None, notes)
    then = _action(then_text, context, first, notes) if then_text else None
    if then is not None and then["verb"] == first["verb"] and then["object"] == first["object"]:
        raise CorrectionError(f"'{first_text}' before itself is contradictory")
    rule = PlanRule("before", {"first": first, "then": then})
    return CorrectionRecord(kind="plan", rule=rule, scope="category", note="; ".join(notes) or None, **common)


def destination_record(m: re.Match[str], context: CorrectionContext, base: ObjectContext | None,
                       common: dict) -> CorrectionRecord:
    subject = (m["subj"] or m["subj2"]).strip()
    container_phrase = " ".join(w for w in m["container"].split() if w not in DETERMINERS)
    if subject in PRONOUNS:
        if base is None:
            raise CorrectionError(f"what goes in the {container_phrase}? give the object (--object) or say "
                                  f"'the red cube goes in the {container_phrase}'")
        obj, said = base, ""
    else:
        obj, said = phrase_context(subject, context.objects), subject
    container = phrase_context(container_phrase, context.objects, strict=False) if context.objects else None
    if context.objects:
        known = containers(context.objects)
        if container is None or container.name is None or not container.attributes.get("container"):
            label = "containers here: " + (", ".join(known) or "none")
            what = f"the {container.describe()} is not a container" if container and container.name \
                else f"no {container_phrase} in the scene"
            raise CorrectionError(f"{what}; {label}")
        if container.name == obj.name:
            raise CorrectionError(f"the {container_phrase} cannot go in itself")
    match = _attributes(obj, said)
    if not match["category"]:
        raise CorrectionError(f"'{subject}' does not say what kind of object goes in the {container_phrase}")
    rule = PlanRule("destination", {"match": match, "container": container.name if container else None,
                                    "container_ref": container_phrase})
    scope = "object" if match["color"] or match["size"] else "category"
    return CorrectionRecord(kind="plan", rule=rule, scope=context.scope or scope, object=obj, **common)
