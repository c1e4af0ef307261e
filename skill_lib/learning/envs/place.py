"""Place: starting with the cube in hand, set it down at a goal on the table and let go."""
from __future__ import annotations

import numpy as np

from skill_lib.learning.envs.base import SkillEnv
from skill_lib.runner import run_skill
from skill_lib.skills import pick


class PlaceEnv(SkillEnv):
    max_steps = 60
    distance_threshold = 0.025

    def _setup_episode(self) -> None:
        # The start state is the end of a pick, produced by the scripted pick skill.
        run_skill(pick.SKILL, {"object": "cube"}, self.arm, self.arm)

    def _sample_goal(self) -> np.ndarray:
        edge = float(self.arm.object("cube").half_extents[2] * 2)
        xy = self.np_random.uniform([0.38, -0.15], [0.62, 0.15])
        return np.array([xy[0], xy[1], edge / 2])

    def _achieved(self) -> np.ndarray:
        return self.arm.object("cube").position

    def _let_go(self) -> bool:
        return not self.arm.contacts("gripper", "cube")

    def demonstrator(self):
        from skill_lib.controllers import CLOSED, OPEN, Waypoint, WaypointPolicy

        goal = self.goal.astype(float)

        def waypoints(ctx):
            tcp = ctx.arm.ee_pose().position
            grip = tcp[2] - ctx.world.object("cube").position[2]
            release = goal + np.array([0.0, 0.0, grip + 0.006])
            return [Waypoint(np.array([release[0], release[1], tcp[2]]), CLOSED, tolerance=0.008),
                    Waypoint(release, CLOSED, speed=0.4, tolerance=0.004, hold_steps=2),
                    Waypoint(release, OPEN, tolerance=0.01, hold_steps=4),
                    Waypoint(release + np.array([0.0, 0.0, 0.08]), OPEN, tolerance=0.015)]
        return WaypointPolicy(waypoints)
