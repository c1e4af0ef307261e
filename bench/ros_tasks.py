"""A mix of tasks over ROS 2 side by side with the same tasks in-process: picks, places, stacks and pushes
(learned skills on both sides), each on its own scene seed, idle and with one busy process per core.

The tasks come from a generator (phrasings x objects x directions x distances); `--split heldout` (the default)
draws from a seed not used while developing, `--split dev` from the one that was. Success is judged by this
script from the simulator's object states with planners.goals, never from the scheduler's report: in-process on
PyBullet, over ROS on the `objects` topic the hardware node publishes (plus the arm's joint states for goals on
the arm). Over ROS the full sim graph runs (hardware node, skill server, scheduler) and tasks are sent as an
outside ExecuteTask client; between tasks the hardware node resets its scene to the task's seed.

    python bench/ros_tasks.py [--tasks 12] [--split heldout|dev] [--load 0|1|both] [--robot panda]
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _ros_graph import REPO, BusyLoad, GraphProcesses, SkillGraphClient, client_of, describe_graph, describe_load, \
    header, wait, wait_until

CUBES = ("red cube", "green cube", "blue cube", "yellow cube", "small red cube", "small blue cube")
PHRASINGS = {
    "place": ("put the {a} in the tray", "place the {a} into the box", "drop the {a} in the bin"),
    "stack": ("stack the {a} on the {b}", "put the {a} on top of the {b}", "place the {a} on the {b}"),
    "pick": ("pick up the {a}", "grab the {a}", "lift the {a}", "pick up the lego brick"),
    "push": ("push the {a} {d} cm {direction}", "slide the {a} {d} centimetres {direction}",
             "shove the {a} {d} cm {direction}"),
}
DIRECTIONS = ("to the left", "to the right", "left", "right", "forward", "backward", "away", "towards the robot")
SPLIT_SEEDS = {"dev": 0, "heldout": 1}


@dataclass(frozen=True)
class Task:
    text: str
    seed: int  #: the scene's seed


def generate(count: int, split: str) -> list[Task]:
    """`count` tasks, the kinds in turn, from the split's own random stream and scene seeds."""
    rng = random.Random(SPLIT_SEEDS[split])
    tasks = []
    for i in range(count):
        kind = tuple(PHRASINGS)[i % len(PHRASINGS)]
        a, b = rng.sample(CUBES[:4], 2) if kind == "stack" else (rng.choice(CUBES), "")
        text = rng.choice(PHRASINGS[kind]).format(a=a, b=b, d=rng.randrange(5, 13),
                                                  direction=rng.choice(DIRECTIONS))
        tasks.append(Task(text, 100 * SPLIT_SEEDS[split] + i))
    return tasks


def in_process(tasks: list[Task], robot: str) -> list[bool]:
    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from planners.goals import goal_holds
    from planners.plan import TaskError
    from planners.scheduler import Scheduler

    scheduler = Scheduler(learned=True)
    results = []
    for task in tasks:
        with PyBulletArm(PyBulletConfig(seed=task.seed, robot=robot)) as arm:
            try:
                plan = scheduler.plan(task.text, arm)
            except TaskError as err:  # not understood: a failure here and over ROS alike
                results.append(False)
                print(f"    in-process  {task.text:<50} seed {task.seed:>3}: NOT UNDERSTOOD ({err})", flush=True)
                continue
            start = {n: o.position.copy() for n, o in arm.objects().items()}
            report = scheduler.execute(plan, arm, arm)
            for _ in range(10):  # let it settle, as over ROS
                arm.step()
            results.append(all(goal_holds(g, arm, arm, start) for g in plan.goals))
        ran = ", ".join(f"{o.skill} {o.policy}" for o in report.outcomes)
        print(f"    in-process  {task.text:<50} seed {task.seed:>3}: {'ok' if results[-1] else 'FAILED'} [{ran}]",
              flush=True)
    return results


def task_goals(tasks: list[Task], robot: str) -> list[list | None]:
    """Each task's goals on its scene, grounded in-process: what this script checks over ROS (None: the task is
    not understood, so nothing can hold)."""
    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from planners.plan import TaskError
    from planners.scheduler import Scheduler

    scheduler = Scheduler(learned=False)
    out: list[list | None] = []
    for task in tasks:
        with PyBulletArm(PyBulletConfig(seed=task.seed, robot=robot)) as arm:
            try:
                out.append(list(scheduler.plan(task.text, arm).goals))
            except TaskError:
                out.append(None)
    return out


