"""Place: starting with the cube in hand, set it down at a goal and let go, the goal being where the held cube's
centre comes to rest.

What it is set down on is an option (`targets`, TrainConfig.env_options), any of TARGETS:
- "table": a free spot on the table;
- "cube": on top of a tower of one or two 5 cm cubes (stacking);
- "beside": a spot on the table next to one or two 5 cm cubes (a place "to the left of", "between" ...);
- "container": a spot on the floor of a tray (pybullet_data's traybox at scale 0.3 or 0.4, where the scenes' trays
  and bins come from), with up to two 5 cm cubes in it already (packing).
The default, ("table", "cube"), is the environment the first place policies were trained in, draw for draw. So is
the episode limit unless the `steps` option says otherwise (STEPS).

With the `guarded` option the policy's actions pass through the ReleaseGuard the skill layer's learned place runs
them through on the arm, so that it trains on the hand it will have there (default off: the first policies'
environment).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hardware.arm import ArmInterface, WorldView
from hardware.scene import ObjectSpec, SceneSpec
from skill_lib.controllers import CLOSED, gripper_action_for_width, towards
from skill_lib.learning.envs.base import OBJECT_BOX, SkillEnv, chosen, cube_scene, trained_steps
from skill_lib.runner import run_skill
from skill_lib.skills import pick, place

#: the episode limit unless the `steps` option says otherwise: what the first place policies were trained with
STEPS = 70
TOWER_EDGE = 0.05
#: where unused tower cubes wait: on the table, out of the arm's reach
PARKED = ((0.95, 0.45), (0.95, -0.45))
TOWER_SLOP = 0.012  # metres one tower cube may sit off the one below
CLEARANCE = 0.04  # metres of air between the held cube and the tower while carrying (demonstrator)

TARGETS = ("table", "cube", "beside", "container")
DEFAULT_TARGETS = ("table", "cube")
#: an episode's kind, drawn uniformly from those whose target is trained: "cube1"/"cube2" are towers of one and
#: two cubes. The default targets draw exactly as the first environment did (its tower height, 0-2)
KINDS = (("table", "table"), ("cube1", "cube"), ("cube2", "cube"), ("beside", "beside"), ("container", "container"))
#: the containers: name -> traybox scale, and where each waits when not used (on the table, out of reach)
CONTAINERS = {"tray": (0.4, (1.1, 0.25)), "bin": (0.3, (1.1, -0.25))}
#: half the traybox's rim width at scale 1 (metres; measured: 0.121 at scale 0.4, 0.091 at 0.3)
TRAYBOX_HALF = 0.3025
#: where a container's centre goes, (x, y) min and max: the scenes' trays and bins, at the table's sides or middle
CONTAINER_BOX = ((0.42, -0.42), (0.60, 0.42))
#: where a spot beside other cubes goes (x, y): the area the planner sets things down in on the table, less a margin
BESIDE_BOX = ((0.32, -0.33), (0.68, 0.33))
#: air between the placed cube's footprint and a neighbour's (covers planners/placement.py's BESIDE_GAP and its slack)
BESIDE_AIR = (0.03, 0.07)
#: air between footprints on a container's floor (planners/placement.py's GAP), and between the floor's edge and one
PACKING_GAP = 0.012


def trained_targets(env_options: Mapping[str, Any]) -> tuple[str, ...]:
    """What an environment with these options (TrainConfig.env_options) sets cubes down on, checked."""
    return chosen(env_options.get("targets", DEFAULT_TARGETS), TARGETS, "place targets")


def _floor_reach(container_half: np.ndarray, held_half: float) -> np.ndarray:
    """How far (x, y) from a container's centre the centre of a cube of half edge `held_half` may go on its floor."""
    return container_half[:2] * place.FLOOR_FRACTION - PACKING_GAP - held_half


class ReleaseGuard:
    """What a learned place is not left to choose, the same in its environment (the `guarded` option) and on the arm
    (skill_lib/learning/policy.py's LearnedPlace). The fingers open only as wide as the scripted place opens them
    (place.release_width: fully open, they push a neighbour), and never with the held object more than RELEASE_WITHIN
    from its goal on any axis (a fine-tuned policy opened the hand once in 40 scene places, rising at full speed from
    a pick's end state). Once they have let go, the hand rises straight clear, as the scripted place's does."""

    RELEASE_WITHIN = 0.03  # metres

    def __init__(self, arm: ArmInterface) -> None:
        """At the start of a place, the object in hand."""
        self.width = place.release_width(arm)
        self.let_go_at: np.ndarray | None = None  # where the hand let go, once it has

    def __call__(self, arm: ArmInterface, world: WorldView, held: str, goal: np.ndarray,
                 action: np.ndarray) -> np.ndarray:
        tcp = arm.ee_pose().position
        release = gripper_action_for_width(self.width, arm.gripper_max_width)
        # open (the fingers stop within a few mm of a width command) and off the object: it has let go
        if self.let_go_at is None and arm.gripper_width() > self.width - 0.003 and not world.contacts("gripper", held):
            self.let_go_at = tcp.copy()
        if self.let_go_at is not None:
            aim = np.append(self.let_go_at[:2], world.object(held).top_z + place.HAND_CLEAR + 0.02)
            return towards(aim, tcp, release, action.dtype)
        action = action.copy()
        if np.any(np.abs(world.object(held).position - goal) > self.RELEASE_WITHIN):
            action[3] = CLOSED
        action[3] = min(float(action[3]), release)
        return action


