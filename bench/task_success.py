"""Task success over seeds, through all three layers (parser -> skills -> PyBullet), headless.

Success is the task's goal checked in the simulator after execution. Prints a table and the machine.
With learned policies (the default, as the scheduler runs), "learned only" counts the successes where
every skill that has a learned policy ran it and needed no scripted fallback or decline.
    python bench/task_success.py [--seeds 20] [--scripted] [--task "..."]...
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from collections import Counter

from hardware.pybullet import PyBulletArm, PyBulletConfig
from planners.scheduler import Scheduler

TASKS = [
    "put the red cube in the tray",
    "stack the blue cube on the green cube",
    "push the yellow cube 10 cm to the left",
    "pick up the small red block",
    "put the red cube in the tray, then stack the blue cube on the green cube",
    "stack three cubes",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--task", action="append", help="task text (repeatable); default: six standard tasks")
    parser.add_argument("--scripted", action="store_true", help="scripted controllers only (no checkpoints)")
    args = parser.parse_args()
    tasks = args.task or TASKS
    scheduler = Scheduler(learned=not args.scripted)
    learned = sorted(n for n, s in scheduler.skills.items() if s.policy is not None)
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"date: {datetime.date.today()}   seeds: 0..{args.seeds - 1}   PyBullet DIRECT, learned policies: "
          f"{', '.join(learned) or 'none (scripted)'}\n")
    print(f"{'task':<74} {'success':>9} {'learned only':>12} {'sim s':>6} {'wall s':>7}")
    for task in tasks:
        ok, learned_only, has_slots, sim, wall, failures = 0, 0, False, [], [], Counter()
        for seed in range(args.seeds):
            with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
                start = time.perf_counter()
                report = scheduler.execute(scheduler.plan(task, arm), arm, arm)
                wall.append(time.perf_counter() - start)
                sim.append(report.sim_seconds)
                ok += report.success
                slots = [o for o in report.outcomes if o.skill in learned]
                has_slots = has_slots or bool(slots)
                learned_only += report.success and bool(slots) and all(o.policy == "learned" for o in slots)
                if not report.success:
                    failures[report.message[:90]] += 1
        only = f"{learned_only:>5}/{args.seeds:<6}" if has_slots else f"{'n/a':>12}"  # no skill with a policy
        print(f"{task[:74]:<74} {ok:>4}/{args.seeds:<4} {only} "
              f"{statistics.mean(sim):6.1f} {statistics.mean(wall):7.2f}")
        for message, count in failures.items():
            print(f"    {count} x {message}")


if __name__ == "__main__":
    main()
