"""Checks a task's goals against the world (the simulator's state), not the executor's report."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from hardware.arm import ArmInterface, WorldView
from planners.plan import Goal
from skill_lib import predicates as P
from skill_lib.skills.common import DIRECTIONS

AT_TOLERANCE = 0.02
#: goals on the arm itself, which any later skill changes
ARM_GOALS = frozenset({"at", "gripper"})
#: an object put at a named spot of a container or the table (its middle, a corner) is there within this (metres)
SPOT_TOLERANCE = 0.03
#: a drawer counts as open from this fraction of its travel (config/scenes/drawer.yaml: 15 of 18 cm)
OPEN_FRACTION = 0.85


def goal_holds(goal: Goal, world: WorldView, arm: ArmInterface, start: dict[str, np.ndarray]) -> bool:
    """`start` holds object positions from before the task (for 'displaced' goals)."""
    if goal.kind == "in":
        inside = P.is_in(world, goal.obj, goal.target) and not world.contacts("gripper", goal.obj)
        if goal.offset is None or not inside:  # no spot asked for (a middle, a corner): anywhere in it
            return inside
        where = world.object(goal.obj).position[:2] - world.object(goal.target).position[:2]
        return float(np.linalg.norm(where - np.asarray(goal.offset))) <= SPOT_TOLERANCE
    if goal.kind == "on":
        return P.is_on(world, goal.obj, goal.target) and not world.contacts("gripper", goal.obj)
    if goal.kind == "lifted":
        return P.is_held(world, goal.obj) and P.is_lifted(world, goal.obj)
    if goal.kind == "beside":
        return P.is_beside(world, goal.obj, goal.target, goal.state) and not world.contacts("gripper", goal.obj)
    if goal.kind == "between":
        return P.is_between(world, goal.obj, goal.target, goal.other) and not world.contacts("gripper", goal.obj)
    if goal.kind == "table_spot":
        where = world.object(goal.obj).position[:2] - np.asarray(goal.offset)
        return P.rests_on_table(world, goal.obj) and float(np.linalg.norm(where)) <= SPOT_TOLERANCE and \
            not world.contacts("gripper", goal.obj)
    if goal.kind == "displaced":
        return P.displaced_as_asked(start[goal.obj], world.object(goal.obj).position, np.asarray(goal.offset))
    if goal.kind == "open":
        opening = world.object(goal.obj).opening
        return opening is not None and opening >= OPEN_FRACTION and not world.contacts("gripper", goal.obj)
    if goal.kind == "at":
        return float(np.linalg.norm(arm.ee_pose().position - np.asarray(goal.position))) < AT_TOLERANCE
    if goal.kind == "gripper":
        width = arm.gripper_width()
        if goal.state == "open":
            return width > 0.9 * arm.gripper_max_width
        return width < 0.005 or any(world.contacts("gripper", n) for n in world.objects())
    raise ValueError(f"unknown goal kind {goal.kind!r}")


def follow(goal: Goal, skill: str, planned: Mapping[str, Any], ran: Mapping[str, Any]) -> Goal:
    """`goal` as the skill call that ran brings it about, where the goal was built from the call's `planned`
    parameters and corrections (remembered or live) changed them into `ran` (both with defaults filled): an
    operator who taught "hover 5 cm higher" asked for the tool 5 cm higher, so the task's goal moves with it
    (the unmoved goal failed the corrected task, and re-planned against the correction). Only a goal built from
    that call's own parameters moves: a move_to's tool position, a push's or pull's displacement, a place's spot."""
    same_object = goal.obj is not None and goal.obj == planned.get("object") == ran.get("object")
    if skill == "move_to" and goal.kind == "at" and goal.position is not None \
            and goal.target == planned["target"] == ran["target"]:
        x, y, z = goal.position
        return replace(goal, position=(x, y, round(z + ran["height"] - planned["height"], 6)))
    if skill == "push" and goal.kind == "displaced" and same_object and goal.offset is not None \
            and np.allclose(goal.offset, _push_offset(planned)):
        return replace(goal, offset=_push_offset(ran))
    if skill == "pull" and goal.kind == "displaced" and same_object and goal.offset is not None:
        scale = ran["distance"] / planned["distance"]
        return replace(goal, offset=(goal.offset[0] * scale, goal.offset[1] * scale))
    if skill == "place" and goal.kind in ("in", "table_spot") and same_object and goal.offset is not None \
            and planned["target"] == ran["target"] and goal.target in (None, planned["target"]):
        dx, dy = ran["offset_x"] - planned["offset_x"], ran["offset_y"] - planned["offset_y"]
        return replace(goal, offset=(goal.offset[0] + dx, goal.offset[1] + dy))
    return goal


def _push_offset(params: Mapping[str, Any]) -> tuple[float, float]:
    dx, dy = DIRECTIONS[params["direction"]]
    return float(dx * params["distance"]), float(dy * params["distance"])


def side_words(side: str | None) -> str:
    """A side of an object (skill_lib.predicates.SIDES, None: any) in words: 'left of', 'in front of', ..."""
    return {"front": "in front of", "behind": "behind", None: "next to"}.get(side, f"{side} of")


def describe(goal: Goal) -> str:
    if goal.kind == "in" and goal.offset is not None:
        dx, dy = goal.offset
        return f"{goal.obj} in {goal.target} at ({dx * 100:+.0f} cm, {dy * 100:+.0f} cm) from its centre"
    if goal.kind in ("in", "on"):
        return f"{goal.obj} {goal.kind} {goal.target}"
    if goal.kind == "lifted":
        return f"{goal.obj} lifted"
    if goal.kind == "beside":
        return f"{goal.obj} {side_words(goal.state)} {goal.target}"
    if goal.kind == "between":
        return f"{goal.obj} between {goal.target} and {goal.other}"
    if goal.kind == "table_spot":
        x, y = goal.offset
        return f"{goal.obj} on the table at ({x:.2f}, {y:.2f})"
    if goal.kind == "displaced":
        dx, dy = goal.offset
        return f"{goal.obj} moved by ({dx * 100:+.0f} cm, {dy * 100:+.0f} cm)"
    if goal.kind == "open":
        return f"{goal.obj} open"
    if goal.kind == "at":
        return "tool at " + ", ".join(f"{v:.2f}" for v in goal.position)
    return f"gripper {goal.state}"
