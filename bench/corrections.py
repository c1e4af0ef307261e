"""Correction benchmark (DESIGN.md "Corrections"): a scripted operator with hidden ground truth corrects the
robot in PyBullet; does the correction memory cut the corrections needed on later tasks?

Rounds: R0 teaches on seen instances; R1-R3 mix seen instances in new poses, novel instances of the same
categories and out-of-category distractors. Conditions: `none` (a fresh memory per task: corrections fix
the running task only), `text` (text + attribute retrieval), `visual` (plus a colour histogram from the
scene camera on records and queries), `no-abstain` (as visual, threshold 0), `no-narrowing` (as visual,
but a correction that contradicts what memory applied does not narrow the records to the attribute that
differs). Every task runs through Scheduler(corrections=memory) + Executor; the operator re-runs the task
after each correction, up to a budget of 3 corrections (every utterance counts, understood or not). Ground
truth and templates: bench/correction_protocol.py.

    python bench/corrections.py --quick                 # the table in docs/BENCHMARKS.md (~3 min)
    python bench/corrections.py [--rounds 3] [--tasks-per-round 10] [--seed 0] [--noise 0.1]
                                [--conditions none,text,visual,no-abstain,no-narrowing] [--log results.jsonl]
Retrieval and correction-to-effect latency: bench/correction_latency.py.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Every retrieval embeds its query with MiniLM. On a shared 2-core machine torch's two OpenMP threads
# spin against other processes: 1.08 s per query measured at load 4.7, 38 ms with one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from correction_protocol import (CORRECTION_BUDGET, Operator, TaskSpec, build_tasks, judge, load_bench_scene,
                                 paint_urdf_objects, truth_for)
from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.scene import SceneSpec
from planners.corrections import CorrectionContext, CorrectionError, record_correction
from planners.plan import TaskError
from planners.scheduler import Scheduler
from planners.corrections.memory import ABSTAIN_THRESHOLD, CorrectionMemory, CorrectionRecord, CorrectionStore, \
    RetrievalQuery, RetrievedCorrection, visual_descriptor
from planners.corrections.memory.record import ObjectContext

#: condition -> (uses memory across tasks, visual descriptors, abstain threshold, narrowing on conflict)
CONDITIONS = {"none": (False, False, ABSTAIN_THRESHOLD, True), "text": (True, False, ABSTAIN_THRESHOLD, True),
              "visual": (True, True, ABSTAIN_THRESHOLD, True), "no-abstain": (True, True, 0.0, True),
              "no-narrowing": (True, True, ABSTAIN_THRESHOLD, False)}
GROUPS = ("seen", "novel", "other")


class BenchMemory(CorrectionMemory):
    """The real memory, plus a note of every accepted record (to score precision). Queries carry the
    scheduler's own camera descriptor; only the `visual` conditions store one on records."""

    def __init__(self, store: CorrectionStore, *, threshold: float) -> None:
        super().__init__(store, threshold=threshold)
        self.accepted: list[tuple[RetrievalQuery, CorrectionRecord]] = []

    def retrieve(self, query: RetrievalQuery, *, include_rejected: bool = False) -> list[RetrievedCorrection]:
        results = super().retrieve(query, include_rejected=include_rejected)
        self.accepted += [(query, r.record) for r in results if r.accepted]
        return results


def _truth_value(obj: ObjectContext | None, record: CorrectionRecord) -> object:
    """The ground-truth value of what a record changes, for objects like `obj`."""
    truth = truth_for(obj.category, obj.size) if obj is not None else None
    if truth is None:
        return "unknown"
    if record.kind == "plan":
        return truth.container
    if (record.skill, record.parameter) == ("pick", "grasp_offset"):
        return truth.grasp_offset
    if record.skill == "place" and record.parameter in ("offset_x", "offset_y"):
        return truth.place_offset
    if (record.skill, record.parameter) == ("pull", "distance"):
        return truth.opening
    return None  # speed, heights: no ground truth wants them changed


def is_precise(query: RetrievalQuery, record: CorrectionRecord) -> bool:
    """Applied knowledge that the ground truth of the object it was applied to agrees with."""
    if record.kind == "plan":
        match = record.rule.args.get("match") or {}
        hits = [o for o in query.objects if not o.attributes.get("container")
                and all(not match.get(k) or match[k] == getattr(o, k) for k in ("category", "color", "size"))]
        return bool(hits) and all(_truth_value(o, record) == record.rule.args.get("container") for o in hits)
    wanted = _truth_value(query.object, record)
    return wanted not in (None, "unknown") and wanted == _truth_value(record.object, record)


