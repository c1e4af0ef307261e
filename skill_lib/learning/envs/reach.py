"""Reach (the move_to skill): bring the tool centre point to a goal point above the table.

Whether the hand may start holding the cube is an option (`held`, TrainConfig.env_options: the share of episodes
that start from the end of a scripted pick, keeping the cube to the goal); the default, 0, is the environment the
first reach policies were trained in, draw for draw. So is where an empty hand starts (`hand_box`: its min and max
(x, y, z) corners, metres): by default at home with the fingers open, as the first reach policies were trained; with
a box, anywhere in it with the fingers at any width, as a push (closed), a place (open at its release width) or a
gripper skill leaves them, and the hand keeps that width, as the move_to skill keeps the gripper as it is.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from skill_lib.controllers import CLOSED, OPEN, gripper_action_for_width
from skill_lib.learning.envs.base import SkillEnv, corners
from skill_lib.skills import move_to
from skill_lib.spec import ACTION_SCALE

#: steps the fingers get to reach an episode's drawn width before it starts (closing fully takes about 10)
WIDTH_STEPS = 15


def trained_held(env_options: Mapping[str, Any]) -> float:
    """The share of episodes that start with the cube in hand, for an environment with these options, checked."""
    value = env_options.get("held", 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"reach held must be a share of episodes, 0-1, not {value!r}")
    return float(value)


def trained_hand_box(env_options: Mapping[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """Where an empty hand starts in an environment with these options (None: at home, the fingers open), checked."""
    value = env_options.get("hand_box")
    return None if value is None else corners(value, 3, "reach hand_box")


class ReachEnv(SkillEnv):
    max_steps = 50
    distance_threshold = move_to.TOLERANCE  # success as the skill's postcondition judges it

    def __init__(self, *, held: float = 0.0, hand_box: Sequence[Sequence[float]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.held = trained_held({"held": held})
        self.hand_box = trained_hand_box({"hand_box": hand_box})
        self.holding = False  # this episode started with the cube in hand
        self._grip = OPEN  # the gripper action the hand keeps this episode (closed on a held cube)

    def _setup_episode(self) -> None:
        self.holding = self.held > 0.0 and bool(self.np_random.random() < self.held)
        self._grip = CLOSED if self.holding else OPEN
        if self.holding:
            from skill_lib.runner import run_skill
            from skill_lib.skills import pick

            run_skill(pick.SKILL, {"object": "cube"}, self.arm, self.arm)
        elif self.hand_box is not None:
            width = float(self.np_random.uniform(0.0, self.arm.gripper_max_width))
            for _ in range(WIDTH_STEPS):
                self.arm.command_gripper(width)
                self.arm.step()
            self._start_hand(self.np_random.uniform(*self.hand_box))
            self._grip = gripper_action_for_width(self.arm.gripper_width(), self.arm.gripper_max_width)

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

    def _let_go(self) -> bool:
        # a reach that started holding the cube is done only with the cube still held (move_to keeps the hand as it is)
        return not self.holding or self.arm.contacts("gripper", "cube")

    def expert_action(self) -> np.ndarray:
        """The scripted move_to as a function of the state (for noisy demonstrations): straight at the goal,
        saturated at the action limit, still once within 5 mm; the fingers closed on the cube it holds, else as the
        episode started them (open, without a `hand_box`)."""
        error = self.goal - self.arm.ee_pose().position
        move = np.zeros(3) if np.linalg.norm(error) <= 0.005 else np.clip(error / ACTION_SCALE, -1.0, 1.0)
        return np.append(move, self._grip).astype(np.float32)

    def demonstrator(self):
        from skill_lib.controllers import Waypoint, WaypointPolicy
        goal = self.goal.astype(float)
        grip = self._grip
        return WaypointPolicy(lambda ctx: [Waypoint(goal, grip, tolerance=0.005, max_steps=self.max_steps)])
