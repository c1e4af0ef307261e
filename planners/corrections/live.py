"""Corrections that arrive while a task runs (typed at the console, a ROS topic, voice).

Any thread may `submit` text. The executor polls `updates_for` every control step of the running skill:
the text is distilled in the context of that skill and object, stored, and the changed parameters are
returned so they take effect inside the running control loop. A correction that cannot be understood is
reported and dropped; the task goes on.
"""
from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import replace
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


class LiveCorrections:
    def __init__(self, task: str, world: WorldView, memory: CorrectionMemory | None, *,
                 log: EpisodeLog | None = None, notify: Callable[[str], object] = print) -> None:
        self.task, self.world, self.memory, self.log, self.notify = task, world, memory, log, notify
        self._inbox: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        #: the running task's CallCorrector (set by the scheduler): which stored records the running skill
        #: got, so a correction that contradicts them narrows them (planners/corrections/narrowing.py)
        self.corrector: CallCorrector | None = None

    def _applied_to_running_call(self) -> tuple[CorrectionRecord, ...]:
        if self.corrector is None or not self.corrector.history or self.memory is None:
            return ()
        ids = [a.id for a in self.corrector.history[-1][1] if a.applied and a.id is not None]
        return tuple(self.memory.store.get_many(ids))

    def submit(self, text: str, source: str = "interactive") -> None:
        """Thread-safe: queue a correction for the running skill."""
        self._inbox.put((text, source))

    def _write(self, event: str, **data: Any) -> None:
        if self.log is not None:
            self.log.write(event, **data)

    def updates_for(self, call: SkillCall, current: dict[str, Any]) -> dict[str, Any] | None:
        """Parameters to change in the running skill, or None. Never raises for bad input."""
        changed: dict[str, Any] = {}
        while True:
            try:
                text, source = self._inbox.get_nowait()
            except queue.Empty:
                break
            name = call.params.get("object") or call.params.get("target")
            context = CorrectionContext(task=self.task, skill=call.skill, object=name,
                                        target=call.params.get("target") if call.skill == "place" else None,
                                        objects=self.world.objects(), source=source,
                                        visual=visual_descriptor(self.world, name) if name else None)
            try:
                records = record_correction(text, context, None)  # what it says: applied to this run
                if self.memory is not None:  # what is remembered may be narrowed records
                    record_correction(text, replace(context, applied=self._applied_to_running_call()),
                                      self.memory)
            except CorrectionError as err:
                self.notify(f"correction not understood: {err}")
                self._write("correction_rejected", text=text, source=source, error=str(err))
                continue
            except MEMORY_ERRORS as err:  # not stored, but still applied to this run
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
        return changed or None
