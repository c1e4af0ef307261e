"""A text progress bar per skill: redrawn in place on a terminal, one line per skill otherwise."""
from __future__ import annotations

import sys
from typing import TextIO

from planners.executor import ExecutionObserver
from planners.plan import SkillCall
from skill_lib.outcome import SkillOutcome

WIDTH = 20


class ProgressPrinter(ExecutionObserver):
    def __init__(self, total: int, stream: TextIO = sys.stdout) -> None:
        self.total, self.stream = total, stream
        self.live = stream.isatty()
        self._label = ""
        self._fraction = 0.0

    def _bar(self, fraction: float) -> str:
        filled = round(WIDTH * min(max(fraction, 0.0), 1.0))
        return f"[{'#' * filled}{'-' * (WIDTH - filled)}] {fraction * 100:3.0f}%"

    def skill_started(self, index: int, call: SkillCall, attempt: int) -> None:
        retry = " (retry)" if attempt else ""
        self._label = f"[{index + 1}/{self.total}] {str(call)[:48]:<48}{retry}"
        self._fraction = 0.0
        if self.live:
            self.stream.write(f"\r{self._label} {self._bar(0.0)}")
            self.stream.flush()

    def skill_progress(self, index: int, fraction: float) -> None:
        self._fraction = fraction
        if self.live:
            self.stream.write(f"\r{self._label} {self._bar(fraction)}")
            self.stream.flush()

    def skill_finished(self, index: int, outcome: SkillOutcome) -> None:
        status = "ok" if outcome.success else f"FAILED: {outcome.message}"
        fraction = 1.0 if outcome.success else self._fraction
        prefix = "\r" if self.live else ""
        self.stream.write(f"{prefix}{self._label} {self._bar(fraction)} {status} "
                          f"({outcome.sim_seconds:.1f} s, {outcome.policy})\n")
        self.stream.flush()

    def replanned(self, round: int, reason: str, calls: list[SkillCall]) -> None:
        self.total += len(calls)
        self.stream.write(f"re-plan {round}: {reason}\n  -> {', '.join(str(c) for c in calls)}\n")
        self.stream.flush()
