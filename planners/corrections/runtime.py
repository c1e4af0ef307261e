"""Corrections while tasks run: record a correction (any input: CLI, API, topic, voice), and retrieve +
apply stored ones to a plan and before each skill, writing what happened to the episode log.

A failure of the correction memory (a locked or broken database) is logged and the task goes on
without corrections: a robot should not stop because its notebook is unreadable.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from hardware.arm import WorldView
from hardware.types import ObjectState
from planners.corrections.apply import AppliedCorrection, apply_to_call, apply_to_plan
from planners.corrections.context import CorrectionContext, object_context
from planners.corrections.definitions import redefined
from planners.corrections.distill import distill
from planners.corrections.narrowing import narrow_on_conflict
from planners.episode_log import EpisodeLog
from planners.plan import Plan, SkillCall
from planners.corrections.memory.record import CorrectionRecord
from planners.corrections.memory.retrieval import (CorrectionMemory, RetrievalQuery, RetrievedCorrection,
                                                    visual_descriptor)
from planners.corrections.memory.store import MEMORY_ERRORS, CorrectionStore

log = logging.getLogger(__name__)


def record_correction(text: str, context: CorrectionContext, store: CorrectionStore | CorrectionMemory | None,
                      *, dry_run: bool = False) -> list[CorrectionRecord]:
    """Distill and (unless dry_run or store is None) store, narrowing the applied records it contradicts.
    Returns what was stored (narrowed records included), or, not storing, what the text says.
    Raises CorrectionError before storing anything."""
    records = distill(text, context)
    if dry_run or store is None:
        return records
    if context.applied is not None:
        records = [replace(r, based_on=tuple(a.uid for a in context.applied)) for r in records]
    records, replaced = narrow_on_conflict(records, context.applied or ())
    target = store.store if isinstance(store, CorrectionMemory) else store
    replacing = [r.id for r in replaced if r.id is not None] + redefined(target, records)
    # one transaction: all of a correction's records (and the narrowed or redefined ones in place of the old),
    # or none
    return target.add_many(records, replacing=replacing)


def _call_object(call: SkillCall) -> str | None:
    return call.params.get("object") or call.params.get("target")


def call_query(task: str, call: SkillCall, objects: Mapping[str, ObjectState]) -> RetrievalQuery:
    """The context a skill call's corrections are retrieved for, without the camera's view of its object."""
    obj = objects.get(_call_object(call) or "")
    target = objects.get(call.params.get("target") or "") if call.skill == "place" else None
    return RetrievalQuery(task=task, skill=call.skill, object=object_context(obj) if obj is not None else None,
                          target=object_context(target) if target is not None else None)


def correct_plan(memory: CorrectionMemory, plan: Plan, objects: Mapping[str, ObjectState]
                 ) -> tuple[Plan, list[RetrievedCorrection], list[AppliedCorrection]]:
    """Plan rules that match the plan's objects, applied. Returns the plan unchanged if memory fails."""
    names = dict.fromkeys(n for c in plan.calls if (n := _call_object(c)) and n in objects)
    query = RetrievalQuery(kind="plan", task=plan.task, objects=tuple(object_context(objects[n]) for n in names))
    try:
        retrieved = memory.retrieve(query, include_rejected=True)
    except MEMORY_ERRORS as err:
        log.warning("correction memory unavailable, planning without it: %s", err)
        return plan, [], []
    new_plan, applied = apply_to_plan(plan, [r.record for r in retrieved if r.accepted], objects)
    # the calls' contexts are embedded now, in one batch: the retrieval before each skill finds its context
    # in the query cache instead of running the model then (a call a re-plan adds is embedded when it comes)
    memory.prepare(call_query(new_plan.task, call, objects) for call in new_plan.calls)
    return new_plan, retrieved, applied


class CallCorrector:
    """The executor's `prepare_call` hook: before each skill (and each retry) retrieve the corrections for
    its context and apply them to its parameters; log `corrections_retrieved` / `corrections_applied`."""

    def __init__(self, memory: CorrectionMemory, task: str, world: WorldView, *,
                 log: EpisodeLog | None = None) -> None:
        self.memory, self.task, self.world, self.log = memory, task, world, log
        #: (call index, applied corrections) for every call prepared
        self.history: list[tuple[int, list[AppliedCorrection]]] = []

    def _write(self, event: str, **data) -> None:
        if self.log is not None:
            self.log.write(event, **data)

    def __call__(self, index: int, call: SkillCall) -> SkillCall:
        objects = self.world.objects()
        name = _call_object(call)
        query = replace(call_query(self.task, call, objects),
                        visual=visual_descriptor(self.world, name) if name in objects else None)
        try:
            retrieved = self.memory.retrieve(query, include_rejected=True)
        except MEMORY_ERRORS as err:
            self._write("corrections_error", index=index, skill=call.skill, error=str(err))
            return call
        new_call, applied = apply_to_call(call, [r.record for r in retrieved if r.accepted])
        self.history.append((index, applied))
        if retrieved:
            self._write("corrections_retrieved", index=index, skill=call.skill,
                        corrections=[r.summary() for r in retrieved])
        if applied:
            self._write("corrections_applied", index=index, skill=call.skill, params=new_call.params,
                        corrections=[a.to_dict() for a in applied])
        return new_call
