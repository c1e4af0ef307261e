"""What a correction is about: the running task, skill and object, and how object references become
ObjectContexts (attributes that generalise beyond one scene)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from hardware.types import ObjectState
from planners.corrections.memory.record import CorrectionRecord, ObjectContext
from planners.grounding import ground
from planners.language import CATEGORY_NOUNS, DETERMINERS, KNOWN_COLORS, SIZE_WORDS
from planners.parser import parse_task
from planners.plan import TaskError


class CorrectionError(ValueError):
    """A correction that cannot be understood or stored; the one-line message says why and what works."""


@dataclass(frozen=True)
class CorrectionContext:
    """Where a correction was given. Every field is optional: missing ones are inferred from the text."""

    task: str | None = None
    skill: str | None = None
    #: object name or description ("red_cube", "the red cube"); grounded in `objects` when given
    object: str | None = None
    #: for place: the target the object was being put on/in (name or description)
    target: str | None = None
    #: the scene's objects; with them, unknown objects and containers are refused
    objects: Mapping[str, ObjectState] | None = None
    task_id: str | None = None
    visual: tuple[float, ...] | None = None
    source: str = "api"
    #: force a record's scope ("object", "category", "any"); None: from the text
    scope: str | None = None
    #: the stored records that were applied to the skill call being corrected: a correction that undoes
    #: them for another kind of object narrows them (planners/corrections/narrowing.py); None: not known
    #: (no running skill call)
    applied: tuple[CorrectionRecord, ...] | None = None


def object_context(obj: ObjectState) -> ObjectContext:
    return ObjectContext(name=obj.name, category=obj.category, color=obj.color, size=obj.size,
                         attributes={"container": obj.is_container})


def phrase_context(phrase: str, objects: Mapping[str, ObjectState] | None, *, strict: bool = True) -> ObjectContext:
    """An object reference as attributes: grounded in the scene when there is one, else from its words
    ("small red cube" -> size small, colour red, category cube). `strict`: an object not in the scene
    is an error (CorrectionError); otherwise its words are used."""
    if objects:
        try:
            name, _ = ground(phrase, objects)
            return object_context(objects[name])
        except TaskError as err:
            if strict:
                raise CorrectionError(str(err)) from None
    words = [w for w in phrase.lower().replace("_", " ").split() if w not in DETERMINERS]
    color = next((w for w in words if w in KNOWN_COLORS), None)
    size = next((SIZE_WORDS[w] for w in words if w in SIZE_WORDS), None)
    nouns = [w for w in words if w not in KNOWN_COLORS and w not in SIZE_WORDS]
    if not nouns and not color:
        raise CorrectionError(f"'{phrase}' does not name an object")
    category = nouns[-1] if nouns else None
    # "block" is a noun for the category "cube": records keep the category, not the word
    category = next((cat for cat, words in CATEGORY_NOUNS.items() if category in words), category)
    return ObjectContext(name=None, category=category, color=color, size=size)


def fill_from_task(context: CorrectionContext) -> CorrectionContext:
    """Context the running task implies: its object when it has one, and the place target for it."""
    if not context.task or not context.objects or (context.object and context.target):
        return context
    try:
        plan = parse_task(context.task, context.objects)
    except TaskError:
        return context
    calls = [c for c in plan.calls if context.skill in (None, c.skill)]
    objects = list(dict.fromkeys(c.params.get("object") or c.params.get("target") for c in calls))
    obj = context.object or (objects[0] if len(objects) == 1 else None)
    target = context.target or next((c.params["target"] for c in plan.calls
                                     if c.skill == "place" and c.params["object"] == obj), None)
    return replace(context, object=obj, target=target)


def containers(objects: Mapping[str, ObjectState] | None) -> list[str]:
    return [o.name for o in (objects or {}).values() if o.is_container]
