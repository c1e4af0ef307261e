"""What a transcript means, for the recogniser's checks: the records `distill` makes of it, reduced to what
they say (kind, skill, parameter, mode, value, scope, rule, object), or None if it is no correction.

Two transcripts that mean the same are one answer whatever their words ("grasp it a bit lower" and "grab it
a little lower"); the recogniser compares its decodes by meaning, and the bench scores by it.
"""
from __future__ import annotations

import json
from dataclasses import replace
from collections.abc import Callable, Hashable

from planners.corrections.context import CorrectionContext, CorrectionError
from planners.corrections.definitions import as_task, match_definition
from planners.corrections.distill import distill
from planners.corrections.memory.record import CorrectionRecord, PlanRule
from planners.language import content_words, normalize

#: a hashable summary of a correction's records
Meaning = tuple[Hashable, ...]
#: text -> its meaning, or None if it is no correction (what the recogniser is given to check transcripts)
Understanding = Callable[[str], "Meaning | None"]


def teaches(meaning: Meaning | None) -> bool:
    """Whether a meaning is a taught definition (a "task" record; without the scene, the definition itself)."""
    return meaning is not None and any(isinstance(part, tuple) and part and part[0] in ("task", "definition")
                                       for part in meaning)


def _rule_args(rule: PlanRule) -> str:
    """A rule's arguments without the words that said them: an ordering's actions keep their verb and object,
    not their 'phrase'; a destination its container, not the name it was called by (a taught definition's
    phrase is its meaning, and stays)."""
    args = dict(rule.args)
    if rule.type == "before":
        args = {k: {f: v for f, v in a.items() if f != "phrase"} if isinstance(a, dict) else a for k, a in args.items()}
    if rule.type == "destination" and args.get("container") is not None:
        args.pop("container_ref", None)
    return json.dumps(args, sort_keys=True)


def meaning_of(records: list[CorrectionRecord]) -> Meaning:
    """What the records say, without provenance (text, time, ids) or the words that said it."""
    def one(r: CorrectionRecord) -> Hashable:
        rule = (r.rule.type, _rule_args(r.rule)) if r.rule is not None else None
        obj = (r.object.category, r.object.color, r.object.size) if r.object is not None else None
        return (r.kind, r.skill, r.parameter, r.mode, r.value, r.scope, rule, obj)
    return tuple(one(r) for r in records)


def hearing_context(context: CorrectionContext) -> CorrectionContext:
    """The context a recogniser checks its decodes in: the caller's, with a stand-in for the object that a
    correction said of "it" is about when none is given ("that goes in the tray" needs one). Which object does
    not matter, as decodes are compared with each other; the caller's own distill says what is missing."""
    if context.object is not None:
        return context
    things = [name for name, obj in (context.objects or {}).items() if not obj.is_container]
    return replace(context, object=things[0] if things else "object")


def understanding(context: CorrectionContext) -> Understanding:
    """Meaning of a text as a correction given in `context` (None when `distill` refuses it). Without the
    scene's objects a taught definition cannot be checked by planning it, so it means its words: the phrase
    and the steps, as distill would store them."""
    def understand(text: str) -> Meaning | None:
        if not context.objects and (definition := match_definition(normalize(text))) is not None:
            phrase, steps = definition
            return (("definition", phrase, as_task(steps)),) if content_words(phrase) and steps else None
        try:
            return meaning_of(distill(text, context))
        except CorrectionError:
            return None
    return understand
