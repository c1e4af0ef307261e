"""The task suite of issue #15: phrasings people use, by category, each with its expected outcome, run
in-process through all three layers (parser -> skills -> PyBullet) with the learned skills.

Tasks come from templates x objects x directions x distances, drawn from the split's own random stream:
`--split heldout` (the default) from a seed not used while developing, `--split dev` from the one that was,
`--split heldout-b` from a third (see SPLIT_SEEDS).
Each task runs on its own scene seed. An expected success counts when this script finds every goal of the
plan holding in the simulator after the task (planners.goals on PyBullet's state, not the scheduler's
report); an expected refusal counts when planning refuses it (TaskError) and the arm has not moved.

    python bench/task_suite.py [--split heldout|dev|heldout-b] [--per-category 25] [--category sets]...
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

LARGE = ("red cube", "green cube", "blue cube", "yellow cube")
CUBES = LARGE + ("small red cube", "small blue cube")
DIRECTIONS = ("to the left", "to the right", "left", "right", "forward", "backward", "away", "towards the robot")
#: category -> templates; {a} {b} {c}: distinct cubes ({a} {b} large where a template stacks), {d}: cm,
#: {dir}: a direction, {color}: a colour with two cubes, {side}: a side relation
TEMPLATES: dict[str, tuple[str, ...]] = {
    "single skill": ("pick up the {a}", "grab the {a}", "put the {a} in the tray", "drop the {a} into the bin",
                     "stack the {a} on the {b}", "place the {a} on top of the {b}", "push the {a} {d} cm {dir}",
                     "slide the {a} {d} centimetres {dir}", "move to the {a}", "hover 10 cm above the {a}"),
    "multi-step": ("put the {a} in the tray, then stack the {b} on the {c}",
                   "pick up the {a} and put it in the bin", "push the {a} {d} cm {dir}, then pick up the {b}",
                   "stack the {a} on the {b} and then put the {c} in the tray"),
    "sets": ("put all the cubes in the tray", "put the {a} and the {b} in the tray", "put both small cubes in the bin",
             "put the {color} ones in the tray", "place every large cube in the box", "put everything in the tray",
             "put the {a}, the {b} and the lego in the tray"),
    "relations": ("put the {a} to the left of the {b}", "put the {a} to the right of the {b}",
                  "place the {a} in front of the {b}", "put the {a} behind the {b}", "put the {a} next to the {b}",
                  "put the {a} between the {b} and the {c}", "set the {a} beside the {b}",
                  "put the {a} in the middle of the tray", "put the {a} in the front left corner of the bin",
                  "place the {a} in a corner of the box"),
    "packing": ("put the {a} in the tray then put the {b} in the tray then put the {c} in the tray",
                "put the {a} in the bin, then put the {b} in the bin"),
    "refusals": ("hand me the {a}", "pick up all the cubes", "push the cubes {d} cm {dir}",
                 "put the {a} under the tray", "put the purple cube in the tray", "pick up the cube",
                 "put three {color} cubes in the tray", "put the {a} in the {b}", "juggle the {a}",
                 "put the {a} on the {a}", "put all the cubes on the {b}"),
}
TWO_OF_A_COLOUR = ("red", "blue")
#: dev: developed against; heldout: drawn once, reported; heldout-b: a fresh draw for the figures after a
#: change made while looking at the first held-out results
SPLIT_SEEDS = {"dev": 0, "heldout": 1, "heldout-b": 2}


@dataclass(frozen=True)
class Task:
    category: str
    text: str
    seed: int  #: the scene's seed

    @property
    def refusal(self) -> bool:
        return self.category == "refusals"


def generate(per_category: int, split: str, categories: list[str]) -> list[Task]:
    rng = random.Random(SPLIT_SEEDS[split])
    tasks = []
    for category in categories:
        for i in range(per_category):
            template = TEMPLATES[category][i % len(TEMPLATES[category])]
            stacking = "stack" in template or "on top of" in template
            a, b, c = rng.sample(LARGE if stacking else CUBES, 3)
            text = template.format(a=a, b=b, c=c, d=rng.randrange(5, 13), dir=rng.choice(DIRECTIONS),
                                   color=rng.choice(TWO_OF_A_COLOUR))
            tasks.append(Task(category, text, 1000 * SPLIT_SEEDS[split] + len(tasks)))
    return tasks


def run(task: Task, scheduler) -> tuple[bool, str]:
    """(as expected?, what happened)."""
    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from planners.goals import goal_holds
    from planners.plan import TaskError

    with PyBulletArm(PyBulletConfig(seed=task.seed)) as arm:
        before = arm.joint_state().positions.copy()
        try:
            plan = scheduler.plan(task.text, arm)
        except TaskError as err:
            still = bool(np.allclose(arm.joint_state().positions, before, atol=1e-6))
            return task.refusal and still, f"refused: {err}"[:110]
        if task.refusal:
            return False, f"PLANNED, expected a refusal: {[str(c) for c in plan.calls]}"
        start = {n: o.position.copy() for n, o in arm.objects().items()}
        report = scheduler.execute(plan, arm, arm)
        for _ in range(10):
            arm.step()
        holds = all(goal_holds(g, arm, arm, start) for g in plan.goals)
        ran = ", ".join(f"{o.skill} {o.policy}" for o in report.outcomes)
        return holds, f"{'goals hold' if holds else 'GOALS DO NOT HOLD: ' + report.message[:60]} [{ran}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=tuple(SPLIT_SEEDS), default="heldout")
    parser.add_argument("--per-category", type=int, default=25, help="tasks per category (25: the 150 of issue #15)")
    parser.add_argument("--category", action="append", choices=tuple(TEMPLATES),
                        help="only these categories (repeatable); default: all")
    args = parser.parse_args()
    from planners.scheduler import Scheduler

    categories = args.category or list(TEMPLATES)
    tasks = generate(args.per_category, args.split, categories)
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}, split {args.split}, {len(tasks)} tasks, "
          f"in-process, learned skills; load average {os.getloadavg()[0]:.2f}")
    scheduler = Scheduler(learned=True)
    tally: dict[str, list[bool]] = defaultdict(list)
    started = time.perf_counter()
    for i, task in enumerate(tasks, 1):
        ok, what = run(task, scheduler)
        tally[task.category].append(ok)
        print(f"  [{i:>3}/{len(tasks)}] {task.category:<12} {task.text:<70} seed {task.seed:>4}: "
              f"{'ok' if ok else 'NOT AS EXPECTED'} - {what}", flush=True)
    print(f"\n{'category':<14} {'as expected':>12}   ({time.perf_counter() - started:.0f} s)")
    for category in categories:
        results = tally[category]
        print(f"{category:<14} {sum(results):>6}/{len(results):<5} {100 * sum(results) / len(results):5.0f} %")
    total = [ok for results in tally.values() for ok in results]
    print(f"{'all':<14} {sum(total):>6}/{len(total):<5} {100 * sum(total) / len(total):5.0f} %")


if __name__ == "__main__":
    main()
