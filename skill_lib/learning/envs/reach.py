"""Reach (the move_to skill): bring the tool centre point to a goal point above the table."""
from __future__ import annotations

import numpy as np

from skill_lib.controllers import OPEN
from skill_lib.learning.envs.base import SkillEnv
from skill_lib.spec import ACTION_SCALE


class ReachEnv(SkillEnv):
    max_steps = 50

    def _sample_goal(self) -> np.ndarray:
        # Anywhere the tool can get to pointing down, the tray 40 cm to the left included: a box corner
        # such as (0.75, 0.45) is 87 cm from the base, beyond reach (even the scripted controller missed
        # 5 % of goals sampled from the whole box), so goals are drawn from a ring around the base.
        while True:
            goal = self.np_random.uniform([0.25, -0.45, 0.05], [0.72, 0.45, 0.35])
            if 0.3 <= np.hypot(goal[0], goal[1]) <= 0.72:
                return goal

    def _achieved(self) -> np.ndarray:
        return self.arm.ee_pose().position

    def expert_action(self) -> np.ndarray:
        """The scripted move_to as a function of the state (for noisy demonstrations): straight at the goal,
        saturated at the action limit, still once within 5 mm."""
        error = self.goal - self.arm.ee_pose().position
        move = np.zeros(3) if np.linalg.norm(error) <= 0.005 else np.clip(error / ACTION_SCALE, -1.0, 1.0)
        return np.append(move, OPEN).astype(np.float32)

    def demonstrator(self):
        from skill_lib.controllers import Waypoint, WaypointPolicy
        goal = self.goal.astype(float)
        return WaypointPolicy(lambda ctx: [Waypoint(goal, OPEN, tolerance=0.005, max_steps=self.max_steps)])
