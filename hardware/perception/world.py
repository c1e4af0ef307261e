"""A WorldView on what the camera sees: object states from tabletop perception, for a task run in-process on
the simulated arm (`skillstack run --perception`), so skills and goals run on perceived states while the
simulator is only the arm and the camera.

What perception cannot see comes from the arm's own sensing: the gripper says whether it holds something (as
a real gripper's object detection does), perception which object the hand closed on; that object then moves
with the tool (the hand hides it from the camera). An arm that cannot tell (`gripper_holds()` is None, as over
ROS) holds something when its fingers closed and stopped short of meeting (wider than HOLD_MIN_WIDTH); fingers
that meet held nothing, whatever they seemed to hold while closing. Contacts between objects are geometric (boxes that
meet within CONTACT_GAP); a released object drops onto what is under it. Frames are taken every `period`
seconds of the camera's clock, not at every question a skill asks.

An arm that says which robot it is (`robot_config`) has its body posed from its joint readings (robot_filter):
left out of each frame, kept clear of objects (one the hand runs into, hidden behind it, moves ahead of it:
a push), and touching what its fingers meet (as a simulator's contacts say, and learned skills were trained on).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from hardware.arm import HOLD_MIN_WIDTH, RELEASE_OPENING, ArmInterface, WorldView
from hardware.camera import DepthNoise, RGBDFrame
from hardware.perception.robot_filter import RobotBody, robot_model
from hardware.perception.tracker import Perception
from hardware.robots import RobotConfig
from hardware.types import ObjectState

#: two boxes this close (metres, on every axis) touch; a bottom this close to the table rests on it
CONTACT_GAP = 0.006
#: the fingers touch an object whose box is this close to their bodies (the box is measured within a few mm)
FINGER_GAP = 0.003
#: the hand closed on the object whose box its tool centre is within this of (the fingers around it)
GRASP_REACH = 0.02
#: a hidden object the hand runs into moves ahead of it by whole steps of this (metres), at most PUSH_LIMIT
#: (farther in than that, the object was not where this world had it: it stays)
PUSH_STEP = 0.002
PUSH_LIMIT = 0.05
#: objects this near the tool (metres, horizontally) are checked against the robot's body: the hand's reach
PUSH_REACH = 0.15
#: points on a box's faces (a 5 x 5 grid on each, 98 in all), for a box of half extents 1
_GRID = np.stack(np.meshgrid(*[np.linspace(-1.0, 1.0, 5)] * 3), -1).reshape(-1, 3)
_FACES = _GRID[np.abs(_GRID).max(axis=1) == 1.0]


class RGBDCamera(Protocol):
    """What the world needs of a camera: frames, and the time they are taken at (PyBulletArm has both)."""

    sim_time: float

    def rgbd(self, width: int | None = None, height: int | None = None, noise: DepthNoise | None = None,
             frame_index: int = 0) -> RGBDFrame: ...


@dataclass
class _Held:
    #: the object as it stood before the hand took it (its size, orientation)
    state: ObjectState
    #: the object's centre relative to the tool when the fingers closed on it
    offset: np.ndarray
    #: the gripper's width then
    width: float


class PerceivedWorld(WorldView):
    def __init__(self, camera: RGBDCamera, arm: ArmInterface, perception: Perception, *, period: float = 0.1,
                 noise: DepthNoise | None = None) -> None:
        self.camera, self.arm, self.perception = camera, arm, perception
        self.period, self.noise = period, noise
        self.frames = 0
        self._taken_at: float | None = None
        self._states: dict[str, ObjectState] = {}
        self._held: _Held | None = None
        self._standing: dict[str, ObjectState] = {}
        #: the widest the gripper has been since it last let go
        self._widest = arm.gripper_width()
        # the arm's own body, left out of what the camera sees (an arm that does not say which robot it is: kept)
        robot = getattr(arm, "robot_config", None)
        self._robot = robot_model(robot) if isinstance(robot, RobotConfig) else None
        #: where the tool was when objects were last checked against the robot's body
        self._tool: np.ndarray | None = None

    def objects(self) -> dict[str, ObjectState]:
        now, seen = self.camera.sim_time, set()
        if self._taken_at is None or now - self._taken_at >= self.period - 1e-9:
            self._taken_at = now
            body = None if self._robot is None else self._robot.body(*self._arm_at_frame())
            result = self.perception.update(self.camera.rgbd(noise=self.noise, frame_index=self.frames), body)
            self.frames += 1
            # only what is seen now: an object out of sight (in the hand, behind the arm, in a stack) keeps the
            # state this world last gave it (held, set down) for as long as the task runs
            self._states.update((name, result.objects[name]) for name in result.detections)
            seen = set(result.detections)
            if not self._holds(self.arm.gripper_width()):  # the last state of each object standing on something
                self._standing.update((name, result.objects[name]) for name in result.detections)
        self._push_aside(seen)
        self._follow_the_hand()
        return dict(self._states)

    def _arm_at_frame(self) -> tuple[np.ndarray, float]:
        """The joints and finger width when the frame was taken. A camera on topics knows them (`arm_at_frame`:
        its frames lag the arm, and a moving arm would be left out where it no longer is); a simulated one
        renders now."""
        at_frame = getattr(self.camera, "arm_at_frame", None)
        if at_frame is not None:
            return at_frame()
        return self.arm.joint_state().positions, self.arm.gripper_width()

    def _push_aside(self, seen: set[str]) -> None:
        """Between frames and behind the hand, no object can be where the robot's body is: one the hand ran into
        (a cube it pushes, hidden behind it) moved ahead of it. Checked whenever the tool has moved sideways,
        on the objects near it that this frame did not see."""
        if self._robot is None:
            return
        tool = self.arm.ee_pose().position
        if self._tool is not None and np.linalg.norm(tool[:2] - self._tool[:2]) < PUSH_STEP:
            return
        motion, self._tool = (None if self._tool is None else tool - self._tool), tool
        held = self._held.state.name if self._held is not None else None
        near = [n for n, o in self._states.items() if n not in seen and n != held and _loose(o)
                and np.linalg.norm(o.position[:2] - tool[:2]) < PUSH_REACH]
        if motion is None or not near:
            return
        body = self._robot.body(self.arm.joint_state().positions, self.arm.gripper_width())
        standing = not self._holds(self.arm.gripper_width())
        for name in near:
            pushed = _pushed_out(self._states[name], body, motion)
            if pushed is not self._states[name]:
                self._states[name] = pushed
                if standing:
                    self._standing[name] = pushed

    def _follow_the_hand(self) -> None:
        """What the hand holds: it closes on something when the gripper's own object detection says so
        (`gripper_holds`), on the perceived object nearest the tool, and lets go when the fingers open past the
        width they closed to (contact readings flicker while an object is carried; the width does not)."""
        tool, width = self.arm.ee_pose().position, self.arm.gripper_width()
        if self._held is not None and width <= HOLD_MIN_WIDTH:  # the fingers met: they held nothing
            self._states[self._held.state.name] = self._held.state
            self._held = None
        if self._held is not None and width > self._held.width + RELEASE_OPENING:
            self._settle(self._held.state.name)
            self._held, self._widest = None, width
        if self._held is None:
            # a grasp is the fingers closing on something: narrower than they have been open since the last
            # one (contact readings alone flicker while the fingers open around what they let go of)
            self._widest = max(self._widest, width)
            if width > self._widest - RELEASE_OPENING or not self._holds(width):
                return
            # by footprint, among where objects last stood (one in the air is measured as a box down to the
            # table): the grasp may be noticed only once the hand has lifted, as a skill asks the world at its
            # start and end
            near = [o for o in self._standing.values() if _loose(o)
                    and np.all(np.abs(tool[:2] - o.position[:2]) <= o.half_extents[:2] + GRASP_REACH)]
            if not near:
                return
            obj = min(near, key=lambda o: float(np.linalg.norm(tool[:2] - o.position[:2])))
            lifted = abs(tool[2] - obj.position[2]) > obj.half_extents[2] + GRASP_REACH
            # lifted: between the fingertips, where the skills grasp (pick: at the object's centre)
            self._held = _Held(obj, np.zeros(3) if lifted else obj.position - tool, width)
        held = self._held.state
        self._states[held.name] = replace(held, position=tool + self._held.offset)

    def _holds(self, width: float) -> bool:
        holds = self.arm.gripper_holds()
        if holds is None:  # closed from its widest, and stopped short of meeting
            return HOLD_MIN_WIDTH < width <= self._widest - RELEASE_OPENING
        return holds

    def _settle(self, name: str) -> None:
        """A released object drops onto what is under it (the camera often cannot measure a stack: the object
        on top is seen as a tall box down to the table)."""
        obj = self._states[name]
        under = [o.top_z for o in self._states.values() if o.name != name and not o.is_container
                 and np.all(np.abs(o.position[:2] - obj.position[:2]) < o.half_extents[:2])
                 and o.top_z <= obj.bottom_z + CONTACT_GAP]
        support = max(under, default=0.0)
        self._states[name] = replace(obj, position=np.array([*obj.position[:2], support + obj.half_extents[2]]))

    def contacts(self, a: str, b: str) -> bool:
        states = self.objects()
        if "gripper" in (a, b):
            other = b if a == "gripper" else a
            if self._held is not None and self._held.state.name == other:
                return True
            return other in states and self._fingers_touch(states[other])
        if "table" in (a, b):
            other = b if a == "table" else a
            return other in states and states[other].bottom_z < CONTACT_GAP
        if a not in states or b not in states:
            return False
        oa, ob = states[a], states[b]
        apart = np.abs(oa.position - ob.position) - (oa.half_extents + ob.half_extents)
        return bool(np.all(apart <= CONTACT_GAP))

    def _fingers_touch(self, obj: ObjectState) -> bool:
        """The fingers' bodies (as the joint readings pose them) meet the object's box: a push's contact."""
        if self._robot is None or obj.is_container:
            return False
        body = self._robot.body(self.arm.joint_state().positions, self.arm.gripper_width())
        return bool(body.contains(_FACES * obj.half_extents + obj.position, FINGER_GAP, fingers_only=True).any())

    def is_grasped(self, name: str) -> bool:
        self.objects()
        return self._held is not None and self._held.state.name == name


def _loose(obj: ObjectState) -> bool:
    """An object the hand can carry or push: not a container (fixed in the scenes), not a drawer (it moves on
    its joint, which perception measures: a hand on its handle pulls it, does not carry it)."""
    return not obj.is_container and obj.opening is None


def _pushed_out(obj: ObjectState, body: RobotBody, motion: np.ndarray) -> ObjectState:
    """No object is where the robot's body now is: one the hand ran into (a cube it pushes, hidden behind it)
    moved ahead of it, out of the body (its collision mesh, unpadded) by the least distance
    along one of its sides' normals that face the hand's motion (a push on a face moves the box along it)."""
    surface = _FACES * obj.half_extents + obj.position
    if not body.contains(surface, padding=0.0).any():
        return obj
    normals = [n for n in ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)) if np.dot(n, motion[:2]) > 0]
    for k in range(1, round(PUSH_LIMIT / PUSH_STEP) + 1):
        for n in normals:
            shift = np.array([*n, 0.0]) * k * PUSH_STEP
            if not body.contains(surface + shift, padding=0.0).any():
                return replace(obj, position=obj.position + shift)
    return obj
