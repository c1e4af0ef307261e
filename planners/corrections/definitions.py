"""Taught tasks: the operator says what a phrase means in tasks the planner already reads ("tidying up means
putting every cube in the tray", "a tower means stacking the large cubes").

Teaching: `definition_record` checks the meaning by planning it in the scene at hand, so a definition with an
unknown word or object is refused when taught, and stores it as a correction record of kind "task".
Using: `TaughtTasks` is the parser's lookup for a clause it cannot read itself; the record whose phrase the
clause says (retrieval: text similarity behind a word gate) gives the steps, which the parser plans with
their goals like any task. A definition never uses another: it is written in the planner's own words.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hardware.types import ObjectState
from planners.corrections.context import CorrectionContext, CorrectionError
from planners.corrections.memory.record import CorrectionRecord, PlanRule
from planners.corrections.memory.retrieval import CorrectionMemory, RetrievalQuery
from planners.corrections.memory.store import MEMORY_ERRORS, CorrectionStore
from planners.language import content_words, normalize, same_word, word_forms
from planners.parser import TaughtTask, parse_task
from planners.task_phrases import ALL_VERBS
from planners.plan import TaskError

log = logging.getLogger(__name__)

DEFINITION = re.compile(r"^(?:when i say )?(?P<phrase>.+?),? (?:means|i mean|stands for|is short for)"
                        r"(?: (?:to )?(?P<meaning>.+))?$")
EXAMPLE = "'tidying up means putting every cube in the tray'"


def match_definition(text: str) -> tuple[str, str] | None:
    """(phrase, meaning) of normalised text that defines a phrase (the meaning empty if not said), else None."""
    m = DEFINITION.match(text)
    return (m["phrase"].strip(" ,"), (m["meaning"] or "").strip(" ,")) if m else None


def as_task(meaning: str) -> str:
    """The meaning as a task the parser reads: gerunds of its verbs become the verbs ('putting every cube in
    the tray' -> 'put every cube in the tray'), and 'to' before them goes."""
    words = [next((f for f in word_forms(w) if f in ALL_VERBS), w) if w.endswith("ing") else w
             for w in meaning.split()]
    return re.sub(r"\b(?:(?<=^)|(?<=then )|(?<=and ))to (?=\w)", "", " ".join(words))


def definition_record(phrase: str, meaning: str, context: CorrectionContext, common: Mapping[str, Any]
                      ) -> CorrectionRecord:
    """The record of a definition, after checking it: the phrase is new words, the meaning a task that plans
    in the scene at hand. Raises CorrectionError (one line)."""
    if not content_words(phrase):
        raise CorrectionError(f"say which words you are teaching, e.g. {EXAMPLE}")
    if not meaning:
        raise CorrectionError(f"what does '{phrase}' mean? say it as a task, e.g. {EXAMPLE}")
    if not context.objects:
        raise CorrectionError("a task is taught against the objects on the table, and none are known here")
    steps = as_task(meaning)
    try:
        parse_task(steps, context.objects)
    except TaskError as err:
        raise CorrectionError(f"I can't learn '{phrase}': '{steps}' is not a task I can plan here ({err})") from None
    try:
        known = parse_task(as_task(phrase), context.objects)
    except TaskError:
        pass
    else:
        raise CorrectionError(f"'{phrase}' is a task I already read ({', '.join(map(str, known.calls))}); "
                              f"teach a phrase of your own")
    return CorrectionRecord(kind="task", rule=PlanRule("definition", {"phrase": phrase, "steps": steps}),
                            scope="any", note=f"'{phrase}' will mean: {steps}", **common)


def _same_phrase(a: str, b: str) -> bool:
    wa, wb = content_words(normalize(a)), content_words(normalize(b))
    return len(wa) == len(wb) and all(same_word(x, y) for x, y in zip(wa, wb))


def redefined(store: CorrectionStore, records: list[CorrectionRecord]) -> list[int]:
    """Ids of stored definitions of the phrases `records` define: a phrase taught again means the new thing."""
    phrases = [r.rule.args["phrase"] for r in records if r.kind == "task" and r.rule is not None]
    if not phrases:
        return []
    return [r.id for r in store.all(kind="task") if r.id is not None and r.rule is not None
            and any(_same_phrase(r.rule.args["phrase"], p) for p in phrases)]


@dataclass
class TaughtTasks:
    """The parser's lookup of taught tasks (planners.parser.TaughtTaskLookup) over the correction memory."""

    memory: CorrectionMemory

    def __call__(self, clause: str, objects: Mapping[str, ObjectState]) -> TaughtTask | None:
        try:
            found = [r for r in self.memory.retrieve(RetrievalQuery(kind="task", task=clause)) if r.accepted]
        except MEMORY_ERRORS as err:
            log.warning("correction memory unavailable, taught tasks are not looked up: %s", err)
            return None
        if not found:
            return None
        best = found[0]
        assert best.record.rule is not None
        steps = best.record.rule.args["steps"]
        return TaughtTask(steps, f"'{clause}' is taught (#{best.record.id}, similarity {best.score:.2f}): {steps}")
