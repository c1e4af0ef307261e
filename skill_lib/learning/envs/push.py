"""Push: slide the cube on the table to a goal position (gripper kept closed by the policy)."""
from __future__ import annotations

import numpy as np

from skill_lib.learning.envs.base import SkillEnv


class PushEnv(SkillEnv):
    max_steps = 60
    distance_threshold = 0.03

    def _sample_goal(self) -> np.ndarray:
        cube = self.arm.object("cube").position
        offset = self.np_random.uniform(0.05, 0.15) * self.np_random.choice([-1.0, 1.0])
        axis = int(self.np_random.integers(2))
        goal = cube.copy()
        goal[axis] += offset
        goal[:2] = np.clip(goal[:2], [0.3, -0.25], [0.7, 0.25])
        return goal

    def _achieved(self) -> np.ndarray:
        return self.arm.object("cube").position
