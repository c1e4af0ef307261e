"""Pick: grasp the cube and lift it to a goal point above its start."""
from __future__ import annotations

import numpy as np

from skill_lib.learning.envs.base import SkillEnv


class PickEnv(SkillEnv):
    max_steps = 60
    distance_threshold = 0.03
    cube_box = ((0.33, -0.27), (0.65, 0.27))  # every cube of the default scene, with its jitter
    #: where the hand starts (x, y, z min; max): where an earlier skill may have left it
    hand_box = ((0.30, -0.25, 0.12), (0.60, 0.25, 0.35))

    def _setup_episode(self) -> None:
        # Start where an earlier skill may have left the hand (after a place, a push, a pull), not only
        # at home: trained from home alone, the policy knocked cubes away from other starts.
        start = self.np_random.uniform(*self.hand_box)
        for _ in range(40):
            self.arm.command_ee(start)
            self.arm.step()
            if np.linalg.norm(self.arm.ee_pose().position - start) < 0.01:
                break

    def _sample_goal(self) -> np.ndarray:
        cube = self.arm.object("cube").position
        return np.array([cube[0], cube[1], cube[2] + self.np_random.uniform(0.08, 0.15)])

    def _achieved(self) -> np.ndarray:
        return self.arm.object("cube").position

    def demonstrator(self):
        from skill_lib.controllers import CLOSED, Waypoint, WaypointPolicy
        from skill_lib.skills import pick

        goal = self.goal.astype(float)
        return WaypointPolicy(lambda ctx: pick._waypoints(ctx)[:3] + [Waypoint(goal, CLOSED, tolerance=0.01,
                                                                                 speed=0.6)])

    def skill_context(self):
        from skill_lib.skills import pick
        from skill_lib.spec import SkillContext
        return SkillContext(self.arm, self.arm, pick.SKILL.bind({"object": "cube"}))
