"""Conditions and parameters that several skills share."""
from __future__ import annotations

from skill_lib.spec import Condition, ParamSpec, SkillContext

#: horizontal directions as unit vectors in the robot base frame (x forward, y to the robot's left)
DIRECTIONS = {"left": (0.0, 1.0), "right": (0.0, -1.0), "forward": (1.0, 0.0), "backward": (-1.0, 0.0)}

OBJECT = ParamSpec("object", "object", "name of the object in the scene", required=True)
SPEED = ParamSpec("speed", "float", "scale on the skill's motion speed (1 = default)", default=1.0, low=0.2, high=1.5)
#: a conservative reach box for object centres (inside the default safety workspace)
REACH_MIN = (0.22, -0.5)  # measured: IK tracks to ~1 cm at x = 0.22 m, not closer
REACH_MAX = (0.8, 0.5)


def exists(param: str) -> Condition:
    return Condition(f"{param} is in the scene", lambda ctx: ctx.params[param] in ctx.world.objects())


def reachable(param: str) -> Condition:
    def check(ctx: SkillContext) -> bool:
        x, y = ctx.world.object(ctx.params[param]).position[:2]
        return REACH_MIN[0] <= x <= REACH_MAX[0] and REACH_MIN[1] <= y <= REACH_MAX[1]
    return Condition(f"{param} is within reach", check)


def not_container(param: str) -> Condition:
    return Condition(f"{param} is movable (not a fixed container)",
                     lambda ctx: not ctx.world.object(ctx.params[param]).is_container)