@dataclass
class TaskResult:
    condition: str
    round: int
    group: str
    obj: str
    text: str
    success: bool = False
    corrections: int = 0
    not_understood: int = 0
    first_try_ok: bool = False
    applied: int = 0  # records from earlier tasks accepted while this task ran
    precise: int = 0
    negative_transfer: bool = False
    said: list[str] = field(default_factory=list)


class Runner:
    def __init__(self, condition: str, noise: float, seed: int, workdir: Path) -> None:
        self.condition, self.workdir = condition, workdir
        self.persistent, self.visual, self.threshold, self.narrowing = CONDITIONS[condition]
        # Re-planning off: this measures what corrections teach; a re-plan would redo a short pull by itself.
        self.scheduler = Scheduler(replans=0)
        self.operator = Operator(seed, noise)
        self.source = "voice" if noise > 0 else "interactive"
        self.scenes: dict[str, SceneSpec] = {}
        self.memory = self._new_memory("shared") if self.persistent else None

    def _new_memory(self, name: str) -> BenchMemory:
        return BenchMemory(CorrectionStore(self.workdir / name / "corrections.db"), threshold=self.threshold)

    def _arm(self, task: TaskSpec) -> PyBulletArm:
        if task.scene not in self.scenes:
            self.scenes[task.scene] = load_bench_scene(task.scene)
        arm = PyBulletArm(PyBulletConfig(scene=task.scene, seed=task.seed), scene=self.scenes[task.scene])
        paint_urdf_objects(arm)
        return arm

    def _attempt(self, task: TaskSpec, arm: PyBulletArm, memory: BenchMemory | None):
        self.scheduler.corrections = memory
        try:
            plan = self.scheduler.plan(task.text, arm)
        except TaskError as err:
            raise SystemExit(f"benchmark task does not parse: {task.text!r}: {err}") from err
        return judge(task, arm, self.scheduler.execute(plan, arm, arm))

    def run(self, index: int, task: TaskSpec) -> TaskResult:
        task_id = f"{self.condition}-{index}"
        memory = self.memory or self._new_memory(f"task{index}")
        result = TaskResult(self.condition, task.round, task.group, task.obj, task.text)
        try:
            return self._run(index, task, task_id, memory, result)
        finally:
            if memory is not self.memory:
                memory.close()

    def _run(self, index: int, task: TaskSpec, task_id: str, memory: BenchMemory, result: TaskResult) -> TaskResult:
        free_retry, attempt = True, 0
        while True:
            with self._arm(task) as arm:
                seen_as = visual_descriptor(arm, task.obj) if self.visual else None  # before anything moves
                memory.accepted.clear()
                verdict = self._attempt(task, arm, memory)
                earlier = [(q, r) for q, r in memory.accepted if r.task_id != task_id]
                result.applied += len(earlier)
                result.precise += sum(is_precise(q, r) for q, r in earlier)
                if attempt == 0:
                    result.first_try_ok = verdict.ok
                    if not verdict.ok and earlier and self.persistent:
                        result.negative_transfer = self._default_would_pass(task)
                attempt += 1
                if verdict.ok:
                    result.success = True
                    return result
                if verdict.fault is None:  # a physics failure with the right plan: the operator just retries
                    if free_retry:
                        free_retry = False
                        continue
                    return result
                skill = {"grasp": "pick", "placement": "place", "pull": "pull"}.get(verdict.fault)
                # what memory applied to the corrected skill (the robot knows this: it applied them)
                applied = {r.id: r for q, r in memory.accepted if q.skill == skill} if self.narrowing else {}
                context = CorrectionContext(
                    task=task.text, skill=skill, object=task.obj,
                    target=truth_for(task.category).container if verdict.fault == "placement" else None,
                    objects=arm.objects(), task_id=task_id, source=self.source, visual=seen_as,
                    applied=tuple(applied.values()))
                while True:
                    if result.corrections >= CORRECTION_BUDGET:
                        return result
                    text = self.operator.phrase(verdict, task.noun)
                    result.corrections += 1
                    result.said.append(text)
                    try:
                        record_correction(text, context, memory)
                        break
                    except CorrectionError:
                        result.not_understood += 1

    def _default_would_pass(self, task: TaskSpec) -> bool:
        """Counterfactual for negative transfer: the same episode (same seed) without any memory."""
        with self._arm(task) as arm:
            return self._attempt(task, arm, None).ok

    def close(self) -> None:
        if self.memory is not None:
            self.memory.close()


