"""Reach (the move_to skill): bring the tool centre point to a goal point above the table."""
from __future__ import annotations

import numpy as np

from skill_lib.learning.envs.base import SkillEnv


class ReachEnv(SkillEnv):
    max_steps = 50

    def _sample_goal(self) -> np.ndarray:
        return self.np_random.uniform([0.35, -0.2, 0.05], [0.65, 0.2, 0.3])

    def _achieved(self) -> np.ndarray:
        return self.arm.ee_pose().position

    def demonstrator(self):
        from skill_lib.controllers import OPEN, Waypoint, WaypointPolicy
        goal = self.goal.astype(float)
        return WaypointPolicy(lambda ctx: [Waypoint(goal, OPEN, tolerance=0.005, max_steps=self.max_steps)])
