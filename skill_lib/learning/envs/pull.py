"""Pull: grasp the drawer's handle, pull the drawer out to a goal, let go and lift the hand clear of it.

The training object is the scenes' cabinet (config/objects/drawer.urdf): its closed drawer anywhere in the object box
(the `object_box` option; default DRAWER_BOX), the cabinet unturned (opening towards the robot, as in every scene: the
world reports a drawer's bounding box, from which the handle is found only on an unturned one), the drawer closed or
already partly open (a correction's "pull it further" starts there), the hand anywhere in HAND_BOX. The observation
shows the handle where the other environments show the cube (its position; the drawer's size; whether the fingers
touch it), and goals are the handle pulled out along the drawer's axis, 2 cm to the end of its travel.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from typing import Any

import numpy as np

from hardware.resources import config_dir
from hardware.scene import ObjectSpec, SceneSpec
from skill_lib.controllers import CLOSED, gripper_action_for_width
from skill_lib.learning.envs.base import SkillEnv
from skill_lib.skills import pull
from skill_lib.spec import ACTION_SCALE

DRAWER_URDF = "objects/drawer.urdf"
#: where the closed drawer's centre stands ((x, y) min, max): the scenes' cabinet (0.66, 0.22) and across the table
#: within reach of its handle pulled all the way out
DRAWER_BOX = ((0.58, -0.25), (0.70, 0.25))
#: a drawer starts closed in half the episodes, else open by up to this share of its travel
START_OPENING = 0.6
#: where the hand starts ((x, y, z) min, max): home (0.36 m up) and where a pick or place leaves it, above the cabinet
HAND_BOX = ((0.30, -0.30, 0.20), (0.60, 0.30, 0.36))
#: the hand counts as clear of the drawer this high above its top, the fingers off it: the pull's end state
CLEAR = 0.03
#: the expert pulls the hand at most this far ahead of where it is, each step (metres)
PULL_LEAD = 0.01
#: a hand this far from the handle's centre has slipped along the bar: the expert lets go and grasps it again
SLIPPED = 0.007
#: how much wider than the handle bar closed fingers may be and still hold it
HELD_SLACK = 0.006


@cache
def drawer_geometry() -> tuple[float, tuple[float, ...]]:
    """(travel, drawer size) of the cabinet in DRAWER_URDF, metres: the slide's upper limit; the drawer box's size
    (along the pull, across it, height)."""
    root = ET.parse(config_dir() / DRAWER_URDF).getroot()
    limit, box = root.find("joint/limit"), root.find("link[@name='drawer']/collision/geometry/box")
    return float(limit.attrib["upper"]), tuple(float(v) for v in box.attrib["size"].split())


def drawer_scene() -> SceneSpec:
    spec = ObjectSpec(name="drawer", category="drawer", color="white", position=(0.66, 0.22),
                      urdf=str(config_dir() / DRAWER_URDF), articulated=True)
    return SceneSpec(name="learning", jitter=0.0, objects=(spec,))


class PullEnv(SkillEnv):
    max_steps = 100  # the state-based expert needs up to 70 steps, 94 with the recipe's noise (it grasps again)
    distance_threshold = 0.02  # the pull skill's postcondition
    cube_box = DRAWER_BOX  # per environment: the `object_box` option

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cube_edges=(0.0,), **kwargs)
        self._travel, _ = drawer_geometry()

    def _scene(self, edge: float, kind: str = "cube") -> SceneSpec:
        return drawer_scene()

    def _place_object(self, kind: str, edge: float) -> None:
        # The pose set is the cabinet's (its centre of mass); the world reports the drawer. Set the cabinet where
        # drawn, then shift it so that the closed drawer stands there, as high as it was built.
        centre = np.append(self.np_random.uniform(*self.cube_box), self.arm.object("drawer").position[2])
        self.arm.set_object_pose("drawer", centre)
        self.arm.set_object_pose("drawer", 2 * centre - self.arm.object("drawer").position)
        if self.np_random.random() < 0.5:
            self.arm.set_opening("drawer", float(self.np_random.uniform(0.05, START_OPENING)))

    def _setup_episode(self) -> None:
        self._start_hand(self.np_random.uniform(*HAND_BOX))

    def _observed(self) -> tuple[np.ndarray, np.ndarray, bool]:
        drawer = self.arm.object("drawer")
        return pull.handle_position(drawer), drawer.half_extents * 2, self.arm.contacts("gripper", "drawer")

    def _sample_goal(self) -> np.ndarray:
        drawer = self.arm.object("drawer")
        left = (1.0 - float(drawer.opening)) * self._travel
        # a few goals at the end of the travel exactly: "open the drawer" asks for more than is left
        distance = min(float(self.np_random.uniform(pull.DISTANCE.bounds[0], left + 0.03)), left)
        self.tool_yaw = pull.tool_yaw(drawer)
        return pull.handle_position(drawer) + np.append(pull.pull_direction(drawer) * distance, 0.0)

    def _achieved(self) -> np.ndarray:
        return pull.handle_position(self.arm.object("drawer"))

    def _let_go(self) -> bool:
        drawer = self.arm.object("drawer")
        return not self.arm.contacts("gripper", "drawer") and self.arm.ee_pose().position[2] > drawer.top_z + CLEAR

    def expert_action(self) -> np.ndarray:
        """The pull controller as a function of the current state alone (noisy demonstrations): above the handle,
        down around it with the fingers ajar, close, pull along the drawer's axis until the handle is at the goal,
        open to ajar and rise clear."""
        drawer = self.arm.object("drawer")
        hand, width = self.arm.ee_pose().position, self.arm.gripper_width()
        handle, direction = pull.handle_position(drawer), pull.pull_direction(drawer)
        ajar = gripper_action_for_width(pull.GRASP_WIDTH, self.arm.gripper_max_width)
        touching = self.arm.contacts("gripper", "drawer")
        closing = self._last_action[3] < 0.0
        above = np.append(handle[:2], drawer.top_z + CLEAR + 0.03)
        if float((self.goal - handle)[:2] @ direction) <= pull.LEAD:  # there: let go, then rise clear
            if touching or width < pull.GRASP_WIDTH - 0.005:
                return np.array([0.0, 0.0, 0.0, ajar], dtype=np.float32)
            target, speed, grip = np.append(hand[:2], above[2]), 0.5, ajar
        elif closing and touching and width <= pull.HANDLE_DEPTH + HELD_SLACK and \
                np.linalg.norm(hand - handle) <= SLIPPED:
            # holding the handle: pull by what is left, a step at a time (a hand that runs ahead slips along the bar)
            left = float((self.goal - handle)[:2] @ direction)
            target = np.append(hand[:2] + direction * min(left, PULL_LEAD), handle[2])
            speed, grip = 0.4, CLOSED
        elif closing and (touching or width < pull.HANDLE_DEPTH - 0.004):  # slipped, or closed on nothing: open
            return np.array([0.0, 0.0, 0.0, ajar], dtype=np.float32)
        elif closing or np.linalg.norm(hand - handle) <= 0.004:  # around the handle: close, keep still
            return np.array([0.0, 0.0, 0.0, CLOSED], dtype=np.float32)
        elif np.linalg.norm(hand[:2] - handle[:2]) <= 0.015:  # above it (or beside it, ajar): straight at it
            target, speed, grip = handle, 0.4, ajar
        elif hand[2] < drawer.top_z + CLEAR:  # low beside the handle: up first
            target, speed, grip = np.append(hand[:2], above[2]), 1.0, ajar
        else:  # over to above it
            target, speed, grip = above, 1.0, ajar
        move = np.clip((target - hand) / ACTION_SCALE, -speed, speed)
        return np.append(move, grip).astype(np.float32)

    def demonstrator(self):
        from skill_lib.controllers import WaypointPolicy

        drawer = self.arm.object("drawer")
        distance = float((self.goal - pull.handle_position(drawer))[:2] @ pull.pull_direction(drawer))
        self._demo_params = {"object": "drawer", "distance": max(distance, pull.DISTANCE.bounds[0])}
        return WaypointPolicy(pull._waypoints)

    def skill_context(self):
        from skill_lib.spec import SkillContext
        return SkillContext(self.arm, self.arm, pull.SKILL.bind(self._demo_params))
