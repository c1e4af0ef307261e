"""Corrections that arrive while a task runs (typed at the console, a ROS topic, voice).

Any thread may `submit` text. The executor polls `updates_for` every control step of the running skill:
the text is distilled in the context of that skill and object, stored, and the changed parameters are
returned so they take effect inside the running control loop. A correction that cannot be understood is
reported and dropped; the task goes on. `submit` returns a future of what became of it (a console shows
that); what no skill took before the task ended, `drain` hands back.
"""
from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from hardware.arm import WorldView
from planners.corrections.apply import apply_to_call
from planners.corrections.context import CorrectionContext, CorrectionError
from planners.corrections.memory.store import MEMORY_ERRORS
from planners.corrections.runtime import CallCorrector, record_correction
from planners.episode_log import EpisodeLog
from planners.plan import SkillCall
from planners.corrections.memory.record import CorrectionRecord
from planners.corrections.memory.retrieval import CorrectionMemory, visual_descriptor


@dataclass(frozen=True)
class LiveResult:
    """What became of one correction submitted while a task ran."""

    text: str
    #: the running skill it was taken in (None: drained after the task)
    skill: str | None = None
    #: the records stored (narrowed ones included, with ids); empty if not stored
    stored: list[CorrectionRecord] = field(default_factory=list)
    #: what the text says, as applied to the running skill
    records: list[CorrectionRecord] = field(default_factory=list)
    #: the running skill's parameters it changed
    updates: dict[str, Any] = field(default_factory=dict)
    #: why it was not understood (nothing applied, nothing stored), or None
    error: str | None = None
    #: why it was applied but not stored, or None
    not_stored: str | None = None


@dataclass(frozen=True)
class PendingCorrection:
    text: str
    source: str
    future: Future[LiveResult]


class LiveCorrections:
    def __init__(self, task: str, world: WorldView, memory: CorrectionMemory | None, *,
                 log: EpisodeLog | None = None, notify: Callable[[str], object] = print) -> None:
        self.task, self.world, self.memory, self.log, self.notify = task, world, memory, log, notify
        self._inbox: queue.SimpleQueue[PendingCorrection] = queue.SimpleQueue()
        #: the running task's CallCorrector (set by the scheduler): which stored records the running skill
        #: got, so a correction that contradicts them narrows them (planners/corrections/narrowing.py)
        self.corrector: CallCorrector | None = None

    def _applied_to_running_call(self) -> tuple[CorrectionRecord, ...] | None:
        if self.corrector is None or not self.corrector.history or self.memory is None:
            return None
        ids = [a.id for a in self.corrector.history[-1][1] if a.applied and a.id is not None]
        return tuple(self.memory.store.get_many(ids))

    def submit(self, text: str, source: str = "interactive") -> Future[LiveResult]:
        """Thread-safe: queue a correction for the running skill; the future resolves when a skill took it."""
        future: Future[LiveResult] = Future()
        self._inbox.put(PendingCorrection(text, source, future))
        return future

    def drain(self) -> list[PendingCorrection]:
        """The corrections no skill took (the task ended first), removed from the queue: the caller's to handle."""
        left = []
        while True:
            try:
                left.append(self._inbox.get_nowait())
            except queue.Empty:
                return left

    def _write(self, event: str, **data: Any) -> None:
        if self.log is not None:
            self.log.write(event, **data)

    def updates_for(self, call: SkillCall, current: dict[str, Any]) -> dict[str, Any] | None:
        """Parameters to change in the running skill, or None. Never raises for bad input."""
        changed: dict[str, Any] = {}
        while True:
            try:
                pending = self._inbox.get_nowait()
            except queue.Empty:
                break
            text, source = pending.text, pending.source
            stored: list[CorrectionRecord] = []
            not_stored: str | None = None
            name = call.params.get("object") or call.params.get("target")
            context = CorrectionContext(task=self.task, skill=call.skill, object=name,
                                        target=call.params.get("target") if call.skill == "place" else None,
                                        objects=self.world.objects(), source=source,
                                        visual=visual_descriptor(self.world, name) if name else None)
            try:
                records = record_correction(text, context, None)  # what it says: applied to this run
                if self.memory is not None:  # what is remembered may be narrowed records
                    stored = record_correction(text, replace(context, applied=self._applied_to_running_call()),
                                               self.memory)
            except CorrectionError as err:
                self.notify(f"correction not understood: {err}")
                self._write("correction_rejected", text=text, source=source, error=str(err))
                pending.future.set_result(LiveResult(text, call.skill, error=str(err)))
                continue
            except MEMORY_ERRORS as err:  # not stored, but still applied to this run
                not_stored = str(err)
                self.notify(f"correction not stored ({err}); applying it to this run only")
            running = SkillCall(call.skill, {**call.params, **current, **changed})
            corrected, applied = apply_to_call(running, records)
            updates = {k: v for k, v in corrected.params.items() if running.params.get(k) != v}
            changed.update(updates)
            later = [r.to_dict() for r in records if r.kind != "skill"]
            self._write("correction_live", text=text, source=source, skill=call.skill, updates=updates,
                        applied=[a.to_dict() for a in applied], plan_rules_for_later=later)
            self.notify(f"correction applied now: {updates}" if updates else
                        "correction stored; it applies from the next matching skill or task")
            pending.future.set_result(LiveResult(text, call.skill, stored, records, updates, None, not_stored))
        return changed or None
