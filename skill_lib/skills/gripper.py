"""open_gripper / close_gripper: move only the fingers."""
from __future__ import annotations

from skill_lib.controllers import CLOSED, OPEN, Waypoint, WaypointPolicy
from skill_lib.spec import Condition, SkillContext, SkillSpec

OPEN_WIDTH = 0.07


def _hold(gripper: float):
    def plan(ctx: SkillContext) -> list[Waypoint]:
        return [Waypoint(ctx.arm.ee_pose().position, gripper, tolerance=0.02, hold_steps=10)]
    return plan


def _closed(ctx: SkillContext) -> bool:
    """Fully closed, or closed on something it is holding."""
    if ctx.arm.gripper_width() < 0.005:
        return True
    return any(ctx.world.contacts("gripper", name) for name in ctx.world.objects())


OPEN_GRIPPER = SkillSpec(
    name="open_gripper",
    description="open the gripper fingers and release whatever is held",
    phrasings=("open the gripper", "release the object", "let go", "open your hand"),
    params=(), preconditions=(),
    postconditions=(Condition("gripper is open", lambda c: c.arm.gripper_width() > OPEN_WIDTH),),
    timeout_s=3.0,
    scripted=lambda: WaypointPolicy(_hold(OPEN)),
)

CLOSE_GRIPPER = SkillSpec(
    name="close_gripper",
    description="close the gripper fingers",
    phrasings=("close the gripper", "shut the fingers", "close your hand", "squeeze"),
    params=(), preconditions=(),
    postconditions=(Condition("gripper is closed", _closed),),
    timeout_s=3.0,
    scripted=lambda: WaypointPolicy(_hold(CLOSED)),
)
