"""A task turned into skills: the plan the scheduler runs and the goal it must check at the end."""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hardware.types import ObjectState


class TaskError(ValueError):
    """A task that cannot be planned; the message says why and what is supported."""


@dataclass(frozen=True)
class SkillCall:
    skill: str
    params: dict[str, Any]

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items())
        return f"{self.skill}({args})"


@dataclass(frozen=True)
class Goal:
    """A predicate over the world that must hold when the task is done.

    kind: 'in' (obj in container; within 3 cm of `offset` from its centre when a spot was asked for), 'on'
    (obj on target), 'lifted' (obj held above the table), 'displaced' (obj moved by `offset` [dx, dy] metres
    from where it started), 'at' (tool at `position`, above `target` when it names an object), 'gripper'
    (gripper `state` open/closed), 'open' (a drawer `obj` open), 'beside' (obj on the table on side `state` of
    target: left, right, front, behind, or any side when None), 'between' (obj on the table between target and
    `other`), 'table_spot' (obj on the table within 3 cm of `offset`, there the base frame's x, y).
    """

    kind: str
    obj: str | None = None
    target: str | None = None
    other: str | None = None
    offset: tuple[float, float] | None = None
    position: tuple[float, float, float] | None = None
    state: str | None = None


@dataclass(frozen=True)
class Plan:
    task: str
    calls: tuple[SkillCall, ...]
    goals: tuple[Goal, ...]
    #: notes for the operator, e.g. how an underspecified reference was resolved
    notes: tuple[str, ...] = field(default=())

    @property
    def skill_names(self) -> list[str]:
        return [c.skill for c in self.calls]


class TaskPlanner(Protocol):
    """Task text + the objects on the table -> Plan, or TaskError (one line). The deterministic parser
    (planners.parser.parse_task) is the default; another planner must validate its output as strictly."""

    def __call__(self, task: str, objects: Mapping[str, ObjectState]) -> Plan: ...
