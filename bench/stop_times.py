"""How fast the arm stops over ROS 2: cancel-to-stop (ExecuteSkill cancel) and e-stop-to-stop (hardware/estop),
measured from the arm's joint states, idle and with one busy process per core beside the graph.

Starts the hardware node (PyBullet, real time) and the skill server in their own ROS domain. Each trial sends a
scripted move_to goal that sweeps the arm across the table (alternately above the tray and above the small
blue cube, 0.6 m apart), waits until the arm moves fast (largest joint speed between consecutive joint states,
from their header stamps, above --moving over two intervals in a row), then either cancels the goal or calls
hardware/estop (and hardware/reset_estop once the arm is still). The stop time runs from the request to the
first joint state stamped after it after which the arm stays still (largest joint speed below --still for
--count consecutive states); it is reported from the states' header stamps and from their arrival times here,
in ms and in control periods, with the time to the goal's result and the joints' travel after the request.
Joint states come once per control period (the simulated arm moves only at its ticks), so a stop is resolved
to one period: an arm that halts at the first tick after the request counts as stopped within one period.
The graph is started once; the loaded condition adds the busy processes to it.

    python bench/stop_times.py [--trials 10] [--load 0|1|both] [--moving 0.5] [--still 0.02] [--count 3]
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _ros_graph import (BusyLoad, JointSample, client_of, SkillGraphClient, describe_graph, describe_load, header,
                       max_speed, start_skill_graph, wait_until)

#: move_to between these sweeps the arm across the table
TARGETS = ("tray", "small_blue_cube")
HEIGHT = 0.15
KINDS = ("cancel", "estop")
#: the arm moves fast when this many consecutive intervals between joint states are above --moving (mid-sweep,
#: not at its first step from rest)
FAST_INTERVALS = 2
#: action_msgs/GoalStatus
STATUS_NAMES = {4: "succeeded", 5: "canceled", 6: "aborted"}


@dataclass
class StopTrial:
    """One stop: seconds from the request (None: the arm never became still within the wait)."""

    speed: float  #: largest joint speed when the request went out, rad/s
    stamps: float | None  #: to the still state's header stamp
    arrival: float | None  #: to the still state's arrival here
    result: float  #: to the goal's result arriving here
    travel: float | None  #: largest joint travel from the last state before the request to the still one, rad
    outcome: str  #: the goal's status and the skill's outcome


def still_index(samples: list[JointSample], threshold: float, count: int) -> int | None:
    """Index of the first state after which the arm stays still: the next `count` speeds below `threshold`."""
    speeds = [max_speed(a, b) for a, b in itertools.pairwise(samples)]
    for k in range(len(speeds) - count + 1):
        if max(speeds[k:k + count]) < threshold:
            return k
    return None


def after(graph: SkillGraphClient, requested: float) -> list[JointSample]:
    """The joint states stamped after `requested` (time.time())."""
    return [s for s in graph.joint_samples(since=requested - 1.0) if s.stamp > requested]


def measure_stop(graph: SkillGraphClient, requested: float,
                 args: argparse.Namespace) -> tuple[float, float, float] | tuple[None, None, None]:
    """(stamps, arrival, travel): seconds from `requested` (time.time()) to the first joint state stamped after
    it after which the arm stays still, and the largest joint travel (rad) from the last state before it."""
    try:
        wait_until(lambda: still_index(after(graph, requested), args.still, args.count) is not None, args.wait,
                   "the arm still")
    except TimeoutError:
        return None, None, None
    samples = after(graph, requested)
    still = samples[still_index(samples, args.still, args.count)]  # type: ignore[index]
    before = [s for s in graph.joint_samples(since=requested - 1.0) if s.stamp <= requested][-1]
    travel = float(np.max(np.abs(still.positions - before.positions)))
    return still.stamp - requested, still.arrival - requested, travel


def trial(graph: SkillGraphClient, kind: str, target: str, args: argparse.Namespace) -> StopTrial | None:
    """One sweep stopped by `kind`; None if the arm never moved fast (the goal ended first)."""
    goal = graph.send("move_to", {"target": target, "height": HEIGHT}, scripted=True)
    wait_until(lambda: graph.joint_speed(FAST_INTERVALS) > args.moving or goal.result.done(), 10,
               "the arm moving fast")
    if goal.result.done():
        return None
    speed, requested = graph.joint_speed(), time.time()
    if kind == "cancel":
        graph.cancel(goal)
    else:
        graph.trigger("estop")
    run = graph.result(goal, 30)
    result_s = time.time() - requested
    stamps, arrival, travel = measure_stop(graph, requested, args)
    if kind == "estop":
        graph.trigger("reset_estop")
        wait_until(lambda: graph.status is not None and not graph.status.estopped, 5, "the e-stop reset")
    time.sleep(0.3)  # the skill server sees the arm's status before the next goal
    return StopTrial(speed, stamps, arrival, result_s, travel,
                     f"{STATUS_NAMES.get(run.status, run.status)}/{run.result.outcome}")


def describe(t: StopTrial | None) -> str:
    """One trial on one line (progress)."""
    if t is None:
        return "the goal ended before the arm moved fast"
    return (f"{t.speed:.2f} rad/s, still after {_milli(t.stamps, 'ms')} (stamps) / {_milli(t.arrival, 'ms')} "
            f"(arrival), result after {_milli(t.result, 'ms')}, travel {_milli(t.travel, 'mrad')}, {t.outcome}")


def _milli(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value * 1e3:.0f} {unit}"


def stats(values: list[float], period: float) -> str:
    ms = np.array(values) * 1e3
    p50, p90 = np.percentile(ms, [50, 90])
    return (f"median {p50:.0f} ms ({p50 / 1e3 / period:.1f} periods), p90 {p90:.0f} ms ({p90 / 1e3 / period:.1f}), "
            f"max {ms.max():.0f} ms ({ms.max() / 1e3 / period:.1f})")


def report(kind: str, trials: list[StopTrial | None], args: argparse.Namespace) -> None:
    done = [t for t in trials if t is not None]
    stamps = [t.stamps for t in done if t.stamps is not None]  # measure_stop gives both or neither
    arrival = [t.arrival for t in done if t.arrival is not None]
    outcomes = sorted({t.outcome for t in done})
    print(f"    {kind}: {len(trials)} trials, {len(trials) - len(done)} never moving fast, "
          f"{len(done) - len(stamps)} not still within {args.wait:g} s; outcomes {', '.join(outcomes)}; "
          f"speed at the request median {np.median([t.speed for t in done]) if done else float('nan'):.2f} rad/s")
    if not stamps:
        return
    within = sum(s <= args.period for s in stamps)
    print(f"      request -> still (stamps):  {stats(stamps, args.period)}; "
          f"within one period: {within}/{len(stamps)}")
    print(f"      request -> still (arrival): {stats(arrival, args.period)}")
    print(f"      request -> goal result:     {stats([t.result for t in done], args.period)}")
    travel = np.array([t.travel for t in done if t.travel is not None]) * 1e3
    print(f"      joint travel after the request: median {np.median(travel):.0f} mrad, max {travel.max():.0f} mrad")


def measure(graph: SkillGraphClient, load: int, args: argparse.Namespace) -> None:
    with BusyLoad(load) as busy:
        print(f"  {describe_load(len(busy.workers))} (load average {os.getloadavg()[0]:.2f}):", flush=True)
        for kind in KINDS:
            trials = []
            for i in range(args.trials):
                trials.append(trial(graph, kind, TARGETS[i % len(TARGETS)], args))
                print(f"    {kind} {i + 1}/{args.trials}: {describe(trials[-1])}", file=sys.stderr, flush=True)
            report(kind, trials, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10, help="trials per kind (cancel, e-stop) and condition")
    parser.add_argument("--load", choices=("0", "1", "both"), default="both",
                        help="0: idle, 1: one busy process per core beside the graph")
    parser.add_argument("--moving", type=float, default=0.5, help="rad/s: the arm moves fast above this")
    parser.add_argument("--still", type=float, default=0.02, help="rad/s: the arm is still below this")
    parser.add_argument("--count", type=int, default=3, help="consecutive still states that make a stop")
    parser.add_argument("--wait", type=float, default=5.0, help="s to wait for the arm to become still")
    parser.add_argument("--period", type=float, default=0.05, help="the control period, s (sim.yaml: 20 Hz)")
    parser.add_argument("--realtime-priority", type=int, default=None,
                        help="the nodes' realtime_priority (default: config/sim.yaml's; 0: off)")
    args = parser.parse_args()
    print(header("stop times over ROS 2 (hardware node + skill server)"))
    print(f"  scripted move_to sweeps; moving fast above {args.moving} rad/s; still: {args.count} consecutive "
          f"joint states below {args.still} rad/s; times from the request")
    domain = 160 + os.getpid() % 30
    log = Path("/tmp") / f"stop_times_{os.getpid()}.log"
    graph = start_skill_graph(domain, log, realtime_priority=args.realtime_priority)
    with client_of(graph, domain, "stop_times_bench") as client:
        skills = SkillGraphClient(client)
        skills.wait_ready()
        print(f"  ROS domain {domain}; node log {log}; {describe_graph(log)}")
        for load in ([0, 1] if args.load == "both" else [int(args.load)]):
            measure(skills, load, args)


if __name__ == "__main__":
    main()
