"""The arm's command stream over ROS 2, seen from outside the graph: intervals between JointTrajectory messages
over whole tasks, idle and with one busy process per core beside the graph.

Starts the simulated graph (`skillstack launch launch/sim.launch.yaml`) in its own ROS domain, sends tasks
as an outside ExecuteTask client, and records every message on `joint_trajectory` with its arrival time,
the hardware node's watchdog trips (`hardware/status`) and how each task ended. Intervals are counted
within each skill's command stream (a gap between two skills, while nothing moves, is reported apart).

    python bench/command_interval.py [--tasks 6] [--load 0|1|both] [--period 0.05]
"""
from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: in this order each task finds the scene it needs (the graph starts afresh for each load condition)
TASKS = ("put the red cube in the tray", "stack the blue cube on the green cube",
         "push the yellow cube 10 cm to the left", "pick up the lego brick", "open the gripper",
         "move to the yellow cube")
#: a silence longer than this between two commands is a pause between skills, not a late command
BETWEEN_SKILLS_S = 0.3


def _busy(parent: int) -> None:
    """Spin a core until stopped, or until the bench that started it is gone (no orphan keeps the load)."""
    while os.getppid() == parent:
        pass


class Recorder:
    """Arrival times of the arm commands and the hardware node's watchdog trips."""

    def __init__(self, node) -> None:
        from skill_stack_interfaces.msg import HardwareStatus
        from trajectory_msgs.msg import JointTrajectory

        from hardware.ros.common import COMMAND_QOS, STATUS_QOS

        self.times: list[float] = []
        self.trips = 0
        self._tripped = False
        self._lock = threading.Lock()
        node.create_subscription(JointTrajectory, "joint_trajectory", self._on_command, COMMAND_QOS)
        node.create_subscription(HardwareStatus, "hardware/status", self._on_status, STATUS_QOS)

    def _on_command(self, _msg) -> None:
        with self._lock:
            self.times.append(time.monotonic())

    def _on_status(self, msg) -> None:
        if msg.watchdog_tripped and not self._tripped:
            self.trips += 1
        self._tripped = bool(msg.watchdog_tripped)


def run_tasks(node, client, recorder: Recorder, count: int) -> dict:
    from skill_stack_interfaces.action import ExecuteTask

    outcomes: list[tuple[str, bool, int]] = []
    intervals: list[float] = []
    pauses: list[float] = []
    for i in range(count):
        task = TASKS[i % len(TASKS)]
        with recorder._lock:
            start = len(recorder.times)
        handle = _wait(client.send_goal_async(ExecuteTask.Goal(task=task)), 30)
        result = _wait(handle.get_result_async(), 180).result
        with recorder._lock:
            times = np.array(recorder.times[start:])
        gaps = np.diff(times)
        intervals += gaps[gaps <= BETWEEN_SKILLS_S].tolist()
        pauses += gaps[gaps > BETWEEN_SKILLS_S].tolist()
        outcomes.append((task, bool(result.success), int(result.error_code)))
        print(f"    {task:<45} {'ok' if result.success else 'FAILED (' + result.message[:60] + ')'}", flush=True)
        time.sleep(0.5)
    return {"intervals": np.array(intervals), "pauses": np.array(pauses), "outcomes": outcomes}


def _wait(future, timeout: float):
    deadline = time.monotonic() + timeout
    while not future.done():
        if time.monotonic() > deadline:
            raise TimeoutError("no answer from the scheduler")
        time.sleep(0.01)
    return future.result()


def report(name: str, figures: dict, trips: int, period: float) -> None:
    iv = figures["intervals"]
    ok = sum(success for _, success, _ in figures["outcomes"])
    hardware = sum(code == 5 for _, _, code in figures["outcomes"])  # ExecuteTask ERROR_HARDWARE
    print(f"  {name}: {len(figures['outcomes'])} tasks, {ok} succeeded, {hardware} hardware (safety) stops, "
          f"{trips} watchdog trips")
    if len(iv):
        p50, p99 = np.percentile(iv, [50, 99])
        print(f"    command interval over {len(iv)} commands: median {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms "
              f"({p99 / period:.2f}x the period), max {iv.max() * 1e3:.1f} ms ({iv.max() / period:.2f}x), "
              f"gaps over 3 periods: {int((iv > 3 * period).sum())}")
        edges = [0, 0.5, 0.9, 1.1, 1.5, 2, 3]
        counts = np.histogram(iv / period, bins=[*edges, np.inf])[0]
        labels = [f"{a:g}-{b:g}" for a, b in zip(edges, edges[1:])] + [f">{edges[-1]:g}"]
        print("    histogram (x period): " + ", ".join(f"{lab}: {n}" for lab, n in zip(labels, counts)))
    if len(figures["pauses"]):
        pauses = figures["pauses"]
        print(f"    pauses between skills: {len(pauses)}, median {np.median(pauses) * 1e3:.0f} ms, "
              f"max {pauses.max() * 1e3:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=len(TASKS), help="tasks per condition (the list repeats)")
    parser.add_argument("--load", choices=("0", "1", "both"), default="both",
                        help="0: idle, 1: one busy process per core beside the graph")
    parser.add_argument("--period", type=float, default=0.05, help="the control period, s (sim.yaml: 20 Hz)")
    args = parser.parse_args()
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # this process's own node, too
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    print(f"command interval over ROS 2, {datetime.date.today()}, {platform.node()}, {os.cpu_count()} cores, "
          f"git {commit.stdout.strip()}")
    for load in ([0, 1] if args.load == "both" else [int(args.load)]):
        measure(load, args)


def measure(load: int, args: argparse.Namespace) -> None:
    """A fresh graph, then the tasks, with `load` busy processes per core beside it."""
    import rclpy
    from rclpy.action import ActionClient
    from rclpy.executors import MultiThreadedExecutor
    from skill_stack_interfaces.action import ExecuteTask

    domain = 60 + (os.getpid() + load) % 30
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    log = open(Path("/tmp") / f"command_interval_{os.getpid()}_{load}.log", "w")
    graph = subprocess.Popen([sys.executable, "-m", "skill_stack_apps.cli", "launch", "launch/sim.launch.yaml"],
                             cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = rclpy.create_node("command_interval_bench", context=context)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    workers = []
    try:
        recorder = Recorder(node)
        client = ActionClient(node, ExecuteTask, "execute_task")
        if not client.wait_for_server(timeout_sec=120):
            raise SystemExit(f"the graph did not come up; see {log.name}")
        time.sleep(5.0)  # the scheduler loads its model after the action server is announced
        workers = [multiprocessing.Process(target=_busy, args=(os.getpid(),), daemon=True)
                   for _ in range(load * (os.cpu_count() or 1))]
        for w in workers:
            w.start()
        print(f"  {'idle' if not load else f'{len(workers)} busy processes beside the graph'}:")
        figures = run_tasks(node, client, recorder, args.tasks)
        report("idle" if not load else "under load", figures, recorder.trips, args.period)
    finally:
        for w in workers:
            w.terminate()
            w.join(timeout=5)
        executor.shutdown(timeout_sec=2)
        node.destroy_node()
        context.try_shutdown()
        os.killpg(graph.pid, 2)
        try:
            graph.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(graph.pid, 9)
        log.close()


if __name__ == "__main__":
    main()
