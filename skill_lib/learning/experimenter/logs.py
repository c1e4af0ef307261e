"""Reading what the robot did: episode logs (`<run>/episode.jsonl`, as planners/episode_log.py writes them) into
one SkillAttempt per skill attempt, and `skillstack eval --json` lines into Evaluations.

The log format is read here as data (JSON lines), not through planners/: the skill layer must not import the
layer above it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the runner's reason when a skill has no learned policy at all (skill_lib/runner.py, choose_policy)
NO_LEARNED_POLICY = "no learned policy"


class LogError(ValueError):
    """Logs that cannot be read as asked (one line)."""


@dataclass(frozen=True)
class SkillAttempt:
    """One attempt of one skill call, with what the log says about it.

    fallback: why the scripted controller ran instead of the learned one (None: the learned one ran, or the
    scripted one was asked for: `skillstack run --scripted`, a retry, a recovery step). after_learned_failure:
    this is the executor's scripted retry after the learned attempt failed (a `fallback` event). corrections: operator corrections applied to this call (stored ones and live ones),
    each {"parameter": ..., "text": ...}. success: None when the log ends before the attempt did.
    """

    run: str
    task: str
    scene: str
    seed: int | None
    index: int
    attempt: int
    skill: str
    params: dict[str, Any]
    policy: str
    fallback: str | None
    outcome: str | None
    success: bool | None
    after_learned_failure: bool = False
    corrections: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """One `skillstack eval --json` result: a policy's success over seeded episodes of its environment."""

    skill: str
    episodes: int
    success_rate: float
    policy: str
    source: str


@dataclass
class LogSet:
    attempts: list[SkillAttempt] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    runs: int = 0
    #: lines that were not JSON objects (a torn last line after a crash), skipped
    skipped_lines: int = 0


def _records(path: Path, into: LogSet) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            into.skipped_lines += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        elif line.strip():
            into.skipped_lines += 1
    return records


#: AppliedCorrection.change starts with the corrected "skill.parameter" (planners/corrections/apply.py)
_CHANGED = re.compile(r"^(\w+)\.(\w+) ")


def _corrections(record: dict[str, Any]) -> list[dict[str, Any]]:
    """{"parameter", "text"} of each correction a record says was applied to a skill call."""
    out = []
    for applied in record.get("corrections") or record.get("applied") or []:
        if isinstance(applied, dict) and applied.get("applied"):
            changed = _CHANGED.match(str(applied.get("change", "")))
            out.append({"parameter": changed.group(2) if changed else "plan", "text": str(applied.get("text", ""))})
    return out


def _episode(path: Path, run: str, into: LogSet) -> None:
    records = _records(path, into)
    header = next((r for r in records if r.get("event") == "run"), {})
    task = str(header.get("task") or next((r.get("task") for r in records if r.get("event") == "task_start"), ""))
    scene, seed = str(header.get("scene") or "default"), header.get("seed")
    into.runs += 1
    started: dict[str, Any] | None = None
    corrections: dict[int, list[dict[str, Any]]] = {}
    failed_learned: set[int] = set()
    for record in records:
        event, index = record.get("event"), record.get("index")
        if event == "corrections_applied" and isinstance(index, int):
            corrections.setdefault(index, []).extend(_corrections(record))
        elif event == "correction_live" and started is not None:
            corrections.setdefault(started["index"], []).extend(_corrections(record))
        elif event == "fallback" and isinstance(index, int):
            failed_learned.add(index)
        elif event == "skill_start" and isinstance(index, int):
            started = record
        elif event == "skill_end" and started is not None and started.get("index") == index:
            into.attempts.append(_attempt(run, task, scene, seed, started, record, corrections, failed_learned))
            started = None
    if started is not None:  # the log ends mid-attempt (a crash): counted, outcome unknown
        into.attempts.append(_attempt(run, task, scene, seed, started, None, corrections, failed_learned))


def _attempt(run: str, task: str, scene: str, seed: Any, start: dict[str, Any], end: dict[str, Any] | None,
             corrections: dict[int, list[dict[str, Any]]], failed_learned: set[int]) -> SkillAttempt:
    index = int(start["index"])
    return SkillAttempt(
        run=run, task=task, scene=scene, seed=seed if isinstance(seed, int) else None, index=index,
        attempt=int(start.get("attempt") or 0), skill=str(start.get("skill")), params=dict(start.get("params") or {}),
        policy=str(start.get("policy") or "scripted"), fallback=start.get("fallback"),
        outcome=None if end is None else str(end.get("outcome")),
        success=None if end is None else bool(end.get("success")),
        after_learned_failure=index in failed_learned and int(start.get("attempt") or 0) > 0,
        corrections=tuple(corrections.get(index, ())))


def _evaluation(record: dict[str, Any], source: str) -> Evaluation | None:
    try:
        return Evaluation(str(record["skill"]), int(record["episodes"]), float(record["success_rate"]),
                          str(record.get("policy", "")), source)
    except (KeyError, TypeError, ValueError):
        return None


def read_logs(paths: Iterable[Path]) -> LogSet:
    """Every episode log under the paths (a run directory, a directory of runs, an episode.jsonl file) and every
    evaluation (`*.json` / `*.jsonl` files of `skillstack eval --json` lines). Raises LogError for a path that
    does not exist or holds neither."""
    logs = LogSet()
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise LogError(f"no such log file or directory: {path}")
        files = sorted(path.rglob("*.json*")) if path.is_dir() else [path]
        found = 0
        for file in files:
            if file.name == "episode.jsonl":
                # a run is named by its directory under the path given, or its own name (two run directories
                # given side by side are two runs, not one ".")
                inside = path.is_dir() and file.parent != path
                _episode(file, str(file.parent.relative_to(path)) if inside else file.parent.name, logs)
                found += 1
            elif file.suffix in (".json", ".jsonl"):
                evaluations = [e for r in _records(file, LogSet()) if (e := _evaluation(r, str(file))) is not None]
                logs.evaluations += evaluations
                found += bool(evaluations)
        if not found:
            raise LogError(f"no episode logs (*/episode.jsonl) or evaluations (skillstack eval --json) in {path}")
    return logs
