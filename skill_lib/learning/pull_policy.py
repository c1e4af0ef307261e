"""The pull skill's policy-slot adapter: a trained pull policy driving the drawer scene's cabinet (its environment is
skill_lib/learning/envs/pull.py)."""
from __future__ import annotations

import numpy as np

from hardware.types import quaternion_yaw
from skill_lib.learning.policy import HAND_MARGIN, LearnedPolicy, trained_area
from skill_lib.spec import SkillContext


class LearnedPull(LearnedPolicy):
    """pull driven by the pull policy: goal = the drawer's handle pulled out by `distance` along the drawer's axis, to
    the end of its travel at most (re-read every step, so "pull it further" mid-pull moves the goal); done once the
    handle is there and the hand has let go of it, clear above the drawer: the end state its environment trains. It
    takes what its environment trains on: the scenes' cabinet, unturned, its closed drawer within the checkpoint's
    object box (AREA_MARGIN wider), open by at most the environment's START_OPENING, the hand starting within its
    HAND_BOX (HAND_MARGIN wider)."""

    tolerance = 0.02  # the environment's success radius
    #: a cabinet turned more than this (radians) is not one the policy trained on
    TURNED = 0.02
    #: how far a drawer's size (across the pull, and its height) may differ from the trained one's (metres)
    SIZE_SLACK = 0.005

    def __init__(self, agent) -> None:
        from skill_lib.learning.envs.pull import DRAWER_BOX, PullEnv

        super().__init__(agent)
        self.max_steps = PullEnv.max_steps
        self.area = trained_area(self.env_options, DRAWER_BOX)

    def declines(self, world, params: dict, tool: np.ndarray | None = None) -> str | None:
        from skill_lib.learning.envs import pull as env
        from skill_lib.skills.pull import pull_direction

        drawer = world.object(params["object"])
        if drawer.opening is None:
            return f"the learned pull was trained on a drawer, and {drawer.name} is none"
        travel, trained_size = env.drawer_geometry()
        if abs(quaternion_yaw(drawer.orientation)) > self.TURNED:
            return f"the learned pull was trained on cabinets that open towards the robot, and {drawer.name} is turned"
        size = drawer.half_extents * 2  # across the pull and its height: along it, the bounding box has the handle
        if np.any(np.abs(size[1:] - trained_size[1:]) > self.SIZE_SLACK):
            return f"the learned pull was trained on the scenes' cabinet, not {drawer.name} ({size[1] * 100:.0f} cm " \
                   f"wide, {size[2] * 100:.0f} cm high)"
        if drawer.opening > env.START_OPENING + 0.05:
            return f"the learned pull was trained on drawers open by at most {env.START_OPENING:.0%}"
        closed = drawer.position[:2] - pull_direction(drawer) * drawer.opening * travel
        (x0, y0), (x1, y1) = self.area
        if not (x0 <= closed[0] <= x1 and y0 <= closed[1] <= y1):
            return f"drawer {drawer.name} is outside the area the learned policy was trained on"
        lo, hi = (np.asarray(corner) for corner in env.HAND_BOX)
        if tool is not None and not np.all((lo - HAND_MARGIN <= tool) & (tool <= hi + HAND_MARGIN)):
            return f"the hand starts at ({', '.join(f'{v:.2f}' for v in tool)}), outside where the learned pull " \
                   "was trained to start from"
        return None

    def reset(self, ctx: SkillContext) -> None:
        from skill_lib.learning.envs.pull import drawer_geometry
        from skill_lib.skills import pull

        drawer = ctx.world.object(ctx.params["object"])
        ctx.memory["start"] = drawer.position.copy()  # the skill's postcondition measures the pull from here
        self._handle, self._direction = pull.handle_position(drawer), pull.pull_direction(drawer)
        self._left = (1.0 - float(drawer.opening)) * drawer_geometry()[0]  # travel left to the joint's limit
        self.tool_yaw = pull.tool_yaw(drawer)
        super().reset(ctx)

    def _goal(self, ctx: SkillContext) -> np.ndarray:
        return self._handle + np.append(self._direction * min(float(ctx.params["distance"]), self._left), 0.0)

    def act(self, ctx: SkillContext) -> np.ndarray:
        self.goal = self._goal(ctx).astype(np.float32)
        return super().act(ctx)

    def _object(self, ctx: SkillContext) -> tuple[np.ndarray, np.ndarray, bool]:
        drawer = ctx.world.object(ctx.params["object"])
        return self._achieved(ctx), drawer.half_extents * 2, ctx.world.contacts("gripper", drawer.name)

    def _achieved(self, ctx: SkillContext) -> np.ndarray:
        from skill_lib.skills.pull import handle_position

        return handle_position(ctx.world.object(ctx.params["object"]))

    def _reached(self, ctx: SkillContext) -> bool:
        from skill_lib.learning.envs.pull import CLEAR

        drawer = ctx.world.object(ctx.params["object"])
        return super()._reached(ctx) and not ctx.world.contacts("gripper", drawer.name) and \
            ctx.arm.ee_pose().position[2] > drawer.top_z + CLEAR
