"""pull: grasp a drawer's handle and pull the drawer open by a distance, then let go."""
from __future__ import annotations

import numpy as np

from hardware.types import quaternion_yaw
from skill_lib.controllers import CLOSED, OPEN, Waypoint, WaypointPolicy, above, gripper_action_for_width
from skill_lib.skills.common import OBJECT, SPEED, exists, reachable
from skill_lib.spec import Condition, LearningSpec, ParamSpec, SkillContext, SkillSpec

HANDLE_DEPTH = 0.012  # the bar's depth along the pull (config/objects/drawer.urdf)
GRASP_WIDTH = 0.05  # fingers open this wide around the upright bar
#: the most a cabinet may be turned from facing the robot (radians): the handle is found from the drawer's bounding
#: box, exact only unturned (in the drawer scene the pull succeeded turned 0.04 rad and closed on nothing from 0.05)
MAX_TURN = 0.04
LEAD = 0.005  # stop this short: the drawer slides on a little after the hand stops


def pull_direction(obj) -> np.ndarray:
    """Unit vector (xy) the drawer opens along: its -x axis, turned by the object's yaw."""
    yaw = quaternion_yaw(obj.orientation)
    return -np.array([np.cos(yaw), np.sin(yaw)])


def tool_yaw(obj) -> float:
    """The hand's yaw for pulling `obj`: square on to the drawer, the fingers closing across the pull."""
    direction = pull_direction(obj)
    return float(np.arctan2(-direction[1], -direction[0]))


def handle_position(obj) -> np.ndarray:
    """Where the fingers grasp the drawer `obj`: its handle bar's centre."""
    direction = pull_direction(obj)
    front = float(np.abs(obj.half_extents[:2]) @ np.abs(direction))  # centre to handle front, along the pull
    return np.append(obj.position[:2] + direction * (front - HANDLE_DEPTH / 2), obj.position[2])


def _faces_the_robot(ctx: SkillContext) -> bool:
    return abs(quaternion_yaw(ctx.world.object(ctx.params["object"]).orientation)) <= MAX_TURN


def _opened_by(ctx: SkillContext) -> float:
    moved = ctx.world.object(ctx.params["object"]).position[:2] - ctx.memory["start"][:2]
    return float(moved @ pull_direction(ctx.world.object(ctx.params["object"])))


def _waypoints(ctx: SkillContext) -> list[Waypoint]:
    drawer = ctx.world.object(ctx.params["object"])
    ctx.memory["start"] = drawer.position.copy()
    direction = pull_direction(drawer)
    handle = handle_position(drawer)
    end = handle + np.append(direction * (ctx.params["distance"] - LEAD), 0.0)
    yaw = tool_yaw(drawer)
    ajar = gripper_action_for_width(GRASP_WIDTH)
    return [
        Waypoint(above(handle, drawer.top_z + 0.06), ajar, tolerance=0.01, yaw=yaw),
        Waypoint(handle, ajar, speed=0.4, tolerance=0.004, hold_steps=2, yaw=yaw),
        Waypoint(handle, CLOSED, tolerance=0.01, hold_steps=8, yaw=yaw),
        Waypoint(end, CLOSED, speed=0.4, tolerance=0.004, hold_steps=2, max_steps=150, yaw=yaw,
                 until=lambda c: _opened_by(c) >= c.params["distance"] - LEAD),
        Waypoint(lambda c: c.arm.ee_pose().position, OPEN, tolerance=0.02, hold_steps=6, yaw=yaw),
        Waypoint(lambda c: above(c.arm.ee_pose().position, drawer.top_z + 0.08), OPEN, tolerance=0.015, yaw=yaw),
    ]


DISTANCE = ParamSpec("distance", "float", "metres to pull the drawer out", default=0.10, low=0.02, high=0.30)

SKILL = SkillSpec(
    name="pull",
    description="pull a drawer open by its handle: grasp the handle, pull it out by a distance, let go",
    phrasings=("pull the drawer open", "open the drawer", "pull it out", "slide the drawer out",
               "draw the drawer towards you", "pull the handle"),
    params=(OBJECT, DISTANCE, SPEED),
    preconditions=(exists("object"), reachable("object"),
                   Condition("object is a drawer (it slides on a joint)",
                             lambda c: c.world.object(c.params["object"]).opening is not None),
                   Condition(f"the drawer faces the robot (turned at most {MAX_TURN} rad)", _faces_the_robot)),
    postconditions=(Condition("drawer pulled out by the asked distance (within 2 cm) or to its end",
                              lambda c: _opened_by(c) >= c.params["distance"] - 0.02
                              or (c.world.object(c.params["object"]).opening or 0.0) >= 0.98),
                    Condition("gripper has let go", lambda c: not c.world.contacts("gripper", c.params["object"]))),
    timeout_s=15.0,
    scripted=lambda: WaypointPolicy(_waypoints),
    learning=LearningSpec("SkillStack/Pull-v0", "skill_lib.learning.envs.pull:PullEnv",
                          "skill_lib.learning.pull_policy:LearnedPull"),
)
