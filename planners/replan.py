"""Goal-based replanning: the skill calls that would make a task's unmet goals hold, from the world as it is
now (an object knocked over, dropped, or moved by a person; a skill that failed). Spots are chosen again
from what is where now. A goal no skill sequence can bring about from here raises TaskError."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from hardware.arm import WorldView
from hardware.types import ObjectState
from planners.goals import AT_TOLERANCE, describe
from planners.language import float_param
from planners.placement import aim_from, assign_spots, beside_spot, between_spot
from planners.plan import Goal, SkillCall, TaskError
from skill_lib import predicates as P
from skill_lib.skills.common import DIRECTIONS

PUSH_MIN_M, PUSH_MAX_M, _ = float_param("push", "distance")
PULL_DEFAULT_M = float_param("pull", "distance")[2]
HOVER_MIN_M, HOVER_MAX_M, _ = float_param("move_to", "height")
#: what is left of a push along an axis is pushed again from this far (less is within the goal's tolerance)
PUSH_OFF_AXIS = 0.02


def _push_rest(goal: Goal, world: WorldView, start: Mapping[str, np.ndarray]) -> list[SkillCall]:
    """The pushes that cover what is left of a 'displaced' goal: one along each axis with more than
    PUSH_OFF_AXIS to go, the longer first, each within the push skill's range."""
    obj = str(goal.obj)
    rest = start[obj][:2] + np.asarray(goal.offset) - world.object(obj).position[:2]
    pushes = []
    for axis in sorted((0, 1), key=lambda a: -abs(rest[a])):
        distance = float(abs(rest[axis]))
        if distance <= PUSH_OFF_AXIS:
            continue
        if not PUSH_MIN_M <= distance <= PUSH_MAX_M:
            raise TaskError(f"{describe(goal)}: {distance * 100:.0f} cm left to go along "
                            f"{'xy'[axis]}, not a push of {PUSH_MIN_M * 100:g}-{PUSH_MAX_M * 100:g} cm")
        unit = np.zeros(2)
        unit[axis] = np.sign(rest[axis])
        direction = next(name for name, vector in DIRECTIONS.items() if np.allclose(vector, unit))
        pushes.append(SkillCall("push", {"object": obj, "direction": direction, "distance": distance}))
    if not pushes:
        raise TaskError(f"{describe(goal)}: at most {PUSH_OFF_AXIS * 100:g} cm left along x and y, less than a push")
    return pushes


def _move_back(goal: Goal, target: ObjectState) -> SkillCall:
    """The move_to that brings the tool back above `target`, if the target is still where the goal has it."""
    assert goal.position is not None
    if np.linalg.norm(target.position[:2] - np.asarray(goal.position[:2])) > AT_TOLERANCE:
        raise TaskError(f"{describe(goal)}: the {target.name} has moved since")
    height = float(np.clip(goal.position[2] - target.top_z, HOVER_MIN_M, HOVER_MAX_M))
    return SkillCall("move_to", {"target": target.name, "height": height})


def replan(unmet: Sequence[Goal], world: WorldView, start: Mapping[str, np.ndarray]) -> list[SkillCall]:
    """Calls that bring about the `unmet` goals, in their order, from the world's state now."""
    objects = world.objects()
    calls: list[SkillCall] = []

    def pick_unless_held(obj: str) -> None:
        if not P.is_held(world, obj):
            calls.append(SkillCall("pick", {"object": obj}))

    for goal in unmet:
        obj = str(goal.obj)
        if goal.kind in ("in", "on"):
            pick_unless_held(obj)
            spot = {"offset_x": goal.offset[0], "offset_y": goal.offset[1]} if goal.offset else {}
            calls.append(SkillCall("place", {"object": obj, "target": goal.target, **spot}))
        elif goal.kind in ("beside", "between"):
            reference, offset = _table_spot(goal, objects)
            pick_unless_held(obj)
            calls.append(SkillCall("place", {"object": obj, "target": reference, "offset_x": offset[0],
                                             "offset_y": offset[1], "surface": "table"}))
        elif goal.kind == "table_spot":
            aim = aim_from(np.asarray(goal.offset), objects[obj], objects)
            if aim is None:
                raise TaskError(f"{describe(goal)}: nothing near enough to aim from now")
            pick_unless_held(obj)
            calls.append(SkillCall("place", {"object": obj, "target": aim[0], "offset_x": aim[1][0],
                                             "offset_y": aim[1][1], "surface": "table"}))
        elif goal.kind == "lifted":
            calls.append(SkillCall("pick", {"object": obj}))
        elif goal.kind == "displaced":
            calls += _push_rest(goal, world, start)
        elif goal.kind == "open":
            calls.append(SkillCall("pull", {"object": obj, "distance": PULL_DEFAULT_M}))
        elif goal.kind == "at" and goal.target in objects and goal.position is not None:
            calls.append(_move_back(goal, objects[goal.target]))
        elif goal.kind == "gripper":
            calls.append(SkillCall("open_gripper" if goal.state == "open" else "close_gripper", {}))
        else:
            raise TaskError(f"{describe(goal)}: no skill brings that about again from here")
    return list(assign_spots(calls, objects))


def _table_spot(goal: Goal, objects: Mapping[str, ObjectState]) -> tuple[str, tuple[float, float]]:
    """(the object the place aims from, the offset from it) for a 'beside' or 'between' goal, free now."""
    obj, target = objects[str(goal.obj)], objects[str(goal.target)]
    if goal.kind == "between":
        found = between_spot(obj, target, objects[str(goal.other)], objects)
    else:
        beside = beside_spot(obj, target, goal.state, objects)
        found = (target.name, beside[1]) if beside else None
    if found is None:
        raise TaskError(f"{describe(goal)}: no free room on the table there now")
    return found
