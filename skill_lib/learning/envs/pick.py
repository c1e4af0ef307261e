"""Pick: grasp the cube and lift it to a goal point above its start; a mug (the `objects` option) by its handle.

A mug stands turned any way, its handle in the object box, and the tool turns to its handle's grasp yaw (as the pick
skill does for a grasp point): the hand starts turned so, and the policy sees the handle's grasp point where it sees a
cube's centre. The episode limit is an option (`steps`, default STEPS, TrainConfig.env_options), and so is where the
hand starts (`hand_box`: its min and max (x, y, z) corners, metres; the default is HAND_BOX, the box the first pick
policies were trained from).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from skill_lib.controllers import CLOSED, OPEN
from skill_lib.learning.envs.base import OBJECT_BOX, OBJECT_KINDS, SkillEnv, corners, trained_steps
from skill_lib.skills import pick
from skill_lib.spec import ACTION_SCALE


#: how much wider than the cube the fingers may be and still hold it (they close on its faces)
HELD_SLACK = 0.004
#: how wide the fingers are, closed on the mug's handle (measured: 1.37-1.44 cm)
MUG_HANDLE = 0.014
#: where the hand starts (x, y, z min; max) unless asked for another box: where an earlier skill on the table may
#: have left it (home, 0.36 m up, is just above it)
HAND_BOX = ((0.30, -0.25, 0.12), (0.60, 0.25, 0.35))


#: the episode limit unless the `steps` option says otherwise: what the first pick policies were trained with
STEPS = 60


def trained_hand_box(env_options: Mapping[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The box the hand starts in for an environment with these options (TrainConfig.env_options), checked
    (ValueError: not two (x, y, z) corners with min < max)."""
    return corners(env_options.get("hand_box", HAND_BOX), 3, "pick hand_box")


class PickEnv(SkillEnv):
    max_steps = STEPS  # per environment: the `steps` option
    distance_threshold = 0.03
    cube_box = OBJECT_BOX
    hand_box = HAND_BOX  # per environment: the `hand_box` option
    object_kinds = OBJECT_KINDS

    def __init__(self, *, hand_box: Sequence[Sequence[float]] = HAND_BOX, steps: int = STEPS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hand_box = trained_hand_box({"hand_box": hand_box})
        self.max_steps = trained_steps({"steps": steps}, STEPS)

    def _setup_episode(self) -> None:
        # Start where an earlier skill may have left the hand (after a place, a push, a pull), not only
        # at home: trained from home alone, the policy knocked cubes away from other starts.
        self.tool_yaw = self._grasp()[1]
        self._start_hand(self.np_random.uniform(*self.hand_box), self.tool_yaw)

    def _place_object(self, kind: str, edge: float) -> None:
        if kind != "mug":
            return super()._place_object(kind, edge)
        while True:  # its body's axis at (x, y), turned by yaw, its handle in the object box
            x, y = self.np_random.uniform(*self.cube_box)
            yaw = float(self.np_random.uniform(-np.pi, np.pi))
            self.arm.set_object_pose("cube", [x, y, 0.1], yaw=yaw)
            (x0, y0), (x1, y1) = self.cube_box
            handle = self._grasp()[0]
            if x0 <= handle[0] <= x1 and y0 <= handle[1] <= y1:
                break
        self.arm.set_object_pose("cube", [x, y, 0.101 - self.arm.object("cube").bottom_z], yaw=yaw)  # on the table

    def _grasp(self) -> tuple[np.ndarray, float]:
        """Where the fingers close on this episode's object, and the tool's yaw (pick.grasp_pose)."""
        return pick.grasp_pose(self.arm.object("cube"), "handle" if self.kind == "mug" else "")

    def _observed(self) -> tuple[np.ndarray, np.ndarray, bool]:
        cube = self.arm.object("cube")
        return self._achieved(), cube.half_extents * 2, self.arm.contacts("gripper", "cube")

    def _sample_goal(self) -> np.ndarray:
        start = self._achieved()
        return np.array([start[0], start[1], start[2] + self.np_random.uniform(0.08, 0.15)])

    def _achieved(self) -> np.ndarray:
        """The cube's centre; a mug's handle grasp point."""
        return self._grasp()[0] if self.kind == "mug" else self.arm.object("cube").position

    def expert_action(self) -> np.ndarray:
        """The pick controller as a function of the current state alone: over the cube, down to its grasp
        height, close, and once the fingers hold it, up to the goal. The waypoint follower's phase (how long
        it has waited at the grasp point) is invisible to a policy, and with an exact IK the hand rests there
        in states that are the same with either label, so its clones learned when to close poorly."""
        cube = self.arm.object("cube")
        hand = self.arm.ee_pose().position
        grasp = self._grasp()[0]
        closing = self._last_action[3] < 0.0
        held = closing and self.arm.contacts("gripper", "cube") and \
            self.arm.gripper_width() <= (MUG_HANDLE if self.kind == "mug" else 2 * cube.half_extents[1]) + HELD_SLACK
        if held:  # lift to the goal, then hold still there
            error = self.goal - hand
            move = np.zeros(3) if np.linalg.norm(error) <= 0.005 else np.clip(error / ACTION_SCALE, -0.6, 0.6)
            return np.append(move, CLOSED).astype(np.float32)
        if closing or np.linalg.norm(hand - grasp) <= 0.004:  # at the grasp point: close, keep still
            return np.array([0.0, 0.0, 0.0, CLOSED], dtype=np.float32)
        if np.linalg.norm(hand[:2] - grasp[:2]) <= 0.01:  # above it: straight down
            target, speed = grasp, 0.5
        else:  # over to above it, high enough to clear the cube
            target, speed = np.array([grasp[0], grasp[1], cube.top_z + pick.APPROACH]), 1.0
        move = np.clip((target - hand) / ACTION_SCALE, -speed, speed)
        return np.append(move, OPEN).astype(np.float32)

    def demonstrator(self):
        from skill_lib.controllers import Waypoint, WaypointPolicy

        goal = self.goal.astype(float)
        return WaypointPolicy(lambda ctx: pick._waypoints(ctx)[:3] + [Waypoint(goal, CLOSED, tolerance=0.01,
                                                                                 speed=0.6)])

    def skill_context(self):
        from skill_lib.skills import pick
        from skill_lib.spec import SkillContext
        return SkillContext(self.arm, self.arm, pick.SKILL.bind(
            {"object": "cube", "grasp_point": "handle" if self.kind == "mug" else ""}))
