"""Push: slide the cube on the table to a goal position (gripper kept closed by the policy)."""
from __future__ import annotations

import numpy as np

from skill_lib.learning.envs.base import SkillEnv


class PushEnv(SkillEnv):
    max_steps = 100  # the scripted push needs 60-110 steps: approach from behind, turn the hand, push
    distance_threshold = 0.03

    def _sample_goal(self) -> np.ndarray:
        # Along x or y, as the push skill is asked (direction + distance), and inside the reach box.
        cube = self.arm.object("cube").position
        while True:
            goal = cube.copy()
            axis = int(self.np_random.integers(2))
            goal[axis] += self.np_random.uniform(0.05, 0.15) * self.np_random.choice([-1.0, 1.0])
            if np.all(goal[:2] >= [0.3, -0.25]) and np.all(goal[:2] <= [0.7, 0.25]):
                return goal

    def _achieved(self) -> np.ndarray:
        return self.arm.object("cube").position

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        # The hand turns so the flat finger edges push, as the push skill does.
        direction, _ = self._direction_and_distance()
        self.tool_yaw = float(np.pi / 2 if direction in ("left", "right") else
                              (np.pi if direction == "backward" else 0.0))
        return obs, info

    def _direction_and_distance(self) -> tuple[str, float]:
        delta = (self.goal - self.arm.object("cube").position)[:2]
        axis = int(np.argmax(np.abs(delta)))
        names = (("backward", "forward"), ("right", "left"))[axis]
        return names[int(delta[axis] > 0)], float(abs(delta[axis]))

    def demonstrator(self):
        from skill_lib.controllers import WaypointPolicy
        from skill_lib.skills import push

        direction, distance = self._direction_and_distance()
        policy = WaypointPolicy(push._waypoints)
        self._demo_params = {"object": "cube", "direction": direction, "distance": distance}
        return policy

    def skill_context(self):
        from skill_lib.spec import SkillContext
        from skill_lib.skills import push
        return SkillContext(self.arm, self.arm, push.SKILL.bind(self._demo_params))
