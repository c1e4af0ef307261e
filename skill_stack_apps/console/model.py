"""What the console shows, as plain data both backends fill in: tasks (plan steps, goals, the corrections
retrieved for the running step), the corrections typed or spoken in the console, the arm. `ConsoleState` is
written by a backend's threads and read by the web server's; every change bumps `version`, which is what the
WebSocket watches. Everything here is JSON as the API returns it."""
from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from planners.corrections.memory.record import CorrectionRecord

#: how a task ends (ExecuteTask's states, and "refused" for a task that cannot be planned: nothing moved)
TASK_STATES = ("running", "succeeded", "failed", "refused", "canceled")
STEP_STATES = ("pending", "running", "succeeded", "failed", "stopped")
#: tasks and console corrections kept for the page and the API (older ones are forgotten)
KEEP_TASKS, KEEP_CORRECTIONS = 50, 50


def understood(record: CorrectionRecord) -> dict[str, Any]:
    """How a stored record reads: kind, skill, parameter, value, scope (and the rule of a plan or task record)."""
    out: dict[str, Any] = {"id": record.id, "kind": record.kind, "scope": record.scope, "text": record.text,
                           "disabled": record.disabled, "source": record.source, "created_at": record.created_at,
                           "object": record.object.describe() if record.object is not None else None}
    if record.kind == "skill":
        out.update(skill=record.skill, parameter=record.parameter, mode=record.mode, value=record.value,
                   applicable=record.applicable)
    else:
        out.update(rule=record.knowledge)
    return out


@dataclass
class StepView:
    """One skill call of a plan."""

    index: int
    call: str
    skill: str
    params: dict[str, Any] = field(default_factory=dict)
    state: str = "pending"
    progress: float = 0.0
    #: "learned" or "scripted" once it started; why the scripted one ran where a learned one exists
    policy: str | None = None
    fallback: str | None = None
    attempt: int = 0
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__, progress=round(self.progress, 3))


def step_of(index: int, call: str, params: Mapping[str, Any] | None = None) -> StepView:
    """A step from a call's text, "pick(object=red_cube)" (over ROS that is all there is before it starts)."""
    return StepView(index, call, call.split("(", 1)[0], dict(params or {}))


@dataclass
class TaskView:
    id: int
    task: str
    state: str = "running"
    success: bool = False
    message: str = "planning"
    plan: list[StepView] = field(default_factory=list)
    #: (goal in words, holds: True/False, None while not checked yet)
    goals: list[tuple[str, bool | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    replans: list[str] = field(default_factory=list)
    #: the corrections memory offered the running step (or the plan): {"index", "skill", "corrections": [...]}
    retrieved: dict[str, Any] | None = None
    #: what memory applied, per step index
    applied: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel_requested: bool = False

    @property
    def done(self) -> bool:
        return self.state != "running"

    def set_plan(self, calls: Iterable[tuple[str, Mapping[str, Any] | None]], first: int = 0) -> None:
        """The steps from `first` on (a re-plan appends after the steps that ran)."""
        del self.plan[first:]
        self.plan += [step_of(first + i, call, params) for i, (call, params) in enumerate(calls)]

    def step(self, index: int) -> StepView:
        while len(self.plan) <= index:  # feedback can come before the plan is known (over ROS)
            self.plan.append(step_of(len(self.plan), "?"))
        return self.plan[index]

    def apply_event(self, record: Mapping[str, Any]) -> None:
        """An episode-log record (planners.episode_log: in-process from the log, over ROS from `events`)."""
        event = record.get("event")
        if event == "task_start":
            if not self.plan:
                self.set_plan((c, None) for c in record.get("plan", []))
            self.notes = list(record.get("notes", []))
        elif event == "skill_start":
            step = self.step(int(record.get("index", 0)))
            step.state, step.progress, step.attempt = "running", 0.0, int(record.get("attempt", 0))
            step.policy, step.fallback = record.get("policy"), record.get("fallback")
            step.params = dict(record.get("params", step.params))
        elif event == "skill_end":
            step = self.step(int(record.get("index", 0)))
            step.state = "succeeded" if record.get("success") else (
                "stopped" if record.get("outcome") in ("stopped", "safety_stop") else "failed")
            step.message, step.policy = str(record.get("message", "")), record.get("policy", step.policy)
            step.progress = 1.0 if record.get("success") else step.progress
        elif event == "corrections_retrieved":
            self.retrieved = {"index": record.get("index"), "skill": record.get("skill"),
                              "stage": record.get("stage", "skill"), "corrections": list(record.get("corrections", []))}
        elif event == "corrections_applied" and record.get("corrections"):
            self.applied.append({"index": record.get("index"), "skill": record.get("skill"),
                                 "corrections": list(record.get("corrections", []))})
        elif event == "replan":
            self.replans.append(str(record.get("reason", "")))
            self.set_plan(((c, None) for c in record.get("plan", [])), first=len(self.plan))
        elif event in ("fallback", "recovery"):
            step = self.step(int(record.get("index", 0)))
            step.message = str(record.get("reason") or record.get("action") or "")

    def finish(self, state: str, message: str, success: bool = False,
               goals: Iterable[tuple[str, bool]] | None = None) -> None:
        assert state in TASK_STATES
        self.state, self.message, self.success, self.finished = state, message, success, time.time()
        if goals is not None:
            self.goals = [(g, bool(ok)) for g, ok in goals]
        for step in self.plan:  # what never ran or was cut short
            if step.state == "running":
                step.state = "stopped"

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "task": self.task, "state": self.state, "success": self.success}

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "message": self.message, "plan": [s.to_json() for s in self.plan],
                "goals": [{"goal": g, "holds": ok} for g, ok in self.goals], "notes": self.notes,
                "replans": self.replans, "retrieved": self.retrieved, "applied": self.applied,
                "started": self.started, "finished": self.finished}


