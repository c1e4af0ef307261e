"""Place: starting with the cube in hand, set it down at a goal and let go: on the table or on top of a
tower of one or two 5 cm cubes (stacking), the goal being where the held cube's centre comes to rest."""
from __future__ import annotations

import dataclasses

import numpy as np

from hardware.scene import ObjectSpec, SceneSpec
from skill_lib.learning.envs.base import SkillEnv, cube_scene
from skill_lib.runner import run_skill
from skill_lib.skills import pick, place

TOWER_EDGE = 0.05
#: where unused tower cubes wait: on the table, out of the arm's reach
PARKED = ((0.95, 0.45), (0.95, -0.45))
TOWER_SLOP = 0.012  # metres one tower cube may sit off the one below
CLEARANCE = 0.04  # metres of air between the held cube and the tower while carrying (demonstrator)


class PlaceEnv(SkillEnv):
    max_steps = 70
    distance_threshold = 0.025
    cube_box = ((0.33, -0.27), (0.65, 0.27))

    def _scene(self, edge: float) -> SceneSpec:
        scene = cube_scene(edge)
        tower = tuple(ObjectSpec(name=f"tower_{i}", category="cube", color="blue", position=xy, edge=TOWER_EDGE)
                      for i, xy in enumerate(PARKED))
        return dataclasses.replace(scene, objects=scene.objects + tower)

    def _setup_episode(self) -> None:
        cube = self.arm.object("cube").position
        while True:  # the goal's footprint must leave the cube room to be picked
            xy = self.np_random.uniform(*self.cube_box)
            if np.linalg.norm(xy - cube[:2]) > 0.09:
                break
        height = int(self.np_random.integers(3))  # cubes under the goal: 0 (table), 1 or 2
        # Towers the robot built are neither aligned nor square: each cube sits up to TOWER_SLOP off the one
        # below and turned. Perfect towers only made a place that missed on the scene's second level.
        top = xy.copy()
        for i in range(2):
            if i < height:
                top = top + (self.np_random.uniform(-TOWER_SLOP, TOWER_SLOP, 2) if i else 0.0)
                self.arm.set_object_pose(f"tower_{i}", [top[0], top[1], TOWER_EDGE * (i + 0.5) + 0.001],
                                         yaw=float(self.np_random.uniform(-0.4, 0.4)))
            else:
                self.arm.set_object_pose(f"tower_{i}", [*PARKED[i], TOWER_EDGE / 2 + 0.001])
        xy = top
        # The start state is the end of a pick, produced by the scripted pick skill.
        run_skill(pick.SKILL, {"object": "cube"}, self.arm, self.arm)
        edge = float(self.arm.object("cube").half_extents[2] * 2)
        self._goal = np.array([xy[0], xy[1], height * TOWER_EDGE + edge / 2])

    def _sample_goal(self) -> np.ndarray:
        return self._goal

    def _achieved(self) -> np.ndarray:
        return self.arm.object("cube").position

    def _let_go(self) -> bool:
        # open, off the cube, and back above it: a hand left hovering at the cube's side is not done
        cube = self.arm.object("cube")
        return not self.arm.contacts("gripper", "cube") and \
            self.arm.ee_pose().position[2] > cube.top_z + place.HAND_CLEAR

    def demonstrator(self):
        from skill_lib.controllers import CLOSED, OPEN, Waypoint, WaypointPolicy

        goal = self.goal.astype(float)

        def waypoints(ctx):
            tcp = ctx.arm.ee_pose().position
            held = ctx.world.object("cube")
            grip = tcp[2] - held.position[2]
            release = goal + np.array([0.0, 0.0, grip + 0.006])
            carry = max(tcp[2], goal[2] + held.half_extents[2] * 2 + CLEARANCE + grip)
            return [Waypoint(np.array([tcp[0], tcp[1], carry]), CLOSED, tolerance=0.015),
                    Waypoint(np.array([release[0], release[1], carry]), CLOSED, tolerance=0.008),
                    Waypoint(release, CLOSED, speed=0.4, tolerance=0.004, hold_steps=2),
                    Waypoint(release, OPEN, tolerance=0.01, hold_steps=4),
                    Waypoint(release + np.array([0.0, 0.0, place.RETREAT]), OPEN, tolerance=0.015)]
        return WaypointPolicy(waypoints)
