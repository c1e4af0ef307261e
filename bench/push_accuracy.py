"""Push accuracy of the push skill, scripted controller and learned policy side by side: error along and
across the push, over seeds.

    python bench/push_accuracy.py [--seeds 8]
    python bench/push_accuracy.py --over ros [--seeds 2] [--load 0|1] [--realtime-priority N]
    either way: [--directions left right forward backward] for fewer rows

--over process (default): each trial in a fresh PyBulletArm in this process, as fast as it runs.
--over ros: the same rows through the ROS path: the hardware node (PyBullet, real time) and the skill server
(learned push on) in their own ROS domain; per trial the hardware node's scene is reset with the trial's seed
(parameter `seed`, then deactivate/cleanup/configure/activate), the object's position is read from `objects`,
an ExecuteSkill push goal is sent (scripted=True for the scripted row), and the position is read again 0.5 s
after the result. A learned push that declines runs the scripted controller in the skill server (its result
says why in `fallback`): it counts as refused, as in-process. --load 1 adds one busy process per core beside
the graph. A trial takes 8-18 s of real time (the push itself, the reset, the settling): the default 2 seeds
(96 trials) take 15-30 min; --directions and --seeds 1 give a shorter run.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _ros_graph import (BusyLoad, client_of, SkillGraphClient, describe_graph, describe_load, header,
                       start_skill_graph)

from hardware.pybullet import PyBulletArm, PyBulletConfig
from skill_lib.learning.policy import with_learned_policies
from skill_lib.outcome import OutcomeKind
from skill_lib.runner import run_skill
from skill_lib.skills import push
from skill_lib.spec import SkillSpec

OBJECTS = ("yellow_cube", "small_blue_cube", "lego_brick")
DISTANCES = (0.05, 0.15)
CONTROLLERS = ("scripted", "learned")
#: seconds the object may settle after the push's result, over ROS
SETTLE_S = 0.5


@dataclass
class Trial:
    """One push: how far the object moved on the table (None: refused or declined, nothing measured)."""

    moved: np.ndarray | None
    success: bool = False


REFUSED = Trial(None)
#: (controller, push parameters, seed) -> the trial
Measure = Callable[[str, dict, int], Trial]


def in_process(specs: dict[str, SkillSpec]) -> Measure:
    """Trials in a fresh simulated world in this process."""
    def measure(controller: str, params: dict, seed: int) -> Trial:
        spec = specs[controller]
        with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
            policy = spec.policy() if spec.policy else None
            if policy is not None and policy.declines(arm, params):
                return REFUSED
            start = arm.object(params["object"]).position[:2].copy()
            out = run_skill(spec, params, arm, arm, policy=policy)
            moved = arm.object(params["object"]).position[:2] - start
        if out.kind is OutcomeKind.PRECONDITION_FAILED:
            return REFUSED
        return Trial(moved, out.success)
    return measure


def over_ros(graph: SkillGraphClient, total: int) -> Measure:
    """Trials through the skill server and the hardware node, with progress on stderr."""
    done, began = [0], time.monotonic()

    def measure(controller: str, params: dict, seed: int) -> Trial:
        graph.reset_scene(seed)
        start = graph.object_position(params["object"], after=time.time())
        run = graph.run("push", params, scripted=controller == "scripted", timeout=90)
        time.sleep(SETTLE_S)
        moved = (graph.object_position(params["object"], after=time.time()) - start)[:2]
        result = run.result
        done[0] += 1
        left = (time.monotonic() - began) / done[0] * (total - done[0])
        print(f"  [{done[0]}/{total}, {left / 60:.0f} min left] {params['direction']} "
              f"{params['distance'] * 100:.0f} cm {controller} {params['object']} seed {seed}: {result.outcome}, "
              f"{result.policy}{' (' + result.fallback[:60] + ')' if result.fallback else ''}, "
              f"moved {np.linalg.norm(moved) * 1e3:.0f} mm", file=sys.stderr, flush=True)
        if result.outcome == OutcomeKind.PRECONDITION_FAILED.value:
            return REFUSED
        if controller == "learned" and result.fallback:  # declined: the scripted controller ran, and says why
            return REFUSED
        return Trial(moved, bool(result.success))
    return measure


def table(measure: Measure, seeds: int, directions: list[str]) -> None:
    """One row per direction, distance and controller; errors in mm."""
    print(f"{'direction':<10} {'distance':>8} {'controller':>10} {'success':>9} {'refused':>8} {'along mean':>11} "
          f"{'along max':>10} {'across max':>11}")
    for direction in directions:
        u = np.asarray(push.DIRECTIONS[direction])
        for distance in DISTANCES:
            for name in CONTROLLERS:
                along, across, ok, n, refused = [], [], 0, 0, 0
                for obj in OBJECTS:
                    for seed in range(seeds):
                        n += 1
                        trial = measure(name, {"object": obj, "direction": direction, "distance": distance}, seed)
                        if trial.moved is None:
                            refused += 1
                            continue
                        along.append(abs(trial.moved @ u - distance) * 1e3)
                        across.append(abs(trial.moved @ np.array([-u[1], u[0]])) * 1e3)
                        ok += trial.success
                errors = (f"{np.mean(along):11.1f} {np.max(along):10.1f} {np.max(across):11.1f}" if along
                          else f"{'-':>11} {'-':>10} {'-':>11}")  # every push refused or declined
                print(f"{direction:<10} {distance * 100:6.0f}cm {name:>10} {ok:>5}/{n:<3} {refused:>8} {errors}",
                      flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--over", choices=("process", "ros"), default="process",
                        help="process: PyBullet in this process; ros: hardware node + skill server")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 per object (8 in-process, 2 over ROS)")
    parser.add_argument("--directions", nargs="+", choices=list(push.DIRECTIONS), default=list(push.DIRECTIONS),
                        help="only these rows (default: all four directions)")
    parser.add_argument("--load", choices=("0", "1"), default="0",
                        help="over ROS: 1 = one busy process per core beside the graph")
    parser.add_argument("--realtime-priority", type=int, default=None,
                        help="over ROS: the nodes' realtime_priority (default: config/sim.yaml's; 0: off)")
    args = parser.parse_args()
    seeds = args.seeds if args.seeds is not None else (8 if args.over == "process" else 2)
    learned, = with_learned_policies([push.SKILL])
    if learned.policy is None:
        raise SystemExit("no checkpoints/push/policy.pt: only the scripted controller could be measured")
    if args.over == "ros":
        run_over_ros(seeds, args.directions, int(args.load), args.realtime_priority)
        return
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; date: {datetime.date.today()}")
    print(f"objects {', '.join(OBJECTS)}; seeds 0..{seeds - 1}; errors in mm\n")
    print("refused = the precondition check declined (end point out of reach), or the learned policy declined "
          "(not a cube, outside its training); errors over attempted pushes")
    table(in_process({"scripted": push.SKILL, "learned": learned}), seeds, args.directions)


def run_over_ros(seeds: int, directions: list[str], load: int, priority: int | None) -> None:
    domain = 130 + os.getpid() % 30
    log = Path("/tmp") / f"push_accuracy_ros_{os.getpid()}.log"
    graph = start_skill_graph(domain, log, realtime_priority=priority)
    with client_of(graph, domain, "push_accuracy_bench") as client:
        skills = SkillGraphClient(client)
        skills.wait_ready()
        print(header("push accuracy over ROS 2 (hardware node + skill server, learned push on)"))
        print(check_scene_reset(skills))
        with BusyLoad(load) as busy:
            print(f"{describe_load(len(busy.workers))} (load average {os.getloadavg()[0]:.2f}); ROS domain {domain}; "
                  f"node log {log}; {describe_graph(log)}")
            print(f"objects {', '.join(OBJECTS)}; seeds 0..{seeds - 1}; errors in mm\n")
            print("refused = the precondition check declined (end point out of reach), or the learned policy "
                  "declined (not a cube, outside its training; the skill server then ran the scripted controller, "
                  "not counted); errors over attempted pushes")
            total = len(directions) * len(DISTANCES) * len(CONTROLLERS) * len(OBJECTS) * seeds
            table(over_ros(skills, total), seeds, directions)


def check_scene_reset(graph: SkillGraphClient, seed: int = 1, tolerance: float = 0.002) -> str:
    """Reset the hardware node's scene to `seed` and compare the objects with the same seed in this process:
    the reset must give the scene the trial's seed gives in-process."""
    graph.reset_scene(seed)
    seen = {name: p.copy() for name, p in graph.objects.items()}
    with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
        expected = {name: arm.object(name).position for name in seen}
    worst = max(float(np.max(np.abs(seen[n][:2] - expected[n][:2]))) for n in seen)
    if worst > tolerance:
        raise SystemExit(f"the scene reset did not give seed {seed}'s scene: objects {worst * 1e3:.1f} mm off")
    return f"scene reset (seed parameter + lifecycle) checked: seed {seed} within {worst * 1e3:.2f} mm of in-process"


if __name__ == "__main__":
    main()
