"""move_to: bring the tool above an object (or to a point), keeping the gripper as it is."""
from __future__ import annotations

import numpy as np

from skill_lib.controllers import Waypoint, WaypointPolicy, gripper_action_for_width
from skill_lib.skills.common import SPEED, exists
from skill_lib.spec import Condition, LearningSpec, ParamSpec, SkillContext, SkillSpec

TOLERANCE = 0.015


def goal_position(ctx: SkillContext) -> np.ndarray:
    obj = ctx.world.object(ctx.params["target"])
    return np.array([obj.position[0], obj.position[1], obj.top_z + ctx.params["height"]])


def _waypoints(ctx: SkillContext) -> list[Waypoint]:
    grip = gripper_action_for_width(ctx.arm.gripper_width())
    return [Waypoint(goal_position(ctx), grip, tolerance=0.004, hold_steps=2)]


SKILL = SkillSpec(
    name="move_to",
    description="move the gripper to a position above an object without grasping anything",
    phrasings=("move the gripper there", "go above it", "move the arm over it",
               "position the gripper above the object", "hover over it",
               "move over the object", "go over to the item"),
    params=(ParamSpec("target", "object", "object to move above", required=True),
            ParamSpec("height", "float", "metres above the object's top", default=0.10, low=0.03, high=0.4),
            SPEED),
    preconditions=(exists("target"),),
    postconditions=(Condition("tool is at the goal", lambda c: float(
        np.linalg.norm(c.arm.ee_pose().position - goal_position(c))) < TOLERANCE),),
    timeout_s=8.0,
    scripted=lambda: WaypointPolicy(_waypoints),
    learning=LearningSpec("SkillStack/Reach-v0", "skill_lib.learning.envs.reach:ReachEnv",
                          "skill_lib.learning.policy:LearnedMoveTo"),
)
