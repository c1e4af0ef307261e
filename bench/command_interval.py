"""The arm's command stream over ROS 2, seen from outside the graph: intervals between JointTrajectory messages
over whole tasks, idle and with one busy process per core beside the graph.

Starts the simulated graph (`skillstack launch launch/sim.launch.yaml`) in its own ROS domain, sends tasks
as an outside ExecuteTask client, and records every command on `joint_trajectory` with its arrival time and
its header stamp (when the skill server sent it), the hardware node's watchdog trips (`hardware/status`) and
how each task ended. Intervals are counted within each skill's command stream (a gap between two skills, while
nothing moves, is reported apart). The sent intervals are the control loop's own regularity; the received ones
add this script's delivery delays (it runs at normal priority, beside the load).

    python bench/command_interval.py [--tasks 6] [--load 0|1|both] [--period 0.05] [--realtime-priority N]
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from _ros_graph import REPO, BusyLoad, GraphProcesses, client_of, describe_graph, describe_load, header, wait

#: in this order each task finds the scene it needs (the graph starts afresh for each load condition)
TASKS = ("put the red cube in the tray", "stack the blue cube on the green cube",
         "push the yellow cube 10 cm to the left", "pick up the lego brick", "open the gripper",
         "move to the yellow cube")
#: a silence longer than this between two commands is a pause between skills, not a late command
BETWEEN_SKILLS_S = 0.3


class Recorder:
    """Arrival times of the arm commands and the hardware node's watchdog trips."""

    def __init__(self, node) -> None:
        from skill_stack_interfaces.msg import HardwareStatus
        from trajectory_msgs.msg import JointTrajectory

        from hardware.ros.common import COMMAND_QOS, STATUS_QOS

        self.times: list[float] = []  #: arrival here
        self.stamps: list[float] = []  #: when the skill server sent it (header stamp)
        self.trips = 0
        self._tripped = False
        self._lock = threading.Lock()
        node.create_subscription(JointTrajectory, "joint_trajectory", self._on_command, COMMAND_QOS)
        node.create_subscription(HardwareStatus, "hardware/status", self._on_status, STATUS_QOS)

    def _on_command(self, msg) -> None:
        if not msg.points:  # the end of a skill's stream, not a command
            return
        with self._lock:
            self.times.append(time.monotonic())
            self.stamps.append(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)

    def _on_status(self, msg) -> None:
        if msg.watchdog_tripped and not self._tripped:
            self.trips += 1
        self._tripped = bool(msg.watchdog_tripped)


def run_tasks(node, client, recorder: Recorder, count: int) -> dict:
    from skill_stack_interfaces.action import ExecuteTask

    outcomes: list[tuple[str, bool, int]] = []
    intervals: dict[str, list[float]] = {"received": [], "sent": []}
    pauses: list[float] = []
    for i in range(count):
        task = TASKS[i % len(TASKS)]
        with recorder._lock:
            start = len(recorder.times)
        handle = wait(client.send_goal_async(ExecuteTask.Goal(task=task)), 30, "an answer from the scheduler")
        result = wait(handle.get_result_async(), 180, "an answer from the scheduler").result
        with recorder._lock:
            times = {"received": np.array(recorder.times[start:]), "sent": np.array(recorder.stamps[start:])}
        for kind, series in times.items():
            gaps = np.diff(series)
            intervals[kind] += gaps[gaps <= BETWEEN_SKILLS_S].tolist()
        gaps = np.diff(times["received"])
        pauses += gaps[gaps > BETWEEN_SKILLS_S].tolist()
        outcomes.append((task, bool(result.success), int(result.error_code)))
        print(f"    {task:<45} {'ok' if result.success else 'FAILED (' + result.message[:60] + ')'}", flush=True)
        time.sleep(0.5)
    return {"intervals": {k: np.array(v) for k, v in intervals.items()}, "pauses": np.array(pauses),
            "outcomes": outcomes}


def report(name: str, figures: dict, trips: int, period: float) -> None:
    iv = figures["intervals"]
    ok = sum(success for _, success, _ in figures["outcomes"])
    hardware = sum(code == 5 for _, _, code in figures["outcomes"])  # ExecuteTask ERROR_HARDWARE
    print(f"  {name}: {len(figures['outcomes'])} tasks, {ok} succeeded, {hardware} hardware (safety) stops, "
          f"{trips} watchdog trips")
    for kind, label in (("sent", "as sent (the commands' header stamps)"), ("received", "as received here")):
        intervals = iv[kind]
        if not len(intervals):
            continue
        p50, p99 = np.percentile(intervals, [50, 99])
        print(f"    command interval {label}, {len(intervals)} commands: median {p50 * 1e3:.1f} ms, p99 "
              f"{p99 * 1e3:.1f} ms ({p99 / period:.2f}x the period), max {intervals.max() * 1e3:.1f} ms "
              f"({intervals.max() / period:.2f}x), gaps over 3 periods: {int((intervals > 3 * period).sum())}")
        edges = [0, 0.5, 0.9, 1.1, 1.5, 2, 3]
        counts = np.histogram(intervals / period, bins=[*edges, np.inf])[0]
        labels = [f"{a:g}-{b:g}" for a, b in zip(edges, edges[1:])] + [f">{edges[-1]:g}"]
        print("      histogram (x period): " + ", ".join(f"{lab}: {n}" for lab, n in zip(labels, counts)))
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
    parser.add_argument("--realtime-priority", type=int, default=None,
                        help="the nodes' realtime_priority (0: normal scheduling); default: config/sim.yaml's")
    args = parser.parse_args()
    print(header("command interval over ROS 2"))
    for load in ([0, 1] if args.load == "both" else [int(args.load)]):
        measure(load, args)


def sim_config(priority: int, log: Path) -> Path:
    """config/sim.yaml with every node's realtime_priority set to `priority`, beside the log."""
    config = yaml.safe_load((REPO / "config/sim.yaml").read_text())
    for params in config.values():
        if "realtime_priority" in params["ros__parameters"]:
            params["ros__parameters"]["realtime_priority"] = priority
    path = log.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(config))
    return path


def measure(load: int, args: argparse.Namespace) -> None:
    """A fresh graph, then the tasks, with `load` busy processes per core beside it."""
    from hardware.ros.common import ActionClient
    from skill_stack_interfaces.action import ExecuteTask

    domain = 60 + (os.getpid() + load) % 30
    log = Path("/tmp") / f"command_interval_{os.getpid()}_{load}.log"
    config = [] if args.realtime_priority is None else [f"config:={sim_config(args.realtime_priority, log)}"]
    graph = GraphProcesses([[sys.executable, "-m", "skill_stack_apps.cli", "launch", "launch/sim.launch.yaml",
                             *config]], domain, log)
    with client_of(graph, domain, "command_interval_bench") as client:
        recorder = Recorder(client.node)
        action = ActionClient(client.node, ExecuteTask, "execute_task")
        if not action.wait_for_server(timeout_sec=120):
            raise SystemExit(f"the graph did not come up; see {log}")
        time.sleep(5.0)  # the scheduler loads its model after the action server is announced
        with BusyLoad(load) as busy:
            print(f"  {describe_load(len(busy.workers))}; {describe_graph(log)}:")
            figures = run_tasks(client.node, action, recorder, args.tasks)
            report("idle" if not load else "under load", figures, recorder.trips, args.period)


if __name__ == "__main__":
    main()