@dataclass
class CorrectionView:
    """A correction typed or spoken in the console and what became of it."""

    id: int
    text: str
    source: str
    #: queued (a task runs; no skill took it yet), applied (to the running skill, and stored), stored (for the
    #: next matching skill or task), rejected (not understood: nothing stored), undone (its records deleted)
    status: str = "queued"
    task_id: int | None = None
    skill: str | None = None
    #: voice: what the recogniser heard, and its confidence
    heard: dict[str, Any] | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    #: the running skill's parameters it changed
    updates: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    message: str = ""
    time: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ConsoleState:
    """The console's shared state. Backends change it inside `change()`; readers take `snapshot()`."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.lock = threading.RLock()
        self.version = 0
        self.tasks: OrderedDict[int, TaskView] = OrderedDict()
        self.corrections: OrderedDict[int, CorrectionView] = OrderedDict()
        self.current: int | None = None
        self.estopped = False
        #: the arm as last seen: joint positions, gripper width
        self.arm: dict[str, Any] | None = None
        #: a line about the backend itself: "ready", "connecting to the ROS graph", an error
        self.status = "starting"
        self.ready = False
        #: the correction store's (db uid, generation): the page reloads the record list when it changes
        self.memory: dict[str, Any] = {}
        self._task_ids, self._correction_ids = itertools.count(1), itertools.count(1)

    def change(self) -> _Change:
        """`with state.change(): ...` mutates under the lock and bumps the version."""
        return _Change(self)

    def new_task(self, text: str) -> TaskView:
        with self.change():
            view = TaskView(next(self._task_ids), text)
            self.tasks[view.id] = view
            self.current = view.id
            while len(self.tasks) > KEEP_TASKS:
                self.tasks.popitem(last=False)
            return view

    def new_correction(self, text: str, source: str, **fields: Any) -> CorrectionView:
        with self.change():
            view = CorrectionView(next(self._correction_ids), text, source, **fields)
            self.corrections[view.id] = view
            while len(self.corrections) > KEEP_CORRECTIONS:
                self.corrections.popitem(last=False)
            return view

    def running(self) -> TaskView | None:
        with self.lock:
            view = self.tasks.get(self.current) if self.current is not None else None
            return view if view is not None and not view.done else None

    def task_json(self, task_id: int) -> dict[str, Any] | None:
        with self.lock:
            view = self.tasks.get(task_id)
            return view.to_json() if view is not None else None

    def records_deleted(self, ids: Iterable[int]) -> None:
        """Mark console corrections whose records are all gone as undone."""
        gone = set(ids)
        with self.change():
            for view in self.corrections.values():
                for record in view.records:
                    if record.get("id") in gone:
                        record["deleted"] = True
                if view.records and all(r.get("deleted") for r in view.records):
                    view.status = "undone"

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            current = self.tasks.get(self.current) if self.current is not None else None
            return {"mode": self.mode, "version": self.version, "ready": self.ready, "status": self.status,
                    "estopped": self.estopped, "arm": self.arm, "memory": self.memory,
                    "task": current.to_json() if current is not None else None,
                    "tasks": [t.summary() for t in reversed(self.tasks.values())],
                    "corrections": [c.to_json() for c in reversed(self.corrections.values())]}


class _Change:
    def __init__(self, state: ConsoleState) -> None:
        self.state = state

    def __enter__(self) -> ConsoleState:
        self.state.lock.acquire()
        return self.state

    def __exit__(self, *exc: object) -> None:
        self.state.version += 1
        self.state.lock.release()


class FrameBuffer:
    """The latest camera frame as JPEG, and a sequence number the WebSocket watches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jpeg: bytes | None = None
        self.seq = 0

    def put(self, jpeg: bytes) -> None:
        with self._lock:
            self.jpeg, self.seq = jpeg, self.seq + 1

    def latest(self) -> tuple[int, bytes | None]:
        with self._lock:
            return self.seq, self.jpeg


def encode_jpeg(rgb: Any, quality: int = 80) -> bytes:
    """An HxWx3 RGB uint8 image as JPEG bytes."""
    import cv2

    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()
