"""Task success over seeds, through all three layers (parser -> skills -> PyBullet), headless.

Success is the task's goal checked in the simulator after execution. Prints a table and the machine.
    python bench/task_success.py [--seeds 20] [--task "..."]...
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
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--task", action="append", help="task text (repeatable); default: five standard tasks")
    args = parser.parse_args()
    tasks = args.task or TASKS
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"date: {datetime.date.today()}   seeds: 0..{args.seeds - 1}   PyBullet DIRECT, scripted skills\n")
    scheduler = Scheduler()
    print(f"{'task':<74} {'success':>9} {'sim s':>6} {'wall s':>7}")
    for task in tasks:
        ok, sim, wall, failures = 0, [], [], Counter()
        for seed in range(args.seeds):
            with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
                start = time.perf_counter()
                report = scheduler.execute(scheduler.plan(task, arm), arm, arm)
                wall.append(time.perf_counter() - start)
                sim.append(report.sim_seconds)
                ok += report.success
                if not report.success:
                    failures[report.message[:90]] += 1
        print(f"{task[:74]:<74} {ok:>4}/{args.seeds:<4} {statistics.mean(sim):6.1f} {statistics.mean(wall):7.2f}")
        for message, count in failures.items():
            print(f"    {count} x {message}")


if __name__ == "__main__":
    main()