class PlaceEnv(SkillEnv):
    max_steps = STEPS  # per environment: the `steps` option
    distance_threshold = 0.025
    cube_box = OBJECT_BOX
    targets = DEFAULT_TARGETS  # per environment: the `targets` option

    def __init__(self, *, targets: Sequence[str] = DEFAULT_TARGETS, guarded: bool = False, steps: int = STEPS,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_steps = trained_steps({"steps": steps}, STEPS)
        self.targets = trained_targets({"targets": targets})
        if not isinstance(guarded, bool):
            raise ValueError(f"place option guarded must be true or false, not {guarded!r}")
        self.guarded = guarded
        self._guard: ReleaseGuard | None = None  # this episode's, when guarded
        self._kinds = tuple(kind for kind, target in KINDS if target in self.targets)
        self._container_z: dict[str, float] = {}  # base height that sets a container on the table
        self.container: str | None = None  # this episode's container, if any
        self.target = self.targets[0]  # what this episode sets the cube down on: one of TARGETS

    def _scene(self, edge: float, kind: str = "cube") -> SceneSpec:
        scene = cube_scene(edge, kind)
        tower = tuple(ObjectSpec(name=f"tower_{i}", category="cube", color="blue", position=xy, edge=TOWER_EDGE)
                      for i, xy in enumerate(PARKED))
        containers = tuple(ObjectSpec(name=name, category=name, color="white", position=xy, urdf="tray/traybox.urdf",
                                      scale=scale, container=True)
                           for name, (scale, xy) in CONTAINERS.items()) if "container" in self.targets else ()
        return dataclasses.replace(scene, objects=scene.objects + tower + containers)

    def _setup_episode(self) -> None:
        cube = self.arm.object("cube").position
        while True:  # the goal's footprint must leave the cube room to be picked
            xy = self.np_random.uniform(*self.cube_box)
            if np.linalg.norm(xy - cube[:2]) > 0.09:
                break
        kind = self._kinds[int(self.np_random.integers(len(self._kinds)))]
        self.target = dict(KINDS)[kind]
        obj = self.arm.object("cube")
        # the object's footprint, what spots beside others and on container floors are spaced by (a cube's: its edge,
        # computed as it always was, so that cube episodes draw as before)
        edge = float(obj.half_extents[2] * 2) if obj.category == "cube" else float(np.max(obj.half_extents[:2]) * 2)
        for i in range(2):
            self.arm.set_object_pose(f"tower_{i}", [*PARKED[i], TOWER_EDGE / 2 + 0.001])
        self.container = None
        if kind in ("table", "cube1", "cube2"):
            xy, z = self._tower(xy, 0 if kind == "table" else int(kind[-1]))
        elif kind == "beside":
            xy, z = self._beside(cube, edge), 0.0
        else:
            xy, z = self._in_container(cube, edge)
        # The start state is the end of a pick, produced by the scripted pick skill.
        run_skill(pick.SKILL, {"object": "cube"}, self.arm, self.arm)
        held = float(self.arm.object("cube").half_extents[2])  # as it is held: a cube tilted in the hand is taller
        self._goal = np.array([xy[0], xy[1], z + held])
        self._guard = ReleaseGuard(self.arm) if self.guarded else None

    def _executed(self, action: np.ndarray) -> np.ndarray:
        return self._guard(self.arm, self.arm, "cube", self.goal, action) if self._guard else action

    def _tower(self, xy: np.ndarray, height: int) -> tuple[np.ndarray, float]:
        """Cubes under the goal: 0 (the table), 1 or 2. Towers the robot built are neither aligned nor square: each
        cube sits up to TOWER_SLOP off the one below and turned (perfect towers only made a place that missed on the
        scene's second level)."""
        top = xy.copy()
        for i in range(height):
            top = top + (self.np_random.uniform(-TOWER_SLOP, TOWER_SLOP, 2) if i else 0.0)
            self.arm.set_object_pose(f"tower_{i}", [top[0], top[1], TOWER_EDGE * (i + 0.5) + 0.001],
                                     yaw=float(self.np_random.uniform(-0.4, 0.4)))
        return top, height * TOWER_EDGE

    def _beside(self, cube: np.ndarray, edge: float) -> np.ndarray:
        """A spot on the table with a cube beside it (and, half the time, another on the opposite side: "between"),
        each BESIDE_AIR from the spot's footprint along x or y."""
        while True:
            xy = self.np_random.uniform(*BESIDE_BOX)
            axis = np.eye(2)[int(self.np_random.integers(2))] * self.np_random.choice([-1.0, 1.0])
            sides = (1.0, -1.0) if self.np_random.random() < 0.5 else (1.0,)
            # each BESIDE_AIR out along the side's axis, up to 1.5 cm across it (axis[::-1] is zero along it)
            neighbours = [xy + s * axis * (edge / 2 + TOWER_EDGE / 2 + self.np_random.uniform(*BESIDE_AIR))
                          + self.np_random.uniform(-0.015, 0.015, 2) * axis[::-1] for s in sides]
            (x0, y0), (x1, y1) = BESIDE_BOX
            inside = all(x0 - 0.05 <= n[0] <= x1 + 0.05 and y0 - 0.05 <= n[1] <= y1 + 0.05 for n in neighbours)
            if inside and all(np.linalg.norm(p - cube[:2]) > 0.09 for p in [xy, *neighbours]):
                break
        for i, n in enumerate(neighbours):
            self.arm.set_object_pose(f"tower_{i}", [n[0], n[1], TOWER_EDGE / 2 + 0.001],
                                     yaw=float(self.np_random.uniform(-0.4, 0.4)))
        return xy

    def _in_container(self, cube: np.ndarray, edge: float) -> tuple[np.ndarray, float]:
        """A spot on the floor of the tray or the bin, set down somewhere clear of the cube, with 0-2 cubes in it."""
        names = tuple(CONTAINERS)
        self.container = name = names[int(self.np_random.integers(len(names)))]
        for other in names:
            self._move_container(other, CONTAINERS[other][1])
        while True:  # clear of the cube to be picked, by 3 cm along x or y
            centre = self.np_random.uniform(*CONTAINER_BOX)
            self._move_container(name, centre)
            box = self.arm.object(name)
            if np.max(np.abs(cube[:2] - centre) - box.half_extents[:2]) > edge / 2 + 0.03:
                break
        taken: list[tuple[np.ndarray, float]] = []  # (centre, half edge) on the floor
        for half in (edge / 2, TOWER_EDGE / 2, TOWER_EDGE / 2)[:1 + int(self.np_random.integers(3))]:
            reach = _floor_reach(box.half_extents, half)
            for _ in range(50):
                spot = centre + self.np_random.uniform(-reach, reach)
                if all(np.max(np.abs(spot - c) - (half + h)) >= PACKING_GAP for c, h in taken):
                    taken.append((spot, half))
                    break
        floor = place.container_floor_z(box)
        for i, (spot, _) in enumerate(taken[1:]):
            self.arm.set_object_pose(f"tower_{i}", [spot[0], spot[1], floor + TOWER_EDGE / 2 + 0.001],
                                     yaw=float(self.np_random.uniform(-0.3, 0.3)))
        return taken[0][0], floor

    def _move_container(self, name: str, xy: Sequence[float]) -> None:
        if name not in self._container_z:  # where its base goes so that its bottom is 1 mm above the table
            self.arm.set_object_pose(name, [xy[0], xy[1], 0.0])
            self._container_z[name] = 0.001 - self.arm.object(name).bottom_z
        self.arm.set_object_pose(name, [xy[0], xy[1], self._container_z[name]])

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
        # carry clear of a container's rim (the goal is on its floor) or of a tower
        rim = self.arm.object(self.container).top_z if self.container else 0.0

        def waypoints(ctx):
            tcp = ctx.arm.ee_pose().position
            held = ctx.world.object("cube")
            grip = tcp[2] - held.position[2]
            release = goal + np.array([0.0, 0.0, grip + 0.006])
            carry = max(tcp[2], goal[2] + held.half_extents[2] * 2 + CLEARANCE + grip,
                        rim + held.half_extents[2] * 2 + CLEARANCE + grip)
            return [Waypoint(np.array([tcp[0], tcp[1], carry]), CLOSED, tolerance=0.015),
                    Waypoint(np.array([release[0], release[1], carry]), CLOSED, tolerance=0.008),
                    Waypoint(release, CLOSED, speed=0.4, tolerance=0.004, hold_steps=2),
                    Waypoint(release, OPEN, tolerance=0.01, hold_steps=4),
                    Waypoint(release + np.array([0.0, 0.0, place.RETREAT]), OPEN, tolerance=0.015)]
        return WaypointPolicy(waypoints)
