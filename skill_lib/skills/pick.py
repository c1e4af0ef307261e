"""pick: grasp an object from above and lift it."""
from __future__ import annotations

import numpy as np

from skill_lib import predicates as P
from skill_lib.controllers import CLOSED, OPEN, Waypoint, WaypointPolicy, above
from skill_lib.skills.common import OBJECT, SPEED, exists, not_container, reachable
from skill_lib.spec import Condition, LearningSpec, ParamSpec, SkillContext, SkillSpec

APPROACH = 0.08  # metres above the object's top before descending
LIFT = 0.12  # metres the object is lifted


def grasp_height(obj) -> float:
    """Grasp at the centre, but keep the fingertips off the table for short objects."""
    return max(float(obj.position[2]), 0.012)


def grasp_pose(obj, grasp_point: str = "") -> tuple[np.ndarray, float]:
    """Where the fingers close on `obj`, and the tool's yaw: its centre (grasp_height), or a named grasp point (a
    mug's handle) as the object lies now, its yaw folded into [-pi/2, pi/2) (the gripper is the same turned half a
    circle, and the wrist has room to turn either way from there)."""
    if not grasp_point:
        return np.array([obj.position[0], obj.position[1], grasp_height(obj)]), 0.0
    x, y, z, yaw = obj.grasp_points[grasp_point]
    return np.array([x, y, z]), float((yaw + np.pi / 2) % np.pi - np.pi / 2)


def _waypoints(ctx: SkillContext) -> list[Waypoint]:
    obj = ctx.world.object(ctx.params["object"])
    ctx.memory["start_z"] = float(obj.position[2])
    top = obj.top_z
    grasp, yaw = grasp_pose(obj, ctx.params["grasp_point"])
    grasp[2] += ctx.params["grasp_offset"]
    return [
        Waypoint(above(grasp, top + APPROACH), OPEN, tolerance=0.01, yaw=yaw),
        Waypoint(grasp, OPEN, speed=0.5, tolerance=0.004, hold_steps=2, yaw=yaw),
        Waypoint(grasp, CLOSED, tolerance=0.01, hold_steps=8, yaw=yaw),
        Waypoint(above(grasp, top + LIFT), CLOSED, tolerance=0.01, speed=0.6, yaw=yaw),
    ]


def _has_grasp_point(ctx: SkillContext) -> bool:
    name = ctx.params["grasp_point"]
    return not name or name in ctx.world.object(ctx.params["object"]).grasp_points


SKILL = SkillSpec(
    name="pick",
    description="pick up an object: grasp it from above with the gripper and lift it off the surface",
    phrasings=("pick it up", "grab the object", "grasp it", "lift the object up",
               "take hold of it", "raise it off the table"),
    params=(OBJECT, ParamSpec("grasp_offset", "float", "metres above the object's centre to grasp at",
                              default=0.0, low=-0.03, high=0.05),
            ParamSpec("grasp_point", "str", "a named grasp of the object (e.g. 'handle'); empty: the centre",
                      default=""),
            SPEED),
    preconditions=(exists("object"), not_container("object"), reachable("object"),
                   Condition("the object has the named grasp point", _has_grasp_point),
                   Condition("object has nothing on top of it", lambda c: P.is_free(c.world, c.params["object"]))),
    postconditions=(Condition("object is held by the gripper", lambda c: P.is_held(c.world, c.params["object"])),
                    Condition("object is lifted off the table", lambda c: P.is_lifted(c.world, c.params["object"]))),
    timeout_s=12.0,
    scripted=lambda: WaypointPolicy(_waypoints),
    learning=LearningSpec("SkillStack/Pick-v0", "skill_lib.learning.envs.pick:PickEnv",
                          "skill_lib.learning.policy:LearnedPick"),
)
