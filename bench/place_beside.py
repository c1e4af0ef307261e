"""How far a place beside another object pushes that neighbour, scripted controller and learned policy side by side,
over seeds.

    python bench/place_beside.py [--seeds 20] [--gap 0.035]

Per seed, in a fresh PyBulletArm of the default scene: the small red cube is picked (scripted), then placed on the
table to the left of the yellow cube (5 cm), `--gap` metres of air between them (default: the planner's
BESIDE_GAP), by the scripted place and by the promoted learned place. Printed per row: the place's success (its
postconditions) and how far the yellow cube moved during the place (mm, horizontally), read from the simulator.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hardware.pybullet import PyBulletArm, PyBulletConfig  # noqa: E402
from planners.placement import BESIDE_GAP  # noqa: E402
from skill_lib.learning.policy import with_learned_policies  # noqa: E402
from skill_lib.runner import run_skill  # noqa: E402
from skill_lib.skills import default_skills  # noqa: E402

HELD, NEIGHBOUR = "small_red_cube", "yellow_cube"


def trial(skills: dict, seed: int, gap: float) -> tuple[bool, str, float]:
    """(success, policy that ran, neighbour moved in metres) of one place beside."""
    with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
        if not run_skill(skills["pick"], {"object": HELD}, arm, arm).success:
            raise RuntimeError(f"seed {seed}: the scripted pick of {HELD} failed")
        neighbour, held = arm.object(NEIGHBOUR), arm.object(HELD)
        offset = neighbour.half_extents[1] + held.half_extents[1] + gap
        outcome = run_skill(skills["place"], {"object": HELD, "target": NEIGHBOUR, "offset_y": offset,
                                              "surface": "table"}, arm, arm)
        moved = float(np.linalg.norm(arm.object(NEIGHBOUR).position[:2] - neighbour.position[:2]))
        return outcome.success, outcome.policy, moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--gap", type=float, default=BESIDE_GAP, help="metres of air between the two cubes")
    args = parser.parse_args()
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}, {platform.node()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}; gap {args.gap * 100:.1f} cm, seeds 0-{args.seeds - 1}")
    scripted = {s.name: s for s in default_skills()}
    learned = {s.name: s for s in with_learned_policies(default_skills(), only={"place"})}
    print(f"{'place':<10} {'succeeded':>10} {'ran as asked':>13} {'neighbour moved, mm: median':>28} {'max':>6}")
    for name, skills in (("scripted", scripted), ("learned", learned)):
        rows = [trial(skills, seed, args.gap) for seed in range(args.seeds)]
        moved = np.array([m for _, _, m in rows]) * 1000
        print(f"{name:<10} {sum(ok for ok, _, _ in rows):>7}/{len(rows):<2} "
              f"{sum(policy == name for _, policy, _ in rows):>10}/{len(rows):<2} {np.median(moved):>28.1f} "
              f"{moved.max():>6.1f}")


if __name__ == "__main__":
    main()
