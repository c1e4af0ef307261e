"""How a task ended, in the terms the ExecuteTask action reports (plain Python, no ROS).

The error codes mirror skill_stack_interfaces/action/ExecuteTask.action; success is the executor's goal
check against the world view (the simulator's or perception's state), never a skill's own report.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import IntEnum

from planners.executor import TaskReport
from planners.language import TextRules, text_problem
from planners.task_phrases import MAX_TASK_CHARS
from skill_lib.outcome import OutcomeKind


class ErrorCode(IntEnum):
    NONE = 0
    INVALID_TASK = 1
    SKILL_FAILED = 2
    GOAL_NOT_MET = 3
    CANCELED = 4
    HARDWARE = 5
    TIMEOUT = 6
    INTERNAL = 7


@dataclass
class TaskResult:
    success: bool
    message: str
    error: ErrorCode
    plan: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report: TaskReport | None = None


#: a task as it arrives over a network: any non-printing character is garbage there
_TASK_TEXT = TextRules(
    max_chars=MAX_TASK_CHARS, printable_only=True, empty_first=True, not_text="a task must be text, not {type}",
    too_long="the task is too long ({length} characters, at most {max_chars})",
    non_text="the task contains {count} control or non-text character(s); send plain text",
    empty='the task is empty; give it in words, e.g. "put the red cube in the tray"')


def check_task_text(task: str) -> str | None:
    """Why a task text is refused before planning (None if it may be planned).

    The parser refuses empty and over-long text too; these checks add what arrives over a network:
    control characters and binary garbage, which are refused without echoing them back.
    """
    return text_problem(task, _TASK_TEXT)


def classify(report: TaskReport, *, canceled: bool = False, timed_out: bool = False) -> TaskResult:
    """Map an executor report to a result; the first matching reason wins."""
    plan = [str(p) for p in report.plan]
    if canceled:
        return TaskResult(False, "canceled: the arm was stopped. " + report.message, ErrorCode.CANCELED, plan,
                          report=report)
    if timed_out:
        return TaskResult(False, "timed out: the arm was stopped. " + report.message, ErrorCode.TIMEOUT, plan,
                          report=report)
    if report.success:
        return TaskResult(True, report.message, ErrorCode.NONE, plan, report=report)
    if any(o.kind is OutcomeKind.SAFETY_STOP for o in report.outcomes):
        return TaskResult(False, report.message, ErrorCode.HARDWARE, plan, report=report)
    if report.outcomes and all(o.success for o in report.outcomes):
        return TaskResult(False, report.message, ErrorCode.GOAL_NOT_MET, plan, report=report)
    return TaskResult(False, report.message, ErrorCode.SKILL_FAILED, plan, report=report)


def params_json(params: dict) -> str:
    return json.dumps(params, default=str, sort_keys=True)


def shorten(text: str, limit: int = 80) -> str:
    """For logs and status: never echo a 100 kB task back in full."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