def over_ros(tasks: list[Task], goals: list[list | None], robot: str, load: int) -> list[bool]:
    from hardware.ros.common import ActionClient
    from skill_stack_interfaces.action import ExecuteTask

    from hardware.ros.backend import RosArm
    from hardware.ros.config import RosArmConfig
    from hardware.ros.world import RosWorldView
    from planners.goals import goal_holds

    domain = 190 + os.getpid() % 30  # apart from the tests (10-99) and the other benches
    log = Path("/tmp") / f"ros_tasks_{os.getpid()}_{load}.log"
    graph = GraphProcesses([[sys.executable, "-m", "skill_stack_apps.cli", "launch", "launch/sim.launch.yaml",
                             f"robot:={robot}", f"seed:={tasks[0].seed}"]], domain, log)
    results = []
    with client_of(graph, domain, "ros_tasks_bench") as client:
        hardware = SkillGraphClient(client, robot)
        world = RosWorldView(client.node, "objects", state_timeout=2.0)
        arm = RosArm(client.node, RosArmConfig(robot=robot, state_timeout=2.0), commands=False)
        execute = ActionClient(client.node, ExecuteTask, "execute_task")
        wait_until(lambda: execute.wait_for_server(timeout_sec=0.5), 180, f"the graph (log: {log})")
        hardware.wait_ready()
        time.sleep(5.0)  # the scheduler loads its model after its action server is announced
        print(f"    graph: {describe_graph(log)}")
        with BusyLoad(load) as busy:
            print(f"    over ROS, {describe_load(len(busy.workers))}:")
            for task, expected in zip(tasks, goals):
                hardware.reset_scene(task.seed)
                time.sleep(1.0)  # the scene settles; the scheduler sees the new objects
                start = {n: o.position.copy() for n, o in world.objects().items()}
                handle = wait(execute.send_goal_async(ExecuteTask.Goal(task=task.text)), 30, "the task's acceptance")
                if not handle.accepted:
                    raise RuntimeError(f"task rejected: {task.text}")
                result = wait(handle.get_result_async(), 240, "the task's result").result
                time.sleep(0.5)  # the objects settle, as in-process
                results.append(expected is not None and all(goal_holds(g, world, arm, start) for g in expected))
                said = "" if results[-1] == result.success else f" (the scheduler said {result.success})"
                ran = ", ".join(f"{o.skill} {o.policy}" for o in result.outcomes)
                print(f"    over ROS    {task.text:<50} seed {task.seed:>3}: {'ok' if results[-1] else 'FAILED'}"
                      f"{said} [{ran}]{'' if result.success else ': ' + result.message[:80]}", flush=True)
        arm.close()
        world.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--split", choices=tuple(SPLIT_SEEDS), default="heldout")
    parser.add_argument("--load", choices=("0", "1", "both"), default="both",
                        help="over ROS: 0 idle, 1 one busy process per core beside the graph")
    parser.add_argument("--robot", default="panda")
    args = parser.parse_args()
    os.chdir(REPO)
    tasks = generate(args.tasks, args.split)
    print(header(f"tasks over ROS 2 and in-process ({args.split} split, {args.robot})"))
    local = in_process(tasks, args.robot)
    goals = task_goals(tasks, args.robot)
    rows = {"in-process": local}
    for load in ([0, 1] if args.load == "both" else [int(args.load)]):
        rows[f"over ROS, {'idle' if not load else 'loaded'}"] = over_ros(tasks, goals, args.robot, load)
    print(f"\n{'':<20} {'succeeded':>10}   per kind (place, stack, pick, push)")
    for name, ok in rows.items():
        kinds = [sum(ok[i::len(PHRASINGS)]) for i in range(len(PHRASINGS))]
        counts = [len(ok[i::len(PHRASINGS)]) for i in range(len(PHRASINGS))]
        print(f"{name:<20} {sum(ok):>4}/{len(ok):<5}   " + ", ".join(f"{k}/{n}" for k, n in zip(kinds, counts)))


if __name__ == "__main__":
    main()
