"""Push accuracy of the push skill, scripted controller and learned policy side by side: error along and
across the push, over seeds.

    python bench/push_accuracy.py [--seeds 8]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform

import numpy as np

from hardware.pybullet import PyBulletArm, PyBulletConfig
from skill_lib.learning.policy import with_learned_policies
from skill_lib.outcome import OutcomeKind
from skill_lib.runner import run_skill
from skill_lib.skills import push

OBJECTS = ("yellow_cube", "small_blue_cube", "lego_brick")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; date: {datetime.date.today()}")
    print(f"objects {', '.join(OBJECTS)}; seeds 0..{args.seeds - 1}; errors in mm\n")
    print("refused = the precondition check declined (end point out of reach), or the learned policy declined "
          "(not a cube, outside its training); errors over attempted pushes")
    learned, = with_learned_policies([push.SKILL])
    if learned.policy is None:
        raise SystemExit("no checkpoints/push/policy.pt: only the scripted controller could be measured")
    print(f"{'direction':<10} {'distance':>8} {'controller':>10} {'success':>9} {'refused':>8} {'along mean':>11} "
          f"{'along max':>10} {'across max':>11}")
    for direction, unit in push.DIRECTIONS.items():
        for distance in (0.05, 0.15):
            for name, spec in (("scripted", push.SKILL), ("learned", learned)):
                along, across, ok, n, refused = [], [], 0, 0, 0
                for obj in OBJECTS:
                    for seed in range(args.seeds):
                        params = {"object": obj, "direction": direction, "distance": distance}
                        with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
                            policy = spec.policy() if spec.policy else None
                            n += 1
                            if policy is not None and policy.declines(arm, params):
                                refused += 1
                                continue
                            start = arm.object(obj).position[:2].copy()
                            out = run_skill(spec, params, arm, arm, policy=policy)
                            moved = arm.object(obj).position[:2] - start
                        if out.kind is OutcomeKind.PRECONDITION_FAILED:
                            refused += 1
                            continue
                        u = np.asarray(unit)
                        along.append(abs(moved @ u - distance) * 1e3)
                        across.append(abs(moved @ np.array([-u[1], u[0]])) * 1e3)
                        ok += out.success
                errors = (f"{np.mean(along):11.1f} {np.max(along):10.1f} {np.max(across):11.1f}" if along
                          else f"{'-':>11} {'-':>10} {'-':>11}")  # every push refused or declined
                print(f"{direction:<10} {distance * 100:6.0f}cm {name:>10} {ok:>5}/{n:<3} {refused:>8} {errors}")


if __name__ == "__main__":
    main()
