"""The same tasks on two arms, side by side: the Franka Panda and the UFactory xArm6 (config/robots/), with the
scripted controllers and with the learned skills (trained on the Panda; they act in tool space).

Success is the task's goal checked in the simulator after execution, seeds 0..N-1 for every arm. In the learned
columns, "(L)" counts the successes where every skill with a learned policy ran it, with no scripted fallback
or decline. Failures are listed under the table with the arm, the mode and the seeds.
    python bench/arms.py [--seeds 10] [--robot panda --robot xarm6] [--mode scripted --mode learned] [--task "..."]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

from hardware.pybullet import PyBulletArm, PyBulletConfig
from planners.scheduler import Scheduler

TASKS = [
    "put the red cube in the tray",
    "stack the blue cube on the green cube",
    "pick up the lego brick",
    "push the yellow cube 10 cm to the left",
    "stack three cubes",
]
MODES = ("scripted", "learned")


@dataclass
class Cell:
    """One task on one arm in one mode, over the seeds."""

    ok: int = 0
    learned_only: int = 0
    runs: int = 0
    sim: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    #: failure message -> seeds
    failures: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def text(self, learned: bool) -> str:
        only = f" ({self.learned_only}L)" if learned else ""
        return f"{self.ok}/{self.runs}{only}"


def measure(scheduler: Scheduler, task: str, robot: str, seeds: int) -> Cell:
    learned = {n for n, s in scheduler.skills.items() if s.policy is not None}
    cell = Cell()
    for seed in range(seeds):
        with PyBulletArm(PyBulletConfig(robot=robot, seed=seed)) as arm:
            start = time.perf_counter()
            report = scheduler.execute(scheduler.plan(task, arm), arm, arm)
            cell.wall.append(time.perf_counter() - start)
        cell.runs += 1
        cell.sim.append(report.sim_seconds)
        cell.ok += report.success
        slots = [o for o in report.outcomes if o.skill in learned]
        cell.learned_only += report.success and bool(slots) and all(o.policy == "learned" for o in slots)
        if not report.success:
            ran = ", ".join(f"{o.skill}:{o.policy}{'' if o.success else '!'}" for o in report.outcomes)
            cell.failures[f"{report.message[:150]} [{ran}]"].append(seed)
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per arm and task (default 10)")
    parser.add_argument("--robot", action="append", help="robot name in config/robots (repeatable; "
                        "default: panda and xarm6)")
    parser.add_argument("--mode", action="append", choices=MODES, help="scripted and/or learned (default both)")
    parser.add_argument("--task", action="append", help="task text (repeatable; default: five standard tasks)")
    args = parser.parse_args()
    robots, modes, tasks = args.robot or ["panda", "xarm6"], args.mode or list(MODES), args.task or TASKS
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"date: {datetime.datetime.now():%Y-%m-%d %H:%M}   load average at start: "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}   seeds: 0..{args.seeds - 1}   PyBullet DIRECT\n")
    cells: dict[tuple[str, str, str], Cell] = {}
    for mode in modes:
        scheduler = Scheduler(learned=mode == "learned")
        if mode == "learned":
            names = sorted(n for n, s in scheduler.skills.items() if s.policy is not None)
            print(f"learned policies: {', '.join(names) or 'none'}")
        for task in tasks:
            for robot in robots:
                cells[task, robot, mode] = measure(scheduler, task, robot, args.seeds)
    columns = [(robot, mode) for mode in modes for robot in robots]
    print(f"{'task':<42}" + "".join(f"{f'{r} {m}':>18}" for r, m in columns))
    for task in tasks:
        print(f"{task[:42]:<42}" + "".join(f"{cells[task, r, m].text(m == 'learned'):>18}" for r, m in columns))
    print(f"\n{'mean sim s / wall s per task':<42}" + "".join(
        f"{statistics.mean(s for t in tasks for s in cells[t, r, m].sim):>9.1f}"
        f"{statistics.mean(w for t in tasks for w in cells[t, r, m].wall):>9.2f}" for r, m in columns))
    for (task, robot, mode), cell in cells.items():
        for message, seeds in cell.failures.items():
            print(f"  {robot} {mode} | {task} | seeds {seeds}: {message}")


if __name__ == "__main__":
    main()
