"""The task suite (bench/task_suite.py) over ROS 2: the same generated tasks, category by category, sent as an
outside ExecuteTask client to the sim graph (hardware node, skill server, scheduler), learned skills.

Per task the hardware node resets its scene to the task's seed. A taught task's definition is published on
the `corrections` topic first and must be acknowledged as stored. A replanning task's person moves the object
through the hardware node's `~/set_object_pose` once the disturbed skill has finished (the feedback says so),
while the next skill runs. Success is judged here, never from the scheduler's report: the goals of the task's plan,
grounded in-process on the same scene, must hold on the `objects` topic and the arm's joint states (and a
replanning task must have re-planned); an expected refusal must abort with ERROR_INVALID_TASK without the arm
moving. The graph keeps its correction memory in a temporary directory: nothing reaches the user's data.
With `--perception` the graph runs with perception:=true: the skill server and the scheduler see only what the
camera and the joint states give (perceived_objects), while success is still judged on the simulator's `objects`;
after each scene reset the perception node forgets its objects (`perception/reset`).

    python bench/task_suite_ros.py [--split heldout|dev|heldout-b] [--per-category 5] [--category taught]...
                                   [--perception]
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from _ros_graph import REPO, GraphProcesses, SkillGraphClient, client_of, describe_graph, header, wait, wait_until
from task_suite import SPLIT_SEEDS, TEMPLATES, Task, disturbed_position, generate, print_tally, print_task

INVALID_TASK = 1  # ExecuteTask.Result.ERROR_INVALID_TASK
STILL_RAD = 1e-3  # a refused task leaves every arm joint within this


def expected_plans(tasks: list[Task], data: Path) -> list:
    """Each task's plan on its scene, in-process (a taught task with its definition in a memory of its own):
    what is checked over ROS. None: refused here too."""
    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from planners.corrections import CorrectionContext
    from planners.corrections.memory import CorrectionMemory
    from planners.corrections.runtime import record_correction
    from planners.plan import TaskError
    from planners.scheduler import Scheduler

    scheduler = Scheduler(learned=False)
    plans = []
    for task in tasks:
        with PyBulletArm(PyBulletConfig(seed=task.seed)) as arm:
            scheduler.corrections = None
            if task.teach is not None:
                scheduler.corrections = CorrectionMemory.open(data / f"{task.seed}.db",
                                                              embedder=scheduler.library.embedder)
                record_correction(task.teach, CorrectionContext(objects=arm.objects()), scheduler.corrections)
            try:
                plans.append(scheduler.plan(task.text, arm))
            except TaskError:
                plans.append(None)
    return plans


class SuiteClient:
    """What the suite needs of the graph beyond SkillGraphClient: tasks, corrections and the person."""

    def __init__(self, client, hardware: SkillGraphClient) -> None:
        from skill_stack_interfaces.action import ExecuteTask
        from skill_stack_interfaces.msg import TaskStatus
        from skill_stack_interfaces.srv import SetObjectPose
        from std_msgs.msg import String
        from std_srvs.srv import Trigger

        from hardware.ros.common import COMMAND_QOS, STATUS_QOS, ActionClient
        from hardware.ros.config import RosArmConfig
        from hardware.ros.backend import RosArm
        from hardware.ros.world import RosWorldView

        node = client.node
        self.hardware, self.goal_type, self.string = hardware, ExecuteTask.Goal, String
        self.execute = ActionClient(node, ExecuteTask, "execute_task")
        self.corrections = node.create_publisher(String, "corrections", COMMAND_QOS)
        self.statuses: list = []
        node.create_subscription(TaskStatus, "status", self.statuses.append, STATUS_QOS)
        self.move = node.create_client(SetObjectPose, "hardware/set_object_pose")
        self.reset_perception, self.trigger = node.create_client(Trigger, "perception/reset"), Trigger.Request
        self.pose_request = SetObjectPose.Request
        self.world = RosWorldView(node, "objects", state_timeout=2.0)
        self.arm = RosArm(node, RosArmConfig(state_timeout=2.0), commands=False)

    def forget_perceived_objects(self) -> None:
        if not self.reset_perception.wait_for_service(timeout_sec=10):
            raise TimeoutError("no perception/reset service")
        wait(self.reset_perception.call_async(self.trigger()), 10, "perception/reset")

    def teach(self, text: str) -> str:
        """Publish a definition; the scheduler's acknowledgement."""
        self.corrections.publish(self.string(data=text))
        status = wait_until(lambda: next((s for s in reversed(self.statuses) if s.last_correction == text), None),
                            30, "the definition's acknowledgement")
        return status.correction_ack

    def run(self, task: Task, plan) -> tuple[bool, str]:
        """(as expected?, what happened)."""
        from planners.goals import goal_holds

        before = self.hardware.joint_samples()[-1].positions
        start = {n: o.position.copy() for n, o in self.world.objects().items()}
        feedback: list = []
        handle = wait(self.execute.send_goal_async(self.goal_type(task=task.text),
                                                   feedback_callback=lambda f: feedback.append(f.feedback)),
                      30, "the task's acceptance")
        result_future = handle.get_result_async()
        moved = self._disturb(task, plan, start, feedback, result_future) if task.disturb else False
        result = wait(result_future, 300, "the task's result").result
        time.sleep(0.5)  # the objects settle, as in-process
        refused = not result.success and result.error_code == INVALID_TASK
        if task.refusal:
            still = bool(np.max(np.abs(self.hardware.joint_samples()[-1].positions - before)) < STILL_RAD)
            what = "refused" if refused else "NOT REFUSED"
            return refused and still, f"{what}{'' if still else ', THE ARM MOVED'}: {result.message}"[:110]
        if plan is None:
            return False, f"REFUSED in-process; over ROS: {result.message}"[:110]
        holds = all(goal_holds(g, self.world, self.arm, start) for g in plan.goals)
        replans = sum(f.message.startswith("re-plan") for f in feedback)
        if task.disturb and not (moved and replans):
            return False, f"NOT DISTURBED ({'moved' if moved else 'not moved'}, {replans} re-plans)"
        said = "" if holds == result.success else f" (the scheduler said {result.success})"
        ran = ", ".join(f"{o.skill} {o.policy}" for o in result.outcomes)
        return holds, f"{'goals hold' if holds else 'GOALS DO NOT HOLD'}{said} [{replans} re-plan(s); {ran}]"

    def _disturb(self, task: Task, plan, start: dict, feedback: list, result_future) -> bool:
        """Once the disturbed skill has finished (its last feedback, before the next skill starts), the person
        moves the object (set_object_pose) while the next skill runs: before the goals are checked."""
        obj, skill, where = task.disturb
        index = next(i for i, c in enumerate(plan.calls) if c.skill == skill and c.params.get("object") == obj)
        wait_until(lambda: result_future.done() or any(  # the scheduler's "<skill>: ok" once the skill succeeded
            f.skill_index > index or (f.skill_index == index and f.message == f"{skill}: ok") for f in feedback), 120,
            "the end of the disturbed skill")
        if result_future.done():
            return False
        positions = {n: o.position for n, o in self.world.objects().items()}
        x, y, z = disturbed_position(positions, obj, where, start[obj], random.Random(task.seed))
        answer = wait(self.move.call_async(self.pose_request(name=obj, x=float(x), y=float(y), z=float(z))), 10,
                      "set_object_pose")
        return bool(answer.success)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=tuple(SPLIT_SEEDS), default="heldout")
    parser.add_argument("--per-category", type=int, default=5)
    parser.add_argument("--category", action="append", choices=tuple(TEMPLATES),
                        help="only these categories (repeatable); default: all")
    parser.add_argument("--perception", action="store_true", help="skills and goals on perceived object states")
    args = parser.parse_args()
    os.chdir(REPO)
    categories = args.category or list(TEMPLATES)
    tasks = generate(args.per_category, args.split, categories)
    states = "perceived" if args.perception else "simulator"
    print(header(f"task suite over ROS 2 ({args.split} split, {len(tasks)} tasks, learned skills, {states} object "
                 "states, idle)"))
    data = Path(tempfile.mkdtemp(prefix="task_suite_ros_"))
    plans = expected_plans(tasks, data)
    os.environ["SKILL_STACK_DATA"] = str(data / "graph")  # the graph's correction memory: not the user's
    domain = 160 + os.getpid() % 30  # apart from the tests (10-99) and the other benches
    log = data / "graph.log"
    graph = GraphProcesses([[sys.executable, "-m", "skill_stack_apps.cli", "launch", "launch/sim.launch.yaml",
                             f"seed:={tasks[0].seed}", f"perception:={str(args.perception).lower()}"]], domain, log)
    tally: dict[str, list[bool]] = defaultdict(list)
    started = time.perf_counter()
    with client_of(graph, domain, "task_suite_bench") as client:
        hardware = SkillGraphClient(client)
        suite = SuiteClient(client, hardware)
        wait_until(lambda: suite.execute.wait_for_server(timeout_sec=0.5), 180, f"the graph (log: {log})")
        hardware.wait_ready()
        time.sleep(5.0)  # the scheduler loads its model after its action server is announced
        print(f"    graph: {describe_graph(log)}")
        for i, (task, plan) in enumerate(zip(tasks, plans), 1):
            hardware.reset_scene(task.seed)
            if args.perception:
                suite.forget_perceived_objects()
            time.sleep(1.0)  # the scene settles; the scheduler sees the new objects
            if task.teach is not None and not (ack := suite.teach(task.teach)).startswith("stored"):
                ok, what = False, f"NOT TAUGHT: {ack}"[:110]
            else:
                ok, what = suite.run(task, plan)
            tally[task.category].append(ok)
            print_task(i, len(tasks), task, ok, what)
        suite.arm.close()
        suite.world.close()
    print_tally(categories, tally, f"{time.perf_counter() - started:.0f} s, over ROS")


if __name__ == "__main__":
    main()