def _mean(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f}" if values else "-"


def summarise(results: list[TaskResult], conditions: list[str], rounds: int) -> None:
    print("| condition | round | corrections/task seen / novel / other | success within budget seen / novel / other "
          "| retrieval precision | negative transfer | not understood |")
    print("|---|---|---|---|---|---|---|")
    for cond in conditions:
        for rnd in range(rounds + 1):
            rows = [r for r in results if r.condition == cond and r.round == rnd]
            by = {g: [r for r in rows if r.group == g] for g in GROUPS}
            corr = " / ".join(_mean([r.corrections for r in by[g]]) for g in GROUPS)
            succ = " / ".join(f"{sum(r.success for r in by[g])}/{len(by[g])}" if by[g] else "-" for g in GROUPS)
            applied, precise = sum(r.applied for r in rows), sum(r.precise for r in rows)
            prec = f"{precise}/{applied}" if applied else "-"
            neg = f"{sum(r.negative_transfer for r in rows)}/{len(rows)}" if CONDITIONS[cond][0] else "-"
            print(f"| {cond} | R{rnd} | {corr} | {succ} | {prec} | {neg} | {sum(r.not_understood for r in rows)} |")
    check_targets(results, conditions, rounds)


def check_targets(results: list[TaskResult], conditions: list[str], rounds: int) -> None:
    def per_task(cond: str, rnds: range, group: str) -> float | None:
        rows = [r.corrections for r in results if r.condition == cond and r.round in rnds and r.group == group]
        return statistics.mean(rows) if rows else None

    base_r1, base_novel = per_task("none", range(1, 2), "seen"), per_task("none", range(1, rounds + 1), "novel")
    print("\ntargets (memory conditions; baseline = condition none):")
    for cond in (c for c in conditions if CONDITIONS[c][0]):
        r1 = per_task(cond, range(1, 2), "seen")
        late = per_task(cond, range(2, rounds + 1), "seen")
        novel = per_task(cond, range(1, rounds + 1), "novel")
        later = [r for r in results if r.condition == cond and r.round >= 1]
        neg = sum(r.negative_transfer for r in later) / len(later) if later else None

        def verdict(value: float | None, bound: float | None) -> str:
            if value is None or bound is None:
                return "n/a"
            return f"{value:.2f} vs <= {bound:.2f}: {'met' if value <= bound else 'NOT met'}"

        half_r1 = base_r1 * 0.5 if base_r1 is not None else None
        half_novel = base_novel * 0.5 if base_novel is not None else None
        negative = f"{neg:.1%} (<5%: {'met' if neg < 0.05 else 'NOT met'})" if neg is not None else "n/a"
        print(f"  {cond}: R1 seen {verdict(r1, half_r1)}; R2-R3 seen {verdict(late, 0.2)}; "
              f"novel {verdict(novel, half_novel)}; negative transfer {negative}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds after R0 (scenes exist for R1-R3)")
    parser.add_argument("--tasks-per-round", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.0, help="word-noise probability per word")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--quick", action="store_true", help="5 tasks per round (the docs table)")
    parser.add_argument("--log", type=Path, help="write one JSON line per task here")
    args = parser.parse_args()
    per_round = 5 if args.quick else args.tasks_per_round
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        parser.error(f"unknown condition(s) {', '.join(sorted(unknown))}; known: {', '.join(CONDITIONS)}")
    tasks = build_tasks(args.rounds, per_round, args.seed)
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"date: {datetime.date.today()}  rounds R0-R{args.rounds}, {per_round} tasks/round, seed {args.seed}, "
          f"word noise {args.noise}, budget {CORRECTION_BUDGET} corrections/task, PyBullet DIRECT, skills as the "
          "scheduler runs them (learned where a checkpoint exists and the policy takes the case)\n")
    results: list[TaskResult] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="correction-bench-") as tmp:
        for cond in conditions:
            runner = Runner(cond, args.noise, args.seed, Path(tmp) / cond)
            try:
                results += [runner.run(i, task) for i, task in enumerate(tasks)]
            finally:
                runner.close()
            print(f"  {cond}: {len(tasks)} tasks, {time.perf_counter() - start:.0f} s so far", flush=True)
    print()
    summarise(results, conditions, args.rounds)
    if args.log:
        with args.log.open("w", encoding="utf-8") as out:
            for r in results:
                out.write(json.dumps(asdict(r)) + "\n")


if __name__ == "__main__":
    main()
